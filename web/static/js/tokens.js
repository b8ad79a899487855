// Pair a device (a one-time code, no token), and API tokens: mint (value shown once),
// rename, revoke.

import { h, enc, busy, toast, confirmDialog, ask, when, copyBtn, field, plural } from "./ui.js";
import { api, post, patch, del, me } from "./api.js";
import { pairSection } from "./pair.js";

export default async function mount(root, _params, pg) {
  const nameIn = h("input", { tid: "token-name", autocomplete: "off", placeholder: "e.g. laptop-cli" });
  const scope = h("select", { tid: "token-scope" },
    h("option", { value: "user" }, "user — everything you can do with your sessions"),
    h("option", { value: "read-only" }, "read-only — list, read and watch"),
    me.admin ? h("option", { value: "admin" }, "admin — everything, including administration") : null);
  const expiry = h("input", { tid: "token-expiry", type: "datetime-local" });
  const create = h("button", { type: "submit", class: "btn primary", tid: "token-create" }, "Create token");
  const shown = h("div", { class: "card once", hidden: true, role: "region", "aria-label": "New token" });
  const everyone = h("input", { type: "checkbox", onchange: load });
  const list = h("ul", { class: "rows" });
  const revokeAll = h("button", { class: "btn sm danger", onclick: () => revokeMine(revokeAll) }, "Revoke all my tokens");

  const form = h("form", { class: "card form", novalidate: true },
    h("h2", {}, "New token"),
    field("tname", "Name", nameIn, "A label to recognise it by (optional)."),
    field("tscope", "Scope", scope),
    field("texp", "Expires (optional)", expiry, "Leave empty for a token that does not expire."),
    create);
  root.append(h("div", { class: "page" }, h("h1", {}, "Tokens"),
    h("p", { class: "muted" }, "Tokens let the llmux CLI and scripts on other machines use this daemon: ",
      h("code", {}, "llmux --server URL --token TOKEN session list"), "."),
    pairSection("Sign your phone or tablet in as you with a one-time code: no passphrase to type, no token to keep."),
    shown, form,
    h("section", { class: "card" },
      h("div", { class: "bar" }, h("h2", {}, "Your tokens"),
        me.admin ? h("label", { class: "check" }, everyone, "Everyone's") : null, revokeAll),
      list)));

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { scope: scope.value };
    if (nameIn.value.trim()) body.name = nameIn.value.trim();
    if (expiry.value) {
      const t = new Date(expiry.value);
      if (Number.isNaN(t.getTime())) return toast("The expiry date is not valid.", "error");
      body.expiresAt = t.toISOString();
    }
    const r = await busy(create, () => post("/api/tokens", body));
    if (!r) return;
    showOnce(r);
    nameIn.value = expiry.value = "";
    load();
  });

  function showOnce(r) {
    shown.replaceChildren(
      h("h2", {}, `Token “${r.token.name}” created`),
      h("p", { class: "warn" }, "Copy it now: the token is shown only once."),
      h("div", { class: "secret" }, h("code", { tid: "token-value" }, r.value), copyBtn(r.value)),
      h("button", { class: "btn", onclick: () => { shown.hidden = true; shown.replaceChildren(); } }, "Done"));
    shown.hidden = false;
    shown.scrollIntoView({ block: "nearest" });
  }

  function row(t) {
    const label = t.name || "(unnamed)";
    const expired = t.expiresAt && Date.parse(t.expiresAt) < Date.now();
    const rename = h("button", { class: "btn sm", tid: "token-rename", "aria-label": `Rename ${label}` }, "Rename");
    const revoke = h("button", { class: "btn sm danger", tid: "token-revoke", "aria-label": `Revoke ${label}` }, "Revoke");
    rename.addEventListener("click", async () => {
      const v = await ask({ title: "Rename token", label: "Name", value: t.name, ok: "Rename", tid: "rename" });
      if (v == null || !v.trim()) return;
      if (await busy(rename, () => patch(`/api/tokens/${enc(t.id)}`, { name: v.trim() }), "Token renamed")) load();
    });
    revoke.addEventListener("click", async () => {
      if (!(await confirmDialog(`Revoke the token ${label}? Anything using it loses access at once.`, "Revoke"))) return;
      if (await busy(revoke, () => del(`/api/tokens/${enc(t.id)}`), `Revoked ${label}`)) load();
    });
    return h("li", { class: "row-item", tid: "token-row", "data-id": t.id },
      h("div", { class: "grow" },
        h("strong", { tid: "token-row-name" }, label), " ",
        h("span", { class: `badge ${t.scope === "admin" ? "warnb" : ""}` }, t.scope, t.importedFrom && " · imported"),
        everyone.checked ? h("span", { class: "badge host" }, t.username) : null,
        h("p", { class: "muted small" }, h("code", {}, t.id), ` · created ${when(t.createdAt)} · `,
          t.expiresAt ? h("span", { class: expired ? "warn" : "" }, `${expired ? "expired" : "expires"} ${when(t.expiresAt)}`) : "never expires",
          ` · ${t.lastUsedAt ? `last used ${when(t.lastUsedAt)}` : "never used"}`)),
      h("span", { class: "acts" }, rename, revoke));
  }

  async function load() {
    const r = await api(`/api/tokens${everyone.checked ? "?all=true" : ""}`, { signal: pg.signal });
    list.replaceChildren(...(r.tokens.length ? r.tokens.map(row) : [h("li", { class: "empty" }, "No tokens yet. Create one above.")]));
  }

  async function revokeMine(btn) {
    if (!(await confirmDialog("Revoke all your tokens? Every CLI and script using them loses access at once.", "Revoke all"))) return;
    const r = await busy(btn, () => del("/api/tokens"));
    if (r) { toast(`Revoked ${plural(r.revokedTokens, "token")}`); load(); }
  }

  await load();
}
