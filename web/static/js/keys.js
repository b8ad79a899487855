// The terminal's soft keyboard for phones: pages of 8 keys (each at least 44×44 CSS px) that
// snap as you swipe, with dots showing the page; Ctrl/Alt/Shift are sticky (tap: next key,
// double-tap: lock); ⋯ opens a panel of F-keys and symbols.

import { h } from "./ui.js";

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

/**
 * Builds the key bar and the ⋯ panel. send(bytes) writes to the session; onReset and onPaste
 * are the Reset and Paste keys. Returns { bar, more, mods(), consume() } for typed characters.
 */
export function keyBoard({ send, onReset, onPaste }) {
  const mods = { ctrl: "off", alt: "off", shift: "off" };
  const lastTap = {};
  const modBtns = {};
  const active = () => ({ ctrl: mods.ctrl !== "off", alt: mods.alt !== "off", shift: mods.shift !== "off" });
  const more = h("div", { class: "kmore", id: "kmore", hidden: true, role: "group", "aria-label": "More keys" });
  const acts = {
    ctrlc: () => send("\x03"),
    paste: onPaste,
    reset: onReset,
    more: (e) => { more.hidden = !more.hidden; e.currentTarget.setAttribute("aria-expanded", String(!more.hidden)); },
  };
  // A modifier, an action above, a special key (keySeq) or a character.
  const mk = (id, label, aria = label) => {
    if (id in mods) return (modBtns[id] = h("button", { class: "key mod", tid: `key-${id}`, "aria-pressed": "false", "aria-label": aria, onclick: () => tapMod(id) }, label));
    const act = acts[id] || (() => { send(keySeq(id) ? keySeq(id, active()) : applyMods(label, active())); consume(); });
    return h("button", { class: "key", tid: id ? `key-${id}` : null, "aria-label": aria, onclick: act }, label);
  };
  /** Keys from "id,label,aria-label;…" (the aria-label defaults to the label). */
  const keys = (spec) => spec.split(";").map((k) => mk(...k.split(",")));
  more.append(...keys(`${Array.from({ length: 12 }, (_, i) => `f${i + 1},F${i + 1}`).join(";")};ins,Ins,Insert;enter,⏎,Enter`),
    ...[..."()[]{}<>=+*&;:'\"$#@!?%^`"].map((c) => mk("", c)), mk("reset", "Reset", "Reset the terminal"));
  const groups = [
    "esc,Esc,Escape;tab,Tab;ctrl,Ctrl;ctrlc,^C,Control-C (interrupt);left,←,Left;down,↓,Down;up,↑,Up;right,→,Right",
    "alt,Alt;shift,⇧,Shift;tilde,~;slash,/;backslash,\\,Backslash;pipe,|,Pipe;dash,-,Dash;underscore,_,Underscore",
    "home,Home;end,End;pgup,Pg↑,Page up;pgdn,Pg↓,Page down;del,Del,Delete;bsp,⌫,Backspace;paste,Paste;more,⋯,More keys",
  ];
  const pages = groups.map((g, i) => h("div", { class: "kpage", role: "group", "aria-label": `Keys, page ${i + 1} of 3` }, keys(g)));
  const moreBtn = pages[2].lastChild;
  moreBtn.setAttribute("aria-expanded", "false");
  moreBtn.setAttribute("aria-controls", "kmore");
  const scroller = h("div", { class: "kpages", tid: "key-pages" }, pages);
  const dots = h("div", { class: "kdots", tid: "key-dots", "aria-hidden": "true" }, pages.map(() => h("i")));
  // A page's dot is lit while the page is wholly in view (wide screens show several at once).
  const paintDots = () => {
    const l = scroller.scrollLeft;
    const r = l + scroller.clientWidth;
    pages.forEach((p, i) => dots.children[i].classList.toggle("on", p.offsetLeft >= l - 2 && p.offsetLeft + p.offsetWidth <= r + 2));
    dots.hidden = !dots.querySelector("i:not(.on)");
  };
  scroller.addEventListener("scroll", paintDots, { passive: true });
  new ResizeObserver(paintDots).observe(scroller);
  const bar = h("div", { class: "kbar", tid: "key-bar", role: "toolbar", "aria-label": "Terminal keys" }, scroller, dots);
  // Keep the focus (and a phone's keyboard) in the terminal while tapping keys.
  for (const el of [bar, more]) el.addEventListener("mousedown", (e) => { if (e.target.closest("button")) e.preventDefault(); });

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
  paintMods();
  return { bar, more, mods: active, consume };
}
