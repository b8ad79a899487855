// Admin: user accounts.

import { h, enc, busy, toast, confirmDialog, ask, when, field, plural, lines, section } from "../js/ui.js";
// Stateful helpers come from the app through mount's third argument (web/README.md, "On-demand pages").
let api, post, patch, del, me, onSessions, changed;

export default async function mount(root, _params, pg) {
  ({ api, post, patch, del, me, onSessions, changed } = pg);
  const uname = h("input", { tid: "user-create-username", autocomplete: "off", autocapitalize: "none", spellcheck: "false", pattern: "[a-z0-9_-]{1,32}" });
  const name = h("input", { tid: "user-create-name", autocomplete: "off" });
  const pass = h("input", { tid: "user-create-pass", type: "password", autocomplete: "new-password" });
  const admin = h("input", { type: "checkbox", tid: "user-create-admin" });
  const create = h("button", { type: "submit", class: "btn primary", tid: "user-create" }, "Create user");
  const count = h("span", { class: "muted" });
  const list = h("ul", { class: "rows" });
  const form = h("form", { class: "card form", novalidate: true },
    h("h2", {}, "New user"),
    field("uname", "Username", uname, "Lower-case letters, digits, '_' and '-'."),
    field("uname2", "Display name", name),
    field("upass", "Initial passphrase", pass, "8 characters or more; they can change it on their Account page."),
    h("label", { class: "check" }, admin, "Admin"), create);
  // Non-admins' sessions started before the sandbox existed: they move into it when restarted.
  const loose = h("ul", { class: "rows" });
  const looseCard = section("Sessions running outside the sandbox", h("p", { class: "hint" }, "Restarted, each runs confined."), loose);
  looseCard.hidden = true;
  let admins = new Set();
  let sessions = [];
  root.append(h("div", { class: "page" }, h("h1", {}, "Users"), looseCard,
    h("section", { class: "card" }, h("div", { class: "bar" }, h("h2", {}, "Accounts"), count), list), form));

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { username: uname.value.trim(), name: name.value.trim() || null, passphrase: pass.value, admin: admin.checked };
    if (await busy(create, () => post("/api/admin/users", body), `Created ${body.username}`)) {
      uname.value = name.value = pass.value = "";
      admin.checked = false;
      load();
    }
  });

  function drawLoose() {
    const l = sessions.filter((s) => s.owner && s.status === "running" && !s.confined && !admins.has(s.owner));
    looseCard.hidden = !l.length;
    loose.replaceChildren(...l.map((s) => {
      const b = h("button", { class: "btn sm", tid: "unconfined-restart", "aria-label": `Restart ${s.name}` }, "Restart");
      b.onclick = () => busy(b, () => post(`/api/sessions/${enc(s.name)}/respawn`), `Restarted ${s.name}`).then(changed);
      return h("li", { class: "row-item", tid: "unconfined-row", "data-name": s.name },
        h("span", { class: "grow" }, h("strong", {}, s.name.split("@")[0]), ` of ${s.owner}`), b);
    }));
  }

  // A non-admin's sandbox: the workspace roots it writes and how many sessions they may have.
  function iso(u) {
    const id = u.username;
    const roots = h("textarea", { rows: 2, tid: "user-roots" });
    roots.value = u.roots.join("\n");
    const max = h("input", { type: "number", min: 1, tid: "user-max", placeholder: "no limit" });
    max.value = u.maxSessions ?? "";
    const err = h("p", { class: "ferr", tid: "user-iso-error", role: "alert", hidden: true });
    const save = h("button", { type: "submit", class: "btn primary", tid: "user-iso-save" }, "Save");
    const def = h("button", { class: "btn", tid: "user-iso-default", onclick: () => send({ roots: [] }) }, "Use the default workspace");
    const send = (body) => busy([save, def], async () => {
      err.hidden = true;
      try { await patch(`/api/admin/users/${enc(id)}`, body); } catch (e) { err.textContent = e.message; return (err.hidden = false); }
      toast(`Saved ${id}`);
      load();
    });
    return h("details", { class: "iso" },
      h("summary", {}, `Workspace: ${u.roots.join(", ")} · ${u.maxSessions ? `at most ${plural(u.maxSessions, "session")}` : "no session limit"}`),
      h("form", { class: "form", novalidate: true, onsubmit: (e) => { e.preventDefault(); send({ roots: lines(roots.value), maxSessions: max.value ? +max.value : null }); } },
        field(`r-${id}`, "Workspace roots, one per line", roots), field(`m-${id}`, "Most sessions", max), err, h("div", { class: "row" }, save, def)));
  }

  function row(u) {
    const self = u.username === me.username;
    const toggle = h("input", { type: "checkbox", tid: "user-admin-toggle", checked: u.admin, "aria-label": `${u.username} is an admin` });
    const reset = h("button", { class: "btn sm", tid: "user-reset", "aria-label": `Reset the passphrase of ${u.username}` }, "Reset passphrase");
    const remove = h("button", { class: "btn sm danger", tid: "user-delete", disabled: self, title: self ? "You cannot delete yourself" : null, "aria-label": `Delete ${u.username}` }, "Delete");
    toggle.addEventListener("change", async () => {
      const want = toggle.checked;
      if (self && !want && !(await confirmDialog("Remove your own admin rights? You lose access to this page.", "Remove"))) { toggle.checked = true; return; }
      const r = await busy(toggle, () => patch(`/api/admin/users/${enc(u.username)}`, { admin: want }),
        `${u.username} ${want ? "is now an admin" : "is no longer an admin"}`);
      if (!r) toggle.checked = !want;
      else if (self && !want) location.assign("/");
      else load();
    });
    reset.addEventListener("click", async () => {
      const p = await ask({ title: `Reset the passphrase of ${u.username}`, label: "New passphrase", type: "password", ok: "Reset", tid: "reset",
        hint: "8 characters or more. Their browser sessions are signed out." });
      if (p == null) return;
      if (p.length < 8) return toast("The passphrase needs 8 characters or more.", "error");
      await busy(reset, () => patch(`/api/admin/users/${enc(u.username)}`, { passphrase: p }), `Passphrase of ${u.username} reset`);
    });
    remove.addEventListener("click", async () => {
      if (!(await confirmDialog(`Delete the user ${u.username}? Their tokens and browser sessions are revoked and their sessions end.`, "Delete"))) return;
      if (await busy(remove, () => del(`/api/admin/users/${enc(u.username)}`), `Deleted ${u.username}`)) load();
    });
    return h("li", { class: "row-item", tid: "user-row", "data-username": u.username },
      h("div", { class: "grow" },
        h("strong", {}, u.username), " ", self ? h("span", { class: "badge" }, "you") : null,
        u.admin ? h("span", { class: "badge warnb" }, "admin") : null,
        h("p", { class: "muted small" }, `${u.name} · created ${when(u.createdAt)}`),
        u.admin && h("p", { class: "muted small" }, "Runs as the daemon's user (not confined)")),
      h("span", { class: "acts" }, h("label", { class: "check" }, toggle, "Admin"), reset, remove), !u.admin && iso(u));
  }

  async function load() {
    const users = await api("/api/admin/users", { signal: pg.signal });
    count.textContent = plural(users.length, "user");
    list.replaceChildren(...users.map(row));
    admins = new Set(users.filter((u) => u.admin).map((u) => u.username));
    drawLoose();
  }
  await load();
  pg.cleanup(onSessions((l) => { sessions = l; drawLoose(); }));
}
