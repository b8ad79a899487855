// Admin: effective settings with their sources, and the daemon-wide init prompts.

import { h, busy, section, lines } from "../js/ui.js";
// Stateful helpers come from the app through mount's third argument (web/README.md, "On-demand pages").
let api;

const show = (v) => (v == null ? "—" : typeof v === "string" ? v : JSON.stringify(v));

/** Text that may break after its dots, underscores and slashes (keys, paths), not mid-word. */
const parts = (t, cls) => h("code", { class: cls }, t.split(/(?<=[._/])/).flatMap((p, i) => (i ? [h("wbr"), p] : [p])));

export default async function mount(root, _params, pg) {
  ({ api } = pg);
  const s = await api("/api/settings", { signal: pg.signal });
  // On a phone each setting is a block: the key and its source on one line, the value below.
  const table = h("table", { class: "table settings", tid: "settings-table" },
    h("caption", { class: "sr" }, "Effective settings"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Setting"), h("th", { scope: "col" }, "Value"), h("th", { scope: "col" }, "Source"))),
    h("tbody", {}, (s.settings || []).map((x) => h("tr", { tid: "setting" },
      h("th", { scope: "row" }, parts(x.key, "skey")), h("td", {}, h("code", {}, show(x.value))),
      h("td", {}, h("span", { class: `badge src-${x.source}`, tid: "setting-source" }, x.source))))));
  const prompts = h("textarea", { tid: "init-prompts", id: "f-init", rows: 5, value: (s.initPrompts?.value || []).join("\n") });
  const source = h("span", { class: "badge" }, s.initPrompts?.source || "default");
  const save = h("button", { class: "btn primary", tid: "init-save" }, "Save init prompts");
  save.addEventListener("click", async () => {
    const r = await busy(save, () => api("/api/settings/init-prompts", { method: "PUT", body: { initPrompts: lines(prompts.value) } }), "Init prompts saved");
    if (r) { prompts.value = r.initPrompts.join("\n"); source.textContent = "overlay"; }
  });
  const paths = [["Version", s.version], ["State dir", s.stateDir], ["Socket", s.socket],
    ["Config file", s.configSource || "none (defaults)"], ["Runtime overlay", `${s.overlayPath}${s.overlayActive ? " (active)" : ""}`]];
  root.append(h("div", { class: "page" }, h("h1", {}, "Settings"),
    section("Daemon", h("dl", { class: "facts" }, paths.map(([k, v]) => [h("dt", {}, k), h("dd", {}, parts(show(v)))]))),
    section("Effective configuration", h("div", { class: "scroll" }, table),
      h("p", { class: "hint" }, "Sources: flag, env, overlay, config file, or built-in default. Change them in the config file or with flags, then restart the daemon.")),
    section("Daemon init prompts",
      h("p", { class: "hint" }, "Typed into every new session once its screen settles, one prompt per line. Saved to the runtime overlay; no restart needed. Source: ", source),
      h("label", { for: "f-init" }, "Init prompts"), prompts, h("div", { class: "row" }, save))));
}
