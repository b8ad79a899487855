// /s/<name>: the session's terminal over a WebSocket, with a soft-keyboard toolbar for phones.

import { h, enc, toast, busy, copyText, ask } from "./ui.js";
import { api, post, toLogin, onSessions } from "./api.js";
import { stateBadge, paintState, bell } from "./agent.js";

const FONT_KEY = "llmux.term.fontSize";
const CSI_LETTER = { up: "A", down: "B", right: "C", left: "D", home: "H", end: "F" };
const TILDE = { pgup: 5, pgdn: 6, del: 3, ins: 2, f5: 15, f6: 17, f7: 18, f8: 19, f9: 20, f10: 21, f11: 23, f12: 24 };

/** The bytes a special key sends, with xterm's modifier encoding (1 + shift + 2·alt + 4·ctrl). */
export function keySeq(key, m = {}) {
  const mod = 1 + (m.shift ? 1 : 0) + (m.alt ? 2 : 0) + (m.ctrl ? 4 : 0);
  const alt = m.alt ? "\x1b" : "";
  if (CSI_LETTER[key]) return mod > 1 ? `\x1b[1;${mod}${CSI_LETTER[key]}` : `\x1b[${CSI_LETTER[key]}`;
  if (TILDE[key]) return `\x1b[${TILDE[key]}${mod > 1 ? `;${mod}` : ""}~`;
  const f = ["f1", "f2", "f3", "f4"].indexOf(key);
  if (f >= 0) return mod > 1 ? `\x1b[1;${mod}${"PQRS"[f]}` : `\x1bO${"PQRS"[f]}`;
  if (key === "tab") return m.shift ? "\x1b[Z" : `${alt}\t`;
  if (key === "esc") return `${alt}\x1b`;
  if (key === "enter") return `${alt}\r`;
  if (key === "bsp") return `${alt}\x7f`;
  return "";
}

/** One typed character with sticky modifiers applied (Shift upper-cases, Ctrl maps to C0, Alt prefixes ESC). */
export function applyMods(c, m = {}) {
  if (m.shift) c = c.toUpperCase();
  if (m.ctrl) {
    const u = c.toUpperCase().charCodeAt(0);
    if (c === " " || c === "2") c = "\x00";
    else if (c === "?") c = "\x7f";
    else if (c === "/") c = "\x1f";
    else if (u >= 0x40 && u <= 0x5f) c = String.fromCharCode(u & 0x1f);
  }
  return (m.alt ? "\x1b" : "") + c;
}

