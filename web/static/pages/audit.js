// Admin: the audit log, newest first.

import { h, when } from "../js/ui.js";
// Stateful helpers come from the app through mount's third argument (web/README.md, "On-demand pages").
let api;

export default async function mount(root, _params, pg) {
  ({ api } = pg);
  const filter = h("input", { type: "search", placeholder: "Filter by actor, action or target", "aria-label": "Filter the audit log" });
  const body = h("tbody");
  const refresh = h("button", { class: "btn sm", onclick: () => load().catch(() => {}) }, "Refresh");
  root.append(h("div", { class: "page wide" }, h("h1", {}, "Audit log"),
    h("div", { class: "bar" }, filter, refresh),
    h("div", { class: "scroll" }, h("table", { class: "table stack" },
      h("thead", {}, h("tr", {}, ["Time", "Actor", "Action", "Target", "Detail"].map((c) => h("th", { scope: "col" }, c)))), body))));
  filter.addEventListener("input", () => {
    const q = filter.value.trim().toLowerCase();
    for (const tr of body.children) tr.hidden = !!q && !tr.textContent.toLowerCase().includes(q);
  });
  async function load() {
    refresh.disabled = true;
    try {
      const events = await api("/api/audit?limit=500", { signal: pg.signal });
      body.replaceChildren(...events.reverse().map((e) => h("tr", { tid: "audit-row", class: /failed|denied/.test(e.action) ? "warn" : "" },
        h("td", {}, h("time", { datetime: e.ts }, when(e.ts))), h("td", {}, e.actor), h("td", {}, h("code", {}, e.action)),
        h("td", {}, e.target), h("td", {}, e.detail))));
      if (!events.length) body.append(h("tr", {}, h("td", { colspan: 5, class: "empty" }, "Nothing recorded yet.")));
      filter.dispatchEvent(new Event("input"));
    } finally {
      refresh.disabled = false;
    }
  }
  await load();
}
