// Admin: the daemon log, live.

import { h } from "../js/ui.js";
// Stateful helpers come from the app through mount's third argument (web/README.md, "On-demand pages").
let api;

const RANK = { error: 0, warn: 1, info: 2, debug: 3, trace: 4 };
const MAX = 1000;

export default async function mount(root, _params, pg) {
  ({ api } = pg);
  const level = h("select", { tid: "log-level", id: "f-level" },
    h("option", { value: "trace" }, "all levels"), h("option", { value: "info" }, "info and above"),
    h("option", { value: "warn" }, "warnings and errors"), h("option", { value: "error" }, "errors only"));
  const follow = h("input", { type: "checkbox", checked: true });
  const status = h("span", { class: "muted", role: "status" }, "loading…");
  const out = h("ol", { class: "logs", "aria-label": "Log lines" });
  const clear = h("button", { class: "btn sm", onclick: () => out.replaceChildren() }, "Clear");
  root.append(h("div", { class: "page wide" }, h("h1", {}, "Logs"),
    h("div", { class: "bar" }, h("label", { for: "f-level" }, "Level"), level,
      h("label", { class: "check" }, follow, "Follow"), clear, status),
    out));

  const visible = (lv) => (RANK[lv] ?? 2) <= RANK[level.value];
  function add(e) {
    const t = new Date(e.ts);
    const li = h("li", { class: `log ${e.level}`, tid: "log-line", "data-level": e.level, hidden: !visible(e.level) },
      h("time", { datetime: e.ts, title: t.toLocaleString() }, t.toLocaleTimeString(undefined, { hour12: false })), " ",
      h("span", { class: "lv" }, e.level.toUpperCase()), " ", h("span", { class: "muted" }, e.target), " ", e.text);
    out.append(li);
    while (out.children.length > MAX) out.firstChild.remove();
  }
  const scroll = () => { if (follow.checked) out.scrollTop = out.scrollHeight; };
  level.addEventListener("change", () => {
    for (const li of out.children) li.hidden = !visible(li.dataset.level);
    scroll();
  });

  const r = await api("/api/logs?limit=500", { signal: pg.signal });
  r.entries.forEach(add);
  scroll();
  status.textContent = "connecting…";
  const es = new EventSource("/api/logs/stream");
  es.onopen = () => { status.textContent = "live"; };
  es.onmessage = (m) => {
    try { add(JSON.parse(m.data)); scroll(); } catch { /* malformed */ }
  };
  es.onerror = () => { status.textContent = es.readyState === EventSource.CLOSED ? "offline (reload to retry)" : "reconnecting…"; };
  pg.cleanup(() => es.close());
}
