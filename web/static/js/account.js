// The caller's own account: display name, passphrase, signed-in browsers.

import { h, enc, busy, toast, confirmDialog, when, field, section } from "./ui.js";
import { api, post, del, me } from "./api.js";
import { pushSupported, enablePush, disablePush } from "./push.js";
import { PUSH_KEY } from "./agent.js";

/** "Firefox on Linux" from a User-Agent; the whole string stays in the title. */
function device(ua) {
  const b = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox" : /Chrome\/|CriOS/.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : "";
  const o = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Mac OS X/.test(ua) ? "macOS" : /Windows/.test(ua) ? "Windows" : /Linux/.test(ua) ? "Linux" : "";
  return b || o ? `${b || "Browser"}${o ? ` on ${o}` : ""}` : ua || "Unknown browser";
}

export default async function mount(root, _params, pg) {
  const nameIn = h("input", { tid: "profile-name", autocomplete: "name", value: me.name });
  const saveName = h("button", { type: "submit", class: "btn primary", tid: "profile-save" }, "Save");
  const oldIn = h("input", { tid: "pass-old", type: "password", autocomplete: "current-password" });
  const newIn = h("input", { tid: "pass-new", type: "password", autocomplete: "new-password", minlength: 8 });
  const savePass = h("button", { type: "submit", class: "btn primary", tid: "pass-save" }, "Change passphrase");
  const browsers = h("ul", { class: "rows" });

  const profile = h("form", { class: "form" },
    h("p", {}, "Username: ", h("strong", {}, me.username)),
    field("pname", "Display name", nameIn), saveName);
  const pass = h("form", { class: "form", novalidate: true },
    field("pold", "Current passphrase", oldIn),
    field("pnew", "New passphrase", newIn, "8 characters or more. Your other browsers are signed out."), savePass);

  root.append(h("div", { class: "page narrow" }, h("h1", {}, "Account"),
    section("Profile", profile),
    section("Passphrase", pass),
    section("Notifications on this device", pushBox()),
    section("Tokens", h("p", {}, h("a", { href: "/tokens" }, "Manage your API tokens"), " for the CLI and scripts.")),
    section("Signed-in browsers", browsers)));

  function pushBox() {
    if (!pushSupported()) {
      return h("p", { class: "muted", tid: "push-status" }, "This browser cannot get push notifications here: Web Push needs HTTPS (or localhost) and a browser that supports it.");
    }
    const status = h("p", { tid: "push-status" });
    const btn = h("button", { class: "btn", tid: "push-toggle", onclick: async () => {
      const on = btn.dataset.on !== "true";
      if (await busy(btn, async () => { await (on ? enablePush(device(navigator.userAgent)) : disablePush()); return true; }, on ? "Push notifications on" : "Push notifications off")) {
        localStorage.setItem(PUSH_KEY, on ? "on" : "off");
        paint(on);
      }
    } });
    const paint = (on) => {
      btn.dataset.on = String(on);
      btn.textContent = on ? "Turn off on this device" : "Turn on for this device";
      status.textContent = on
        ? "This device gets a notification when a session you follow (the 🔔 on a session) needs you."
        : "Off: this device gets no push notifications.";
    };
    paint(false);
    navigator.serviceWorker.getRegistration("/").then((r) => r?.pushManager.getSubscription()).then((sub) => paint(!!sub), () => {});
    return h("div", {}, status, btn);
  }

  profile.addEventListener("submit", async (e) => {
    e.preventDefault();
    const r = await busy(saveName, () => post("/api/account/profile", { name: nameIn.value.trim() }), "Profile saved");
    if (r) {
      me.name = r.user.name;
      document.getElementById("who").textContent = me.name && me.name !== me.username ? `${me.name} (${me.username})` : me.username;
    }
  });
  pass.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (newIn.value.length < 8) return toast("The new passphrase needs 8 characters or more.", "error");
    const r = await busy(savePass, () => post("/api/account/passphrase", { oldPassphrase: oldIn.value, newPassphrase: newIn.value }),
      "Passphrase changed; your other browsers were signed out.");
    if (r) { oldIn.value = newIn.value = ""; load(); }
  });

  async function load() {
    const list = await api("/api/account/sessions", { signal: pg.signal });
    list.sort((a, b) => b.current - a.current);
    browsers.replaceChildren(...list.map((s) => {
      const end = h("button", { class: "btn sm danger", "aria-label": `Sign out ${device(s.userAgent)}` }, "Sign out");
      end.addEventListener("click", async () => {
        if (s.current && !(await confirmDialog("Sign this browser out?", "Sign out"))) return;
        if (!(await busy(end, () => del(`/api/account/sessions/${enc(s.id)}`), "Signed out"))) return;
        if (s.current) location.assign("/login");
        else load();
      });
      return h("li", { class: "row-item", tid: "browser-session-row", "data-id": s.id },
        h("div", { class: "grow" },
          h("strong", { title: s.userAgent }, device(s.userAgent)), s.current ? h("span", { class: "badge ok" }, "this browser") : null,
          h("p", { class: "muted small" }, `signed in ${when(s.createdAt)} · last seen ${when(s.lastSeenAt)}`)),
        end);
    }));
  }
  await load();
}
