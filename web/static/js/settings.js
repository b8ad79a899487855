// Admin: effective settings with their sources, and the daemon-wide init prompts.

import { h, busy, section, lines } from "./ui.js";
import { api } from "./api.js";

const show = (v) => (v == null ? "—" : typeof v === "string" ? v : JSON.stringify(v));

export default async function mount(root, _params, pg) {
  const s = await api("/api/settings", { signal: pg.signal });
  const table = h("table", { class: "table", tid: "settings-table" },
    h("caption", { class: "sr" }, "Effective settings"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Setting"), h("th", { scope: "col" }, "Value"), h("th", { scope: "col" }, "Source"))),
    h("tbody", {}, (s.settings || []).map((x) => h("tr", {},
      h("th", { scope: "row" }, h("code", {}, x.key)), h("td", {}, h("code", {}, show(x.value))),
      h("td", {}, h("span", { class: `badge src-${x.source}` }, x.source))))));
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
    section("Daemon", h("dl", { class: "facts" }, paths.map(([k, v]) => [h("dt", {}, k), h("dd", {}, h("code", {}, show(v)))]))),
    section("Effective configuration", h("div", { class: "scroll" }, table),
      h("p", { class: "hint" }, "Sources: flag, env, overlay, config file, or built-in default. Change them in the config file or with flags, then restart the daemon.")),
    section("Daemon init prompts",
      h("p", { class: "hint" }, "Typed into every new session once its screen settles, one prompt per line. Saved to the runtime overlay; no restart needed. Source: ", source),
      h("label", { for: "f-init" }, "Init prompts"), prompts, h("div", { class: "row" }, save))));
}
