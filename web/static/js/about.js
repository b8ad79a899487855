// About: version, host, where this daemon can be reached, session count, Pair a device.

import { h, safeLink, copyBtn, section, plural } from "./ui.js";
import { api, me } from "./api.js";
import { pairSection } from "./pair.js";

export default async function mount(root, _params, pg) {
  let a;
  try {
    a = await api("/api/about", { signal: pg.signal });
  } catch (e) {
    if (e.status !== 404) throw e;
    const [v, hl] = await Promise.all([api("/api/version"), api("/health")]);
    a = { version: v.version, hostname: location.hostname, endpoints: [], sessions: hl.sessions };
  }
  const eps = a.endpoints?.length ? a.endpoints : [{ label: "This page", url: location.origin }];
  root.append(h("div", { class: "page narrow" }, h("h1", {}, "About"),
    section("Daemon", h("dl", { class: "facts" },
      h("dt", {}, "Version"), h("dd", { tid: "about-version" }, a.version),
      h("dt", {}, "Host"), h("dd", { tid: "about-hostname" }, a.hostname),
      h("dt", {}, "Sessions"), h("dd", { tid: "about-sessions" },
        `${plural(a.sessions ?? 0, "session")}${a.running != null ? `, ${a.running} running` : ""}`),
      h("dt", {}, "Signed in as"), h("dd", {}, `${me.username}${me.admin ? " (admin)" : ""}`))),
    section("Reachable at", h("ul", { class: "rows" }, eps.map((e) => h("li", { class: "row-item", tid: "about-endpoint" },
      h("div", { class: "grow" }, h("span", { class: "muted" }, e.label), " ", safeLink(e.url)), copyBtn(e.url)))),
      h("p", { class: "hint" }, "From another machine: ", h("code", {}, `llmux auth login --server ${eps[0].url} --username ${me.username}`),
        ".")),
    pairSection("Sign your phone in as you: scan a one-time code with it."),
    section("This app", h("p", {}, "Install it from the browser menu (Add to Home screen) for a full-screen terminal. ",
      "Source and docs: the llmux README."))));
}
