// The agent catalog: what is installed, what runs, how to get the rest.

import { h, enc, safeLink, copyBtn, plural } from "./ui.js";
import { api, onSessions } from "./api.js";

/** One agent: name, key, installed badge, running count, install hint, docs link. */
export function agentCard(a, withStart = true) {
  return h("li", { class: "card agent-card", tid: "agent-row", "data-key": a.key },
    h("div", { class: "bar" },
      h("h3", {}, a.displayName, " ", h("code", { class: "muted" }, a.key)),
      h("span", { class: `badge ${a.installed ? "ok" : "off"}` }, a.installed ? "installed" : "not installed"),
      a.running ? h("span", { class: "badge run" }, `${a.running} running`) : null),
    a.flags ? h("p", { class: "muted small" }, "Default flags: ", h("code", {}, a.flags)) : null,
    !a.installed && a.installHint
      ? h("p", { class: "hint-row" }, "Install: ", h("code", {}, a.installHint), " ", copyBtn(a.installHint))
      : null,
    h("p", { class: "row" },
      a.docsUrl ? safeLink(a.docsUrl, "Documentation", { target: "_blank", rel: "noopener noreferrer" }) : null,
      withStart && a.installed ? h("a", { class: "btn sm", href: `/new?agent=${enc(a.key)}` }, "New session") : null));
}

export default async function mount(root, _params, pg) {
  const list = h("ul", { class: "cards" });
  const summary = h("p", { class: "muted" }, "Loading agents…");
  const showMissing = h("input", { type: "checkbox", checked: true, onchange: draw });
  let agents = [];
  root.append(h("div", { class: "page" },
    h("h1", {}, "Agents"), summary,
    h("label", { class: "check" }, showMissing, "Show agents that are not installed"),
    list));

  function draw() {
    const n = agents.filter((a) => a.installed).length;
    summary.textContent = `${n} of ${plural(agents.length, "agent")} installed on this host.`;
    const shown = agents.filter((a) => a.installed || showMissing.checked);
    shown.sort((a, b) => b.installed - a.installed || b.running - a.running);
    list.replaceChildren(...shown.map((a) => agentCard(a)));
  }

  async function load() {
    agents = await api("/api/agents/all", { signal: pg.signal });
    draw();
  }
  await load();
  // Running counts follow the live session list (no polling).
  let timer = 0;
  let first = true;
  pg.cleanup(onSessions(() => {
    if (first) { first = false; return; }
    clearTimeout(timer);
    timer = setTimeout(() => load().catch(() => {}), 300);
  }));
  pg.cleanup(() => clearTimeout(timer));
}