export default async function mount(root, { name }, pg) {
  pg.setTitle(name);
  const encoder = new TextEncoder();
  let ws = null;
  let ended = false;
  let dead = false;
  let backoff = 1000;
  let retryTimer = 0;
  let pinching = false;

  // ---- status ----
  const dot = h("span", { class: "dot", tid: "status-dot", "data-state": "connecting", role: "img", "aria-label": "connecting" });
  const statusText = h("span", { class: "stxt" }, "connecting…");
  const badge = stateBadge("term-state");
  badge.hidden = true;
  document.getElementById("slot").append(dot, statusText, badge,
    h("a", { class: "btn sm", href: `/c/${enc(name)}`, tid: "open-chat" }, "Chat"), bell(name));
  pg.cleanup(onSessions((list) => {
    const s = list.find((x) => x.name === name);
    badge.hidden = !s;
    if (s) paintState(badge, s);
  }));
  function setState(state, text) {
    dot.dataset.state = state;
    dot.setAttribute("aria-label", `Connection: ${text}`);
    statusText.textContent = text;
  }

  // ---- terminal ----
  const box = h("div", { class: "term-box", tid: "terminal" });
  await loadXterm();
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

  // ---- overlay (session ended / gone) ----
  const endTitle = h("h2", { id: "ended-title" }, "Session ended");
  const endText = h("p", {});
  const respawn = h("button", { class: "btn primary", tid: "respawn", onclick: doRespawn }, "Restart session");
  const overlay = h("div", { class: "overlay", tid: "ended-overlay", role: "alertdialog", "aria-labelledby": "ended-title", hidden: true },
    h("div", { class: "card" }, endTitle, endText, h("div", { class: "row" }, respawn, h("a", { class: "btn", href: "/" }, "Back to sessions"))));

  const copySel = h("button", { class: "btn sm primary copy-sel", tid: "copy-selection", hidden: true, onclick: copySelection }, "Copy");

  // ---- toolbar ----
  const mods = { ctrl: "off", alt: "off", shift: "off" };
  const lastTap = {};
  const modBtns = {};
  const key = (tid, label, act, aria) => h("button", { class: "key", tid, "aria-label": aria || label, onclick: act }, label);
  const special = (k) => () => { send(keySeq(k, active())); consume(); };
  const char = (c) => () => { send(applyMods(c, active())); consume(); };
  const mod = (k, label, aria = label) => (modBtns[k] = h("button", { class: "key mod", tid: `key-${k}`, "aria-pressed": "false", "aria-label": aria, onclick: () => tapMod(k) }, label));

  const more = h("div", { class: "kmore", id: "kmore", hidden: true, role: "group", "aria-label": "More keys" },
    Array.from({ length: 12 }, (_, i) => key(`key-f${i + 1}`, `F${i + 1}`, special(`f${i + 1}`))),
    key("key-ins", "Ins", special("ins"), "Insert"), key("key-del", "Del", special("del"), "Delete"),
    key("key-bsp", "⌫", special("bsp"), "Backspace"), key("key-enter", "⏎", special("enter"), "Enter"),
    [..."()[]{}<>=+*&;:'\"$#@!?%^`"].map((c) => key(null, c, char(c), c)),
    key("key-reset", "Reset", () => { term.reset(); send("\x0c"); }, "Reset the terminal"));
  const moreBtn = key("key-more", "⋯", () => {
    more.hidden = !more.hidden;
    moreBtn.setAttribute("aria-expanded", String(!more.hidden));
  }, "More keys");
  moreBtn.setAttribute("aria-expanded", "false");
  moreBtn.setAttribute("aria-controls", "kmore");

  const bar = h("div", { class: "kbar", role: "toolbar", "aria-label": "Terminal keys" },
    h("div", { class: "krow" },
      key("key-esc", "Esc", special("esc"), "Escape"), key("key-tab", "Tab", special("tab")),
      mod("ctrl", "Ctrl"), mod("alt", "Alt"), mod("shift", "⇧", "Shift"),
      key("key-ctrlc", "^C", () => send("\x03"), "Control-C (interrupt)"),
      key("key-left", "←", special("left"), "Left"), key("key-down", "↓", special("down"), "Down"),
      key("key-up", "↑", special("up"), "Up"), key("key-right", "→", special("right"), "Right"),
      key("font-dec", "A−", () => setFont(term.options.fontSize - 1), "Smaller text"),
      key("font-inc", "A+", () => setFont(term.options.fontSize + 1), "Larger text")),
    h("div", { class: "krow" },
      key("key-tilde", "~", char("~")), key("key-slash", "/", char("/")), key("key-backslash", "\\", char("\\"), "Backslash"),
      key("key-pipe", "|", char("|"), "Pipe"), key("key-dash", "-", char("-"), "Dash"), key("key-underscore", "_", char("_"), "Underscore"),
      key("key-home", "Home", special("home")), key("key-end", "End", special("end")),
      key("key-pgup", "Pg↑", special("pgup"), "Page up"), key("key-pgdn", "Pg↓", special("pgdn"), "Page down"),
      moreBtn, key("key-paste", "Paste", paste)));
  // Keep the focus (and a phone's keyboard) in the terminal while tapping keys.
  for (const el of [bar, more]) el.addEventListener("mousedown", (e) => { if (e.target.closest("button")) e.preventDefault(); });

  root.append(h("div", { class: "term-page" }, h("div", { class: "term-wrap" }, box, copySel, overlay), more, bar));
  term.open(box);
  try { fit.fit(); } catch { /* not laid out yet */ }

  function active() {
    return { ctrl: mods.ctrl !== "off", alt: mods.alt !== "off", shift: mods.shift !== "off" };
  }
  function paintMods() {
    for (const [k, b] of Object.entries(modBtns)) {
      b.setAttribute("aria-pressed", String(mods[k] !== "off"));
      b.dataset.mode = mods[k];
      b.title = mods[k] === "lock" ? "locked (tap to release)" : mods[k] === "once" ? "next key (double-tap to lock)" : "";
    }
  }
  function tapMod(k) {
    const now = Date.now();
    if (mods[k] === "off") mods[k] = "once";
    else if (mods[k] === "once" && now - (lastTap[k] || 0) < 400) mods[k] = "lock";
    else mods[k] = "off";
    lastTap[k] = now;
    paintMods();
  }
  function consume() {
    for (const k of Object.keys(mods)) if (mods[k] === "once") mods[k] = "off";
    paintMods();
  }

  // Only a person's input earns a "not connected" warning, not xterm's own replies to queries.
  let warned = 0;
  let typed = 0;
  const mark = () => { typed = Date.now(); };
  for (const ev of ["keydown", "input", "paste", "click"]) box.addEventListener(ev, mark, true);
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
    const m = active();
    if ((m.ctrl || m.alt || m.shift) && d.length === 1 && d >= " ") {
      d = applyMods(d, m);
      consume();
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
      if (e.code === 4040) {
        ended = true;
        setState("closed", "ended");
        return api(`/api/sessions/${enc(name)}`).then(() => showEnded(e.reason), (err) => (err.status === 404 ? showGone() : showEnded(e.reason)));
      }
      if (e.code === 4001) return toLogin();
      setState("closed", "disconnected");
      check();
    };
  }

  /** After an unexpected close: is the session still there and running? */
  async function check() {
    try {
      const s = await api(`/api/sessions/${enc(name)}`);
      if (s.status !== "running") return showEnded(s.exitStatus != null ? `The agent exited with status ${s.exitStatus}.` : "The agent is not running.");
    } catch (e) {
      if (e.redirecting) return;
      if (e.status === 404) return showGone();
    }
    if (dead || ended) return;
    const wait = backoff;
    backoff = Math.min(backoff * 2, 30000);
    setState("closed", `reconnecting in ${Math.round(wait / 1000)} s`);
    retryTimer = setTimeout(connect, wait);
  }

  function showEnded(reason) {
    ended = true;
    setState("closed", "ended");
    endTitle.textContent = "Session ended";
    endText.textContent = `${reason ? `${reason[0].toUpperCase()}${reason.slice(1)}. ` : ""}Restart it from its recorded settings, or go back to the list.`.replace(/\.\. /, ". ");
    respawn.hidden = false;
    overlay.hidden = false;
    respawn.focus();
  }
  function showGone() {
    ended = true;
    setState("closed", "no such session");
    endTitle.textContent = "No such session";
    endText.textContent = `There is no session named ${name} (it may have been removed).`;
    respawn.hidden = true;
    overlay.hidden = false;
  }
  async function doRespawn() {
    const r = await busy(respawn, () => post(`/api/sessions/${enc(name)}/respawn`));
    if (!r) return;
    overlay.hidden = true;
    ended = false;
    backoff = 1000;
    connect();
    term.focus();
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

  paintMods();
  connect();
  term.focus();
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
