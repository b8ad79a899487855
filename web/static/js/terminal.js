// /s/<name>: the session's terminal over a WebSocket, with a soft-keyboard bar for phones
// (keys.js). An exited session shows its last screen read-only with Restart, and opens no
// WebSocket; a missing one shows only a message and a link back to the list.

import { h, enc, toast, busy, copyText, ask, confirmDialog, menuDialog, popMenu } from "./ui.js";
import { api, post, toLogin, onSessions } from "./api.js";
import { stateBadge, paintState, stateOf, bell } from "./agent.js";
import { keyBoard, applyMods } from "./keys.js";
import { upload, fileButton, takeFiles } from "./files.js";

const FONT_KEY = "llmux.term.fontSize";

export default async function mount(root, { name }, pg) {
  pg.setTitle(name);
  // Decide from the session record first: a missing session gets no terminal at all, and an
  // exited one no WebSocket (it would only be refused).
  let rec = null;
  try {
    rec = await api(`/api/sessions/${enc(name)}`);
  } catch (e) {
    if (e.redirecting || pg.signal.aborted) return;
    if (e.status === 404) return showGone(root, name);
  }
  if (pg.signal.aborted) return;
  const encoder = new TextEncoder();
  let ws = null;
  let ended = false;
  let dead = false;
  let backoff = 1000;
  let retryTimer = 0;
  let pinching = false;
  let restarting = false;

  // ---- header: the name (from setTitle), one dot with a short label, the rest behind ⋯ ----
  const dot = h("span", { class: "dot", tid: "status-dot", role: "img" });
  const label = h("span", { class: "tsl", tid: "term-label" });
  const statusText = h("span", { class: "stxt", tid: "conn-state" }, "connecting…");
  const hostText = h("span");
  const badge = stateBadge("term-state");
  badge.hidden = true;
  const size = h("span", { class: "mono", tid: "font-size" });
  const mb = (tid, text, act, aria) => h("button", { class: "btn sm", tid, onclick: act, "aria-label": aria }, text);
  const restartBtn = mb("term-restart", "Restart", () => restart(restartBtn, true));
  const stopBtn = mb("term-stop", "Stop", stop);
  const bellBtn = bell(name);
  // Prompts waiting for the session (issue 19): edited on the chat page.
  const queueLink = h("a", { class: "btn sm", href: `/c/${enc(name)}`, tid: "term-queue", hidden: true });
  bellBtn.append(h("span", { class: "tm-only" }, "Notify me"));
  // On a phone the ⋯ menu (ui.js); from 1000 px the same elements inline in the header (CSS).
  const menu = menuDialog({ class: "smenu tmenu", tid: "term-menu-panel", "aria-label": "Session" },
    h("span", { class: "tm-only muted small" }, statusText, hostText), badge,
    h("a", { class: "btn sm", href: `/c/${enc(name)}`, tid: "open-chat" }, "Chat"), queueLink, bellBtn,
    h("span", { class: "tfont", role: "group", "aria-label": "Text size" },
      mb("font-dec", "A−", () => setFont(term.options.fontSize - 1), "Smaller text"), size,
      mb("font-inc", "A+", () => setFont(term.options.fontSize + 1), "Larger text")),
    ...fileButton((fs) => { menu.close(); attach(fs); }, "term-upload", "Upload file"), restartBtn, stopBtn);
  // An uploaded file's name is typed at the cursor, like a pasted path.
  const attach = async (files) => { const m = await upload(name, files); if (m.length) send(`${m.join(" ")} `); };
  const menuBtn = h("button", { class: "icon tmbtn", tid: "term-menu", "aria-label": "Session menu", "aria-haspopup": "dialog", onclick: () => {
    const host = document.getElementById("host").textContent;
    hostText.textContent = host && ` · on ${host}`;
    popMenu(menu, menuBtn);
  } }, "⋯");
  const head = h("span", { class: "tst", tid: "term-status" }, dot, label);
  document.getElementById("slot").append(head, menuBtn, menu);
  pg.cleanup(() => menu.close());

  let cur = rec;
  pg.cleanup(onSessions((list) => {
    const s = list.find((x) => x.name === name);
    if (s) cur = s;
    badge.hidden = !s;
    queueLink.hidden = !s?.queued;
    queueLink.textContent = `${s?.queued} queued`;
    if (s) paintState(badge, s);
    paintHead();
  }));
  function paintHead() {
    const live = dot.dataset.state === "live" && cur && cur.status !== "exited";
    const st = live ? stateOf(cur) : "";
    dot.dataset.agent = st;
    label.textContent = live ? (st === "waiting" && cur.waitingFor ? `waiting: ${cur.waitingFor}` : st) : statusText.textContent;
  }
  function setState(state, text) {
    dot.dataset.state = state;
    dot.setAttribute("aria-label", `Connection: ${text}`);
    statusText.textContent = text;
    paintHead();
  }

  // ---- terminal ----
  const box = h("div", { class: "term-box", tid: "terminal" });
  await loadXterm();
  // Gone while xterm.js loaded (back at once): draw nothing under the next page.
  if (pg.signal.aborted) return;
  const TerminalCtor = window.Terminal;
  if (!TerminalCtor || !window.FitAddon) {
    root.append(h("p", { class: "pad error", role: "alert" }, "The terminal component (xterm.js) did not load."));
    return;
  }
  const saved = Number(localStorage.getItem(FONT_KEY));
  const term = new TerminalCtor({
    fontSize: saved >= 8 && saved <= 32 ? saved : (matchMedia("(max-width: 600px)").matches ? 12 : 14),
    fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace',
    // 1.0 clips underscores at some sizes (the glyph sits below the cell)
    lineHeight: 1.15,
    cursorBlink: true,
    scrollback: 5000,
    macOptionIsMeta: true,
    theme: { background: "#0b0c10", foreground: "#e6e8eb", cursor: "#7cc4ff", selectionBackground: "#2f4a66" },
  });
  // tmux puts its client on the alternate screen, which has no scrollback: stay on the normal
  // screen so that the history replayed on connect (and later output) can be scrolled back.
  for (const final of ["h", "l"]) {
    term.parser.registerCsiHandler({ prefix: "?", final }, (p) => p.length === 1 && [47, 1047, 1049].includes(p[0]));
  }
  const fit = new window.FitAddon.FitAddon();
  term.loadAddon(fit);
  // URLs the agent prints (sign-in links, wrapped over several rows included) open in a new tab
  // on a click or tap; only http(s), and the new tab gets no handle on this one.
  if (window.WebLinksAddon) {
    term.loadAddon(new window.WebLinksAddon.WebLinksAddon((event, uri) => {
      let url;
      try { url = new URL(uri); } catch { return; }
      if (url.protocol !== "https:" && url.protocol !== "http:") return;
      event?.preventDefault?.();
      window.open(url.href, "_blank", "noopener,noreferrer");
    }));
  }
  window.__llmuxTerm = term;

  // ---- the ended panel (in place of the keys: the last screen stays readable above it) ----
  const endText = h("p", { tid: "exit-status" });
  const respawn = h("button", { class: "btn primary", tid: "respawn", onclick: () => restart(respawn) }, "Restart");
  const endPanel = h("div", { class: "tend", tid: "session-ended", role: "status", hidden: true },
    endText, h("div", { class: "row" }, respawn, h("a", { class: "btn", href: "/" }, "Sessions")));

  const copySel = h("button", { class: "btn sm primary copy-sel", tid: "copy-selection", hidden: true, onclick: copySelection }, "Copy");

  const kb = keyBoard({ send, onReset: () => { term.reset(); send("\x0c"); }, onPaste: paste });
  const { bar, more } = kb;
  root.append(h("div", { class: "term-page" }, h("div", { class: "term-wrap" }, box, copySel), more, bar, endPanel));
  term.open(box);
  try { fit.fit(); } catch { /* not laid out yet */ }

  // Only a person's input earns a "not connected" warning, not xterm's own replies to queries.
  let warned = 0;
  let typed = 0;
  const mark = () => { typed = Date.now(); };
  for (const ev of ["keydown", "input", "paste", "click"]) box.addEventListener(ev, mark, true);
  takeFiles(box, attach);
  for (const el of [bar, more]) el.addEventListener("click", mark, true);
  function send(data) {
    if (!data) return;
    if (ws?.readyState === WebSocket.OPEN) {
      ws.send(encoder.encode(data));
    } else if (Date.now() - typed < 1000 && Date.now() - warned > 3000) {
      warned = Date.now();
      toast("Not connected: the keys were not sent.", "error");
    }
  }

  term.onData((d) => {
    const m = kb.mods();
    if ((m.ctrl || m.alt || m.shift) && d.length === 1 && d >= " ") {
      d = applyMods(d, m);
      kb.consume();
    }
    send(d);
  });
  term.onBinary((d) => {
    if (ws?.readyState === WebSocket.OPEN) ws.send(Uint8Array.from(d, (c) => c.charCodeAt(0) & 0xff));
  });

  // ---- size ----
  const sent = { cols: 0, rows: 0 };
  function sendResize() {
    if (pinching || ws?.readyState !== WebSocket.OPEN || (sent.cols === term.cols && sent.rows === term.rows)) return;
    sent.cols = term.cols;
    sent.rows = term.rows;
    ws.send(JSON.stringify({ type: "resize", cols: term.cols, rows: term.rows }));
  }
  term.onResize(sendResize);
  let fitTimer = 0;
  const refit = () => {
    clearTimeout(fitTimer);
    fitTimer = setTimeout(() => { try { fit.fit(); } catch { /* hidden */ } sendResize(); }, 60);
  };
  const ro = new ResizeObserver(refit);
  ro.observe(box);

  function setFont(n, save = true) {
    n = Math.max(8, Math.min(32, Math.round(n)));
    if (n === term.options.fontSize) return;
    term.options.fontSize = n;
    if (save) localStorage.setItem(FONT_KEY, String(n));
    size.textContent = n;
    refit();
  }

  // ---- touch: pinch to zoom, long-press to select ----
  let pinch = null;
  let press = null;
  const dist = (t) => Math.hypot(t[0].clientX - t[1].clientX, t[0].clientY - t[1].clientY);
  function cell(x, y) {
    const r = (box.querySelector(".xterm-screen") || box).getBoundingClientRect();
    const col = Math.max(0, Math.min(term.cols - 1, Math.floor(((x - r.left) / r.width) * term.cols)));
    const row = Math.max(0, Math.min(term.rows - 1, Math.floor(((y - r.top) / r.height) * term.rows)));
    return { col, row: row + term.buffer.active.viewportY };
  }
  function selectTo(a, b) {
    if (b.row < a.row || (b.row === a.row && b.col < a.col)) [a, b] = [b, a];
    term.select(a.col, a.row, (b.row - a.row) * term.cols + b.col - a.col + 1);
  }
  // xterm re-renders rows, detaching the node a finger went down on; later touch events still
  // go to that node, so the move/end handlers are attached to it, not to an ancestor.
  const hooked = new WeakSet();
  box.addEventListener("touchstart", (e) => {
    const t = e.target;
    if (!hooked.has(t)) {
      hooked.add(t);
      t.addEventListener("touchmove", touchMove, { passive: false });
      t.addEventListener("touchend", touchEnd, { passive: false });
      t.addEventListener("touchcancel", touchEnd);
    }
    clearTimeout(press?.timer);
    press = null;
    if (e.touches.length === 2) {
      pinching = true;
      pinch = { d: dist(e.touches), size: term.options.fontSize };
      e.stopPropagation();
    } else if (e.touches.length === 1) {
      const t = e.touches[0];
      const p = { x: t.clientX, y: t.clientY, anchor: null };
      p.timer = setTimeout(() => {
        p.anchor = cell(p.x, p.y);
        selectTo(p.anchor, p.anchor);
        navigator.vibrate?.(15);
      }, 450);
      press = p;
    }
  }, { capture: true, passive: false });
  function touchMove(e) {
    if (pinch && e.touches.length === 2) {
      e.preventDefault();
      e.stopPropagation();
      setFont(pinch.size * (dist(e.touches) / pinch.d), false);
    } else if (press?.anchor) {
      e.preventDefault();
      e.stopPropagation();
      const t = e.touches[0];
      selectTo(press.anchor, cell(t.clientX, t.clientY));
    } else if (press && Math.hypot(e.touches[0].clientX - press.x, e.touches[0].clientY - press.y) > 10) {
      clearTimeout(press.timer);
      press = null;
    }
  }
  function touchEnd(e) {
    clearTimeout(press?.timer);
    if (press?.anchor) e.preventDefault();
    press = null;
    if (pinch && e.touches.length < 2) {
      pinch = null;
      pinching = false;
      localStorage.setItem(FONT_KEY, String(term.options.fontSize));
      refit();
    }
  }
  box.addEventListener("wheel", (e) => {
    if (!e.ctrlKey) return;
    e.preventDefault();
    setFont(term.options.fontSize + (e.deltaY < 0 ? 1 : -1));
  }, { passive: false });

  term.onSelectionChange(() => { copySel.hidden = !term.hasSelection(); });
  async function copySelection() {
    const text = term.getSelection();
    if (!text) return;
    toast((await copyText(text)) ? `Copied ${text.length} characters` : "Copy failed: the browser blocked the clipboard.", "ok");
    term.clearSelection();
    term.focus();
  }

  async function paste() {
    let text = null;
    try {
      text = await navigator.clipboard.readText();
    } catch {
      text = await ask({ title: "Paste", label: "The browser does not let this page read the clipboard. Paste the text here:", multiline: true, ok: "Send", tid: "paste" });
    }
    if (text) term.paste(text);
    else if (text === "") toast("The clipboard is empty.");
    term.focus();
  }

  // ---- connection ----
  function connect() {
    clearTimeout(retryTimer);
    if (ended || dead || ws) return;
    setState("connecting", "connecting…");
    try { fit.fit(); } catch { /* hidden */ }
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/${enc(name)}?cols=${term.cols}&rows=${term.rows}`;
    const sock = new WebSocket(url);
    ws = sock;
    sock.binaryType = "arraybuffer";
    sock.onopen = () => {
      if (ws !== sock) return;
      backoff = 1000;
      term.reset();
      sent.cols = sent.rows = 0;
      setState("live", "live");
      sendResize();
    };
    sock.onmessage = (e) => term.write(typeof e.data === "string" ? e.data : new Uint8Array(e.data));
    sock.onclose = (e) => {
      if (ws !== sock || dead) return;
      ws = null;
      if (e.code === 4040 && restarting) return; // restart() connects again
      if (e.code === 4001) return toLogin();
      const gone = e.code === 4040;
      setState("closed", gone ? "ended" : "disconnected");
      check(gone);
    };
  }

  /** After a close (gone: the daemon said the session ended): is the session still there and running? */
  async function check(gone) {
    try {
      const s = await api(`/api/sessions/${enc(name)}`);
      if (gone || s.status !== "running") return showEnded(s);
    } catch (e) {
      if (e.redirecting) return;
      if (e.status === 404) return showGone(root, name);
      if (gone) return showEnded(null);
    }
    if (dead || ended) return;
    const wait = backoff;
    backoff = Math.min(backoff * 2, 30000);
    setState("closed", `reconnecting in ${Math.round(wait / 1000)} s`);
    retryTimer = setTimeout(connect, wait);
  }

  /**
   * The session is not running: its last screen read-only (from capture: a tmux client that
   * detaches may have cleared what this page showed), the exit status and Restart.
   */
  async function showEnded(s, fresh = false) {
    if (dead) return;
    ended = true;
    const say = (code) => {
      setState("ended", code != null ? `exited (${code})` : "exited");
      endText.textContent = code != null ? `The agent exited with status ${code}.` : "The agent is not running.";
    };
    say(s?.exitStatus);
    // tmux may report the exit status a refresh after the pane died: ask once more.
    if (s && s.exitStatus == null) setTimeout(() => api(`/api/sessions/${enc(name)}`).then((n) => ended && !dead && n.exitStatus != null && say(n.exitStatus), () => {}), 1000);
    term.options.disableStdin = true;
    bar.hidden = more.hidden = stopBtn.hidden = true;
    endPanel.hidden = false;
    try {
      const c = await api(`/api/sessions/${enc(name)}/capture?lines=2000`);
      if (dead || !ended) return;
      term.reset();
      term.write(c.text.replace(/\r?\n/g, "\r\n"));
    } catch (e) {
      if (fresh && e.status === 409) endText.append(" Its last screen was not kept.");
    }
    term.write("\x1b[?25l");
  }
  /** Starts the session again from its record (confirming first while it runs) and reconnects. */
  async function restart(btn, confirm) {
    menu.close();
    if (confirm && !ended && !(await confirmDialog(`Restart ${name}? Its agent is ended and started again.`, "Restart"))) return;
    restarting = true;
    const r = await busy(btn, () => post(`/api/sessions/${enc(name)}/respawn`));
    restarting = false;
    if (!r || dead) return;
    if (r.session) cur = r.session;
    const old = ws;
    ws = null;
    old?.close(1000);
    clearTimeout(retryTimer);
    ended = false;
    backoff = 1000;
    endPanel.hidden = true;
    bar.hidden = stopBtn.hidden = false;
    term.options.disableStdin = false;
    term.reset();
    connect();
    term.focus();
  }
  async function stop() {
    menu.close();
    if (await confirmDialog(`Stop ${name}? Restart starts it again.`, "Stop")) {
      await busy(stopBtn, () => post(`/api/sessions/${enc(name)}/stop`));
    }
  }

  const wake = () => {
    if (document.visibilityState === "visible" && !ws && !ended && !dead) {
      backoff = 1000;
      connect();
    }
  };
  document.addEventListener("visibilitychange", wake);
  addEventListener("online", wake);
  addEventListener("pageshow", wake);

  pg.cleanup(() => {
    dead = true;
    clearTimeout(retryTimer);
    clearTimeout(fitTimer);
    clearTimeout(press?.timer);
    ro.disconnect();
    document.removeEventListener("visibilitychange", wake);
    removeEventListener("online", wake);
    removeEventListener("pageshow", wake);
    ws?.close(1000);
    term.dispose();
    if (window.__llmuxTerm === term) delete window.__llmuxTerm;
  });

  size.textContent = term.options.fontSize;
  if (rec?.status === "exited") showEnded(rec, true);
  else {
    connect();
    term.focus();
  }
}

/** A session that does not exist (or not for me): a message and a way back, nothing else. */
function showGone(root, name) {
  document.getElementById("slot").replaceChildren();
  root.replaceChildren(h("div", { class: "page narrow" },
    h("div", { class: "card", tid: "no-session", role: "alert" },
      h("h2", {}, "No such session"),
      h("p", {}, `There is no session named ${name} (removed, or a mistyped link).`),
      h("a", { class: "btn primary", href: "/", tid: "back-to-list" }, "Back to sessions"))));
}

/** Loads xterm.js and its fit and web-links addons (classic scripts) once, only on the terminal page. */
function loadXterm() {
  if (window.Terminal && window.FitAddon && window.WebLinksAddon) return Promise.resolve();
  const load = (src) => new Promise((resolve) => {
    const existing = document.querySelector(`script[data-src="${src}"]`);
    if (existing) { existing.addEventListener("load", resolve); existing.addEventListener("error", resolve); return; }
    const el = document.createElement("script");
    el.src = src;
    el.dataset.src = src;
    el.onload = resolve;
    el.onerror = resolve; // the caller reports a missing component
    document.head.append(el);
  });
  return load("/vendor/xterm/xterm.js")
    .then(() => Promise.all([load("/vendor/xterm/addon-fit.js"), load("/vendor/xterm/addon-web-links.js")]));
}
