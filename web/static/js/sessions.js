// The sessions page: live list, filter, per-row and bulk actions.

import { h, enc, plural, toast, busy, confirmDialog, ask, ago, lazyWhen } from "./ui.js";
import { post, onSessions, onLive, changed } from "./api.js";
import { stateBadge, paintState, stateOf, bellButton, paintBell, toggleBell, followedSet } from "./agent.js";

export const killText = (name, status) => status === "running"
  ? `Kill the running session ${name}? Its agent is stopped and the record removed.`
  : `Remove the exited session ${name}?`;

/** Kill one session after confirming; resolves true when it was killed. */
export async function killSession(name, status, btn) {
  if (!(await confirmDialog(killText(name, status), status === "running" ? "Kill" : "Remove"))) return false;
  const r = await busy(btn, () => post(`/api/sessions/${enc(name)}/kill`), `${status === "running" ? "Killed" : "Removed"} ${name}`);
  changed();
  return !!r;
}

/**
 * Rows built unrendered (class "later": content-visibility hidden) are rendered as they come
 * within half a screen of the viewport, and the rest a few at a time when the browser is idle:
 * an unrendered row is out of the tab order and the accessibility tree, so none stays so long.
 */
function renderLater(later) {
  // Safari has no requestIdleCallback: there, a few rows every 50 ms.
  const idle = window.requestIdleCallback
    ? (f) => requestIdleCallback(f)
    : (f) => setTimeout(() => f({ timeRemaining: () => 10 }), 50);
  /** Renders a row; false if it already was. */
  const show = (li) => {
    if (!li.classList.contains("later")) return false;
    li.classList.remove("later");
    near.unobserve(li);
    return true;
  };
  const near = new IntersectionObserver((entries) => {
    for (const e of entries) if (e.isIntersecting) show(e.target);
  }, { rootMargin: "50% 0px" });
  for (const li of later) near.observe(li);
  const rest = (deadline) => {
    let n = 0;
    while (later.length && n < 4 && deadline.timeRemaining() > 5) if (show(later.shift())) n++;
    if (later.length) idle(rest);
    else near.disconnect();
  };
  idle(rest);
}

