// The sessions page: live list, filter, a ⋯ menu of actions per row, bulk actions in selection mode.

import { h, enc, plural, toast, busy, confirmDialog, ask, ago, lazyWhen, menuDialog, popMenu } from "./ui.js";
import { post, del, onSessions, onLive, changed } from "./api.js";
import { stateBadge, paintState, stateOf, bellButton, paintBell, toggleBell, followedSet } from "./agent.js";

export const killText = (name, status) => status === "running"
  ? `Kill the running session ${name}? Its agent is stopped and the record removed.`
  : `Remove the exited session ${name}?`;

/** Kill one session after confirming; resolves true when it was killed. A worktree with work
 * in it (409) needs an explicit choice: keep its branch, or delete it. */
export async function killSession(name, status, btn) {
  if (!(await confirmDialog(killText(name, status), status === "running" ? "Kill" : "Remove"))) return false;
  const kill = () => post(`/api/sessions/${enc(name)}/kill`).catch(async (e) => {
    if (e.status !== 409 || !/worktree/.test(e.message)) throw e;
    const to = (b) => del(`/api/sessions/${enc(name)}?force=true&branch=${b}`);
    if (await confirmDialog(`${e.message.split(";")[0]}. Remove the worktree and keep its branch (uncommitted changes are lost)?`, "Keep branch")) return to("keep");
    if (await confirmDialog(`Then delete branch and worktree of ${name}, commits and all?`, "Delete branch")) return to("delete");
    return null;
  });
  const r = await busy(btn, kill, (r) => r ? `Removed ${name}` : "Nothing removed");
  changed();
  return !!r;
}

/** A worktree session's branch, +ahead −behind, ● when dirty (shown after its repository). */
const gitText = (w) => w ? `⎇ ${w.branch}${w.ahead == null ? "" : ` +${w.ahead} −${w.behind}`}${w.dirty ? " ●" : ""}` : "";

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

/** A folder cut in the middle: its head (which CSS ellipsises) and its last component, whole. */
function paintCwd(el, path) {
  const i = path.lastIndexOf("/", path.length - 2);
  el.firstChild.textContent = i > 0 ? path.slice(0, i + 1) : "";
  el.lastChild.textContent = i > 0 ? path.slice(i + 1) : path;
}

/** The state badge, with the exit status of an exited session ("exited (exit 3)"). */
function paint(p, s) {
  paintState(p.state, s);
  if (s.status === "exited" && s.exitStatus != null) p.state.title = p.state.firstChild.textContent = `exited (exit ${s.exitStatus})`;
  // A session on a host the hub cannot reach: what it last was, not a live state.
  if (s.unreachable) {
    p.state.dataset.state = "unreachable";
    p.state.firstChild.textContent = "unreachable";
    p.state.title = `${s.host} cannot be reached; last seen ${p.state.title}`;
  }
}