export default function mount(root, _params, pg) {
  const selected = new Set();
  const rows = new Map(); // name -> {li, s, parts}
  let list = null;

  const filter = h("input", {
    type: "search", tid: "filter", placeholder: "Filter by name, agent, folder or state", "aria-label": "Filter sessions",
    autocomplete: "off", spellcheck: "false", oninput: applyFilter,
  });
  const all = h("input", { type: "checkbox", "aria-label": "Select all shown sessions", onchange: selectAll });
  const count = h("span", { class: "muted" });
  const bulk = (tid, label, fn, cls = "") => h("button", { class: `btn sm ${cls}`, tid, disabled: true, onclick: (e) => fn(e.currentTarget) }, label);
  const bRestart = bulk("bulk-restart", "Restart", (b) => runBulk(b, "respawn", [...selected], "Restarted"));
  const bStop = bulk("bulk-stop", "Stop", (b) => runBulk(b, "stop", running(), "Stopped"));
  const bSend = bulk("bulk-send", "Send prompt", sendPrompt);
  const bKill = bulk("bulk-kill", "Kill", bulkKill, "danger");
  const ul = h("ul", { class: "srows", "aria-label": "Sessions" });
  const loading = h("p", { class: "muted" }, "Loading sessions…");
  const empty = h("div", { class: "empty", tid: "empty-state", hidden: true },
    "No sessions yet. Start one with ", h("a", { href: "/new" }, "New session"),
    ", or from a shell: ", h("code", {}, "llmux session start claude"));
  const nomatch = h("p", { class: "empty", hidden: true });
  const banner = h("p", { class: "banner", role: "status", hidden: true }, "Live updates interrupted; reconnecting…");
  let bulkBar;

  root.append(h("div", { class: "page" },
    h("div", { class: "bar" }, h("h1", {}, "Sessions"),
      h("a", { class: "btn primary", href: "/new", tid: "new-session" }, "New session")),
    banner,
    h("div", { class: "bar" }, filter),
    bulkBar = h("div", { class: "bar bulk", role: "group", "aria-label": "Selected sessions", hidden: true },
      h("label", { class: "check" }, all, count), bRestart, bStop, bSend, bKill),
    loading, empty, nomatch, ul));

  const running = () => [...selected].filter((n) => rows.get(n)?.s.status === "running");

  // One row is built once and cloned per session (far cheaper than building its 20 elements
  // one by one); one listener on the list serves every row's checkbox and buttons.
  let proto = null;
  const withAct = (el, act) => { el.dataset.act = act; return el; };
  function makeRow() {
    proto ??= h("li", { class: "srow", tid: "session-row" },
      h("input", { type: "checkbox", tid: "session-select" }),
      h("span", { class: "nm" }, h("a", { class: "name", tid: "session-name" })),
      h("span", { class: "stw" }, h("span", { class: "st", tid: "session-status" }), h("span", { class: "exit muted" })),
      stateBadge(),
      h("span", { class: "agent", tid: "session-agent" }),
      h("span", { class: "cwd", tid: "session-cwd" }),
      h("time", { class: "age", tid: "session-age" }),
      h("span", { class: "acts" },
        h("a", { class: "btn sm primary", tid: "session-open" }, "Open"),
        h("a", { class: "btn sm", tid: "session-chat" }, "Chat"),
        h("button", { class: "btn sm", tid: "session-restart", "data-act": "restart" }),
        h("a", { class: "btn sm", tid: "session-edit" }, "Edit"),
        h("button", { class: "btn sm danger", tid: "session-kill", "data-act": "kill" }, "Kill"),
        withAct(bellButton(), "bell")));
    const li = proto.cloneNode(true);
    const [select, nm, stw, state, agent, cwd, age, acts] = li.children;
    const [open, chat, restart, edit, kill, bell] = acts.children;
    return {
      li,
      p: { select, link: nm.firstChild, status: stw.firstChild, exit: stw.lastChild, state, agent, cwd, age, open, chat, restart, edit, kill, bell },
    };
  }

  ul.addEventListener("change", (e) => {
    const row = rows.get(e.target.closest("li")?.dataset.name);
    if (!row || e.target !== row.p.select) return;
    if (e.target.checked) selected.add(row.s.name); else selected.delete(row.s.name);
    updateBulk();
  });
  ul.addEventListener("click", (e) => {
    const btn = e.target.closest("button[data-act]");
    const row = btn && rows.get(btn.closest("li")?.dataset.name);
    if (!row) return;
    const { name, status } = row.s;
    if (btn.dataset.act === "restart") restart(name, btn);
    else if (btn.dataset.act === "kill") killSession(name, status, btn);
    else if (btn.dataset.act === "bell") toggleBell(btn, name);
  });
  // Which sessions ring my bell: known once, then painted on every row (and on new ones in fill).
  let follows = null;
  followedSet().then((set) => {
    follows = set;
    for (const { p, s } of rows.values()) paintBell(p.bell, set.has(s.name));
  });

  // What a row shows of a session: a list event that changes none of these leaves the row alone
  // (a write, even of the same text, would cost the browser a style and layout pass).
  const SHOWN = ["name", "status", "exitStatus", "state", "stateSince", "waitingFor", "agent", "cwd", "cwdDisplay", "startedAt"];

  function fill(row, s) {
    const { li, p } = row;
    const prev = row.s;
    row.s = s;
    p.select.checked = selected.has(s.name);
    if (prev && SHOWN.every((k) => prev[k] === s[k])) return;
    li.dataset.name = s.name;
    li.dataset.status = s.status;
    p.link.textContent = s.name;
    p.link.href = p.open.href = `/s/${enc(s.name)}`;
    p.chat.href = `/c/${enc(s.name)}`;
    li.dataset.state = stateOf(s);
    paintState(p.state, s);
    p.edit.href = `/edit/${enc(s.name)}`;
    p.status.textContent = s.status;
    p.exit.textContent = s.status === "exited" && s.exitStatus != null ? `(exit ${s.exitStatus})` : "";
    p.agent.textContent = s.agent;
    p.cwd.textContent = s.cwdDisplay || s.cwd;
    p.cwd.title = s.cwd;
    p.age.dateTime = s.startedAt;
    lazyWhen(p.age, s.startedAt, "started ");
    p.age.textContent = ago(s.startedAt);
    p.restart.textContent = s.status === "running" ? "Restart" : "Start";
    for (const [el, verb] of [[p.open, "Open"], [p.chat, "Chat with"], [p.restart, p.restart.textContent], [p.edit, "Edit"], [p.kill, "Kill"], [p.bell, "Notify me about"], [p.select, "Select"]]) {
      el.setAttribute("aria-label", `${verb} ${s.name}`);
    }
    if (follows) paintBell(p.bell, follows.has(s.name));
  }

  function render(next) {
    // The agents waiting for their person first (the sort is stable: the rest keep their order).
    next = next.slice().sort((a, b) => (stateOf(b) === "waiting") - (stateOf(a) === "waiting"));
    list = next;
    loading.remove();
    const names = new Set(next.map((s) => s.name));
    for (const [name, row] of rows) {
      if (!names.has(name)) { row.li.remove(); rows.delete(name); selected.delete(name); }
    }
    if (!ul.firstChild) {
      // First render: build every row off-document and insert them at once. The browser would
      // render the rows on screen and those within a screen and a half below, all in one
      // frame (on a desktop, some 45 rows); rows past the first screenful start unrendered
      // ("later") and are rendered as they come within half a screen of the viewport, or
      // else a few at a time when the browser is idle.
      // Rows that can be on screen: below ~200 px of headings, one line each from 760 px wide
      // (48 px and an 8 px gap), else a card of ~150 px (app.css); one more for good measure.
      const pitch = matchMedia("(min-width: 760px)").matches ? 56 : 150;
      const screenful = Math.ceil((innerHeight - 200) / pitch) + 1;
      const later = [];
      const frag = document.createDocumentFragment();
      for (const s of next) {
        const row = makeRow();
        rows.set(s.name, row);
        fill(row, s);
        if (frag.childNodes.length >= screenful) {
          row.li.classList.add("later");
          later.push(row.li);
        }
        frag.append(row.li);
      }
      ul.append(frag);
      renderLater(later);
    } else {
      next.forEach((s, i) => {
        let row = rows.get(s.name);
        if (!row) { row = makeRow(); rows.set(s.name, row); }
        fill(row, s);
        if (ul.children[i] !== row.li) ul.insertBefore(row.li, ul.children[i] || null);
      });
    }
    empty.hidden = next.length > 0;
    bulkBar.hidden = !next.length;
    applyFilter();
    // The list is in and every control answers (the browser test reads this mark).
    if (!performance.getEntriesByName("llmux:sessions-ready").length) performance.mark("llmux:sessions-ready");
  }

  function applyFilter() {
    const q = filter.value.trim().toLowerCase();
    let shown = 0;
    for (const { li, s } of rows.values()) {
      const ok = !q || [s.name, s.agent, s.cwd, s.cwdDisplay, stateOf(s)].some((v) => v?.toLowerCase().includes(q));
      li.hidden = !ok;
      if (ok) shown++;
    }
    nomatch.hidden = !(list?.length && !shown);
    nomatch.textContent = `No session matches “${filter.value.trim()}”.`;
    updateBulk();
  }

  function updateBulk() {
    const n = selected.size;
    count.textContent = n ? `${n} selected` : "Select all";
    bRestart.disabled = bKill.disabled = !n;
    bStop.disabled = bSend.disabled = !running().length;
    const shown = [...rows.values()].filter((r) => !r.li.hidden);
    const sel = shown.filter((r) => selected.has(r.s.name)).length;
    all.checked = !!shown.length && sel === shown.length;
    all.indeterminate = sel > 0 && sel < shown.length;
  }

  function selectAll() {
    for (const { li, s, p } of rows.values()) {
      if (li.hidden) continue;
      if (all.checked) selected.add(s.name); else selected.delete(s.name);
      p.select.checked = all.checked;
    }
    updateBulk();
  }

  async function restart(name, btn) {
    const verb = rows.get(name)?.s.status === "running" ? "Restarted" : "Started";
    await busy(btn, () => post(`/api/sessions/${enc(name)}/respawn`), `${verb} ${name}`);
    changed();
  }

  async function runBulk(btn, verb, names, past) {
    if (!names.length) return;
    await busy([btn, bRestart, bStop, bKill], async () => {
      const res = await Promise.allSettled(names.map((n) => post(`/api/sessions/${enc(n)}/${verb}`)));
      const failed = res.map((r, i) => [names[i], r]).filter(([, r]) => r.status === "rejected");
      if (!failed.length) toast(`${past} ${plural(names.length, "session")}`);
      else toast(`${names.length - failed.length} ${past.toLowerCase()}, ${failed.length} failed: ${failed.map(([n, r]) => `${n}: ${r.reason.message}`).join("; ")}`, "error");
      if (verb === "kill") for (const [n, r] of res.map((r, i) => [names[i], r])) if (r.status === "fulfilled") selected.delete(n);
    });
    changed();
    updateBulk();
  }

  async function bulkKill(btn) {
    const names = [...selected];
    if (names.length === 1) {
      const s = rows.get(names[0]).s;
      if (await killSession(s.name, s.status, btn)) selected.delete(s.name);
      return updateBulk();
    }
    const r = running().length;
    const text = `Kill ${plural(names.length, "session")}${r ? ` (${r} running)` : ""}? Running agents are stopped and the records removed.`;
    if (await confirmDialog(text, "Kill")) await runBulk(btn, "kill", names, "Killed");
  }

  async function sendPrompt(btn) {
    const names = running();
    const prompt = await ask({ title: "Send a prompt", label: `To ${plural(names.length, "running session")}: ${names.join(", ")}`, multiline: true, ok: "Send", tid: "broadcast" });
    if (!prompt?.trim()) return;
    await busy(btn, async () => {
      const r = await post("/api/sessions/broadcast", { prompt, names });
      if (r.failed.length) toast(`Sent to ${r.sent.length}; failed: ${r.failed.map((f) => `${f.name}: ${f.error}`).join("; ")}`, "error");
      else toast(`Sent to ${plural(r.sent.length, "session")}`);
    });
  }

  pg.cleanup(onSessions(render));
  let bannerTimer = 0;
  pg.cleanup(onLive((ok) => {
    clearTimeout(bannerTimer);
    if (ok) banner.hidden = true;
    else bannerTimer = setTimeout(() => { banner.hidden = false; }, 4000);
  }));
  pg.cleanup(() => clearTimeout(bannerTimer));
  const tick = setInterval(() => { for (const { p, s } of rows.values()) { p.age.textContent = ago(s.startedAt); paintState(p.state, s); } }, 30000);
  pg.cleanup(() => clearInterval(tick));
}