export default function mount(root, _params, pg) {
  const selected = new Set();
  const rows = new Map(); // name -> {li, s, p}
  let list = null;
  let selecting = false;
  const wide = matchMedia("(min-width: 760px)");

  const filter = h("input", {
    type: "search", tid: "filter", placeholder: "Filter by name, host, agent, folder or state", "aria-label": "Filter sessions",
    autocomplete: "off", spellcheck: "false", oninput: applyFilter,
  });
  const selBtn = h("button", { class: "btn", tid: "select-mode", "aria-pressed": "false", hidden: true, onclick: () => setSelecting(!selecting) }, "Select");
  const all = h("input", { type: "checkbox", tid: "select-all", "aria-label": "Select all shown sessions", onchange: selectAll });
  const count = h("span", { tid: "selected-count" });
  const bulk = (tid, label, fn, cls = "") => h("button", { class: `btn ${cls}`, tid, disabled: true, onclick: (e) => fn(e.currentTarget) }, label);
  const bRestart = bulk("bulk-restart", "Restart", (b) => runBulk(b, "respawn", [...selected], "Restarted"));
  const bStop = bulk("bulk-stop", "Stop", (b) => runBulk(b, "stop", running(), "Stopped"));
  const bSend = bulk("bulk-send", "Send prompt", sendPrompt);
  const bKill = bulk("bulk-kill", "Kill", bulkKill, "danger");
  const ul = h("ul", { class: "srows", "aria-label": "Sessions" });
  // Column headers (wide screens only; on a phone a row is two lines that need none).
  const table = h("div", { class: "stable", hidden: true },
    h("div", { class: "shead", "aria-hidden": "true" }, h("span"), ...["Name", "State", "Agent", "Folder", "Started"].map((t) => h("span", {}, t))),
    ul);
  const loading = h("p", { class: "muted" }, "Loading sessions…");
  const empty = h("div", { class: "empty", tid: "empty-state", hidden: true },
    "No sessions yet. Start one with ", h("a", { href: "/new" }, "New session"),
    ", or from a shell: ", h("code", {}, "llmux session start claude"));
  const nomatch = h("p", { class: "empty", hidden: true });
  const banner = h("p", { class: "banner", role: "status", hidden: true }, "Live updates interrupted; reconnecting…");
  const bulkBar = h("div", { class: "bar bulk", tid: "bulk-bar", role: "group", "aria-label": "Selected sessions", hidden: true },
    h("label", { class: "check" }, all, count), bRestart, bStop, bSend, bKill);

  // One ⋯ menu for every row (ui.js menuDialog) with the session's actions.
  const mTitle = h("h2", { id: "smenu-t" });
  const mInfo = h("p", { class: "muted small" });
  const mOpen = h("a", { class: "btn", tid: "session-open" }, "Open terminal");
  const mChat = h("a", { class: "btn", tid: "session-chat" }, "Chat");
  const mEdit = h("a", { class: "btn", tid: "session-edit" }, "Edit");
  const mReview = h("a", { class: "btn", tid: "session-review" }, "Review changes");
  const mRestart = h("button", { class: "btn", tid: "session-restart" });
  const mStop = h("button", { class: "btn", tid: "session-stop" }, "Stop");
  const mBell = bellButton();
  mBell.className = "btn bell";
  mBell.append("Notify me");
  const mKill = h("button", { class: "btn danger", tid: "session-kill" });
  const menu = menuDialog({ tid: "session-menu-dialog", "aria-labelledby": "smenu-t" },
    mTitle, mInfo, h("div", { class: "mitems" }, mOpen, mChat, mReview, mEdit, mRestart, mStop, mBell, mKill));
  let menuRow = null;

  root.append(h("div", { class: "page" },
    h("div", { class: "bar" }, h("h1", {}, "Sessions"),
      h("a", { class: "btn primary", href: "/new", tid: "new-session" }, "New session")),
    banner,
    h("div", { class: "bar sfind" }, filter, selBtn),
    bulkBar, loading, empty, nomatch, table, menu));
  pg.cleanup(() => menu.open && menu.close());

  const running = () => [...selected].filter((n) => rows.get(n)?.s.status === "running");

  // One row is built once and cloned per session (far cheaper than building it element by
  // element); one listener on the list serves every row.
  let proto = null;
  function makeRow() {
    proto ??= h("li", { class: "srow", tid: "session-row" },
      h("label", { class: "pick" }, h("input", { type: "checkbox", tid: "session-select" })),
      h("a", { class: "name", tid: "session-name" }),
      stateBadge(),
      h("span", { class: "agent", tid: "session-agent" }),
      h("span", { class: "cwd", tid: "session-cwd" }, h("span"), h("span")),
      h("time", { class: "age", tid: "session-age" }),
      h("button", { class: "btn more", tid: "session-menu", "aria-haspopup": "dialog" }, "⋯"));
    const li = proto.cloneNode(true);
    const [pick, link, state, agent, cwd, age, more] = li.children;
    return { li, p: { select: pick.firstChild, link, state, agent, cwd, age, more } };
  }

  ul.addEventListener("change", (e) => {
    const row = rows.get(e.target.closest("li")?.dataset.name);
    if (row && e.target === row.p.select) pick(row, e.target.checked);
  });
  // The whole row opens the session (in selection mode it selects it instead); ⋯ opens the menu.
  ul.addEventListener("click", (e) => {
    const row = rows.get(e.target.closest("li")?.dataset.name);
    if (!row || e.target.closest(".pick")) return;
    if (e.target.closest(".more")) return openMenu(row);
    if (selecting) {
      e.preventDefault();
      return pick(row, !selected.has(row.s.name));
    }
    if (e.target.closest("a") || getSelection()?.type === "Range") return;
    row.p.link.click();
  });

  function openMenu(row) {
    const { s, p } = row;
    const run = s.status === "running";
    menuRow = row;
    mTitle.textContent = s.name;
    mInfo.textContent = `${s.agent} · ${s.cwd}`;
    mOpen.href = `/s/${enc(s.name)}`;
    mChat.href = `/c/${enc(s.name)}`;
    mEdit.href = `/edit/${enc(s.name)}`;
    mReview.href = `/r/${enc(s.name)}`;
    mRestart.textContent = run ? "Restart" : "Start";
    mStop.hidden = !run;
    mKill.textContent = run ? "Kill" : "Remove";
    mBell.setAttribute("aria-label", `Notify me about ${s.name}`);
    followedSet().then((set) => { if (menuRow === row) paintBell(mBell, set.has(s.name)); });
    popMenu(menu, p.more);
  }
  menu.addEventListener("click", (e) => {
    const b = e.target.closest("button");
    if (!b || !menuRow) return;
    const { s: { name, status }, p: { more } } = menuRow;
    if (b === mBell) return toggleBell(mBell, name);
    menu.close();
    if (b === mRestart) restart(name, more);
    else if (b === mStop) stopOne(name, more);
    else if (b === mKill) killSession(name, status, more);
  });
  menu.addEventListener("close", () => { menuRow = null; });

  // What a row shows of a session: a list event that changes none of these leaves the row alone
  // (a write, even of the same text, would cost the browser a style and layout pass).
  const SHOWN = ["name", "status", "exitStatus", "state", "stateSince", "waitingFor", "agent", "cwd", "cwdDisplay", "startedAt", "unreachable"];

  function fill(row, s) {
    const { li, p } = row;
    const prev = row.s;
    row.s = s;
    p.select.checked = selected.has(s.name);
    const git = gitText(s.worktree);
    if (prev && SHOWN.every((k) => prev[k] === s[k]) && row.git === git) return;
    row.git = git;
    if (git) li.dataset.git = ""; else delete li.dataset.git;
    li.dataset.name = s.name;
    li.dataset.status = s.status;
    li.dataset.state = stateOf(s);
    p.link.textContent = p.link.title = s.name;
    p.link.href = `/s/${enc(s.name)}`;
    paint(p, s);
    p.agent.textContent = s.agent;
    // A worktree: its repository (cut as folders are) and the branch whole (it may hold "/").
    if (git) [p.cwd.firstChild.textContent, p.cwd.lastChild.textContent] = [`${s.worktree.repo}/ `, git];
    else paintCwd(p.cwd, s.cwdDisplay || s.cwd);
    p.cwd.title = git ? `${s.cwd}${s.worktree.dirty ? " (uncommitted changes)" : ""}` : s.cwd;
    p.age.dateTime = s.startedAt;
    lazyWhen(p.age, s.startedAt, "started ");
    p.age.textContent = ago(s.startedAt);
    p.select.setAttribute("aria-label", `Select ${s.name}`);
    p.more.setAttribute("aria-label", `Actions for ${s.name}`);
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
      // (45 px), else two lines (55 px; sessions.css); one more for good measure.
      const pitch = wide.matches ? 45 : 55;
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
    table.hidden = selBtn.hidden = !next.length;
    if (!next.length && selecting) setSelecting(false);
    applyFilter();
    // The list is in and every control answers (the browser test reads this mark).
    if (!performance.getEntriesByName("llmux:sessions-ready").length) performance.mark("llmux:sessions-ready");
  }

  // Selection: only in selection mode, and only of the rows shown (the filter drops the rest).
  function setSelecting(on) {
    selecting = on;
    table.classList.toggle("selecting", on);
    bulkBar.hidden = !on;
    selBtn.textContent = on ? "Done" : "Select";
    selBtn.setAttribute("aria-pressed", String(on));
    if (!on) for (const name of selected) pick(rows.get(name), false, true);
    updateBulk();
  }

  function pick(row, on, quiet) {
    if (!row) return;
    if (on) selected.add(row.s.name); else selected.delete(row.s.name);
    row.p.select.checked = on;
    if (!quiet) updateBulk();
  }

  function applyFilter() {
    const q = filter.value.trim().toLowerCase();
    let shown = 0;
    for (const row of rows.values()) {
      const { li, s } = row;
      const ok = !q || [s.name, s.host, s.agent, s.cwd, s.cwdDisplay, stateOf(s)].some((v) => v?.toLowerCase().includes(q));
      li.hidden = !ok;
      if (ok) shown++;
      else if (selected.has(s.name)) pick(row, false, true);
    }
    nomatch.hidden = !(list?.length && !shown);
    nomatch.textContent = `No session matches “${filter.value.trim()}”.`;
    updateBulk();
  }

  function updateBulk() {
    const n = selected.size;
    count.textContent = `${n} selected`;
    bRestart.disabled = bKill.disabled = !n;
    bStop.disabled = bSend.disabled = !running().length;
    let shown = 0;
    for (const r of rows.values()) if (!r.li.hidden) shown++;
    all.checked = !!shown && n === shown;
    all.indeterminate = n > 0 && n < shown;
  }

  function selectAll() {
    for (const row of rows.values()) if (!row.li.hidden) pick(row, all.checked, true);
    updateBulk();
  }

  async function restart(name, btn) {
    const verb = rows.get(name)?.s.status === "running" ? "Restarted" : "Started";
    await busy(btn, () => post(`/api/sessions/${enc(name)}/respawn`), `${verb} ${name}`);
    changed();
  }

  async function stopOne(name, btn) {
    if (!(await confirmDialog(`Stop ${name}? Its agent ends; the session stays, to start again.`, "Stop"))) return;
    await busy(btn, () => post(`/api/sessions/${enc(name)}/stop`), `Stopped ${name}`);
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
  const tick = setInterval(() => { for (const { p, s } of rows.values()) { p.age.textContent = ago(s.startedAt); paint(p, s); } }, 30000);
  pg.cleanup(() => clearInterval(tick));
}
