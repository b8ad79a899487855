// DOM helpers. Every value from a user, an agent or the server goes in as text or as an
// attribute; nothing here ever parses markup.

const PROPS = new Set(["value", "checked", "disabled", "hidden", "selected", "indeterminate", "open"]);

/** h("button", {class, tid, onclick, ...attrs}, ...children): children are nodes or text. Buttons default to type=button. */
export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  if (tag === "button") el.type = "button";
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "tid") el.setAttribute("data-testid", v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (PROPS.has(k)) el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  el.append(...kids.flat(9).filter((c) => c != null && c !== false).map((c) => (c instanceof Node ? c : String(c))));
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const enc = encodeURIComponent;
export const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** A link only for http(s) URLs; anything else is shown as text. */
export function safeLink(url, text, attrs = {}) {
  try {
    const u = new URL(url, location.origin);
    if (u.protocol === "http:" || u.protocol === "https:") return h("a", { href: u.href, ...attrs }, text || url);
  } catch { /* not a URL */ }
  return h("span", {}, text || url);
}

export function toast(message, kind = "ok", ms) {
  const region = $("[data-testid=toast]");
  const el = h("div", { class: `toast ${kind}`, onclick: () => el.remove() }, message);
  region.append(el);
  setTimeout(() => el.remove(), ms || (kind === "error" ? 9000 : 4500));
  return el;
}

/** Runs fn with the button disabled; failures become an error toast. Resolves to fn's result or undefined. */
export async function busy(btn, fn, done) {
  const btns = [btn].flat().filter(Boolean);
  for (const b of btns) { b.disabled = true; b.setAttribute("aria-busy", "true"); }
  try {
    const r = await fn();
    if (done) toast(typeof done === "function" ? done(r) : done);
    return r;
  } catch (e) {
    if (!e.redirecting) toast(e.message || String(e), "error");
  } finally {
    for (const b of btns) { b.disabled = false; b.removeAttribute("aria-busy"); }
  }
}

/** The confirm <dialog> of index.html; resolves true on OK. */
export function confirmDialog(text, okLabel = "OK", danger = true) {
  const d = $("#confirm");
  $("[data-testid=confirm-text]", d).textContent = text;
  const ok = $("[data-testid=confirm-ok]", d);
  ok.textContent = okLabel;
  ok.className = danger ? "btn danger" : "btn primary";
  d.returnValue = "";
  d.showModal();
  $("[data-testid=confirm-cancel]", d).focus();
  return new Promise((res) => d.addEventListener("close", () => res(d.returnValue === "ok"), { once: true }));
}

/** A small dialog asking for one value; resolves to the string, or null when cancelled. */
export function ask({ title, label, value = "", type = "text", ok = "Save", tid = "ask", multiline = false, hint }) {
  const input = multiline
    ? h("textarea", { id: "ask-in", rows: 6, tid: `${tid}-input` })
    : h("input", { id: "ask-in", type, tid: `${tid}-input`, autocomplete: type === "password" ? "new-password" : "off" });
  input.value = value;
  const d = h("dialog", { "aria-labelledby": "ask-t" },
    h("form", { method: "dialog" },
      h("h2", { id: "ask-t" }, title),
      h("label", { for: "ask-in" }, label), input,
      hint && h("p", { class: "hint" }, hint),
      h("div", { class: "row end" },
        h("button", { class: "btn", onclick: () => d.close("cancel") }, "Cancel"),
        h("button", { type: "submit", class: "btn primary", value: "ok", tid: `${tid}-ok` }, ok))));
  document.body.append(d);
  d.showModal();
  input.focus();
  input.select?.();
  return new Promise((res) => d.addEventListener("close", () => {
    res(d.returnValue === "ok" ? input.value : null);
    d.remove();
  }, { once: true }));
}

/**
 * A ⋯ menu (the sessions list's and the terminal's): a modal <dialog class="smenu"> of kids,
 * a sheet at the bottom of a phone, beside its button from 760 px wide (popMenu opens it).
 * A tap on the backdrop or on a link closes it; Escape too (the browser's own).
 */
export function menuDialog(props, ...kids) {
  const d = h("dialog", { class: "smenu", ...props }, h("div", {}, kids));
  d.addEventListener("click", (e) => { if (e.target === d || e.target.closest("a")) d.close(); });
  return d;
}

/** Opens menu d from button b: below it, or above it where the screen ends (wide screens). */
export function popMenu(d, b) {
  d.removeAttribute("style");
  d.showModal();
  if (matchMedia("(max-width: 759px)").matches) return;
  const r = b.getBoundingClientRect();
  const m = d.getBoundingClientRect();
  const top = r.bottom + 4 + m.height > innerHeight ? Math.max(8, r.top - 4 - m.height) : r.bottom + 4;
  Object.assign(d.style, { margin: "0", inset: `${top}px auto auto ${Math.max(8, r.right - m.width)}px` });
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = h("textarea", { class: "sr", readonly: true });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch { /* unsupported */ }
    ta.remove();
    return ok;
  }
}

/** A copy-to-clipboard button for a value. */
export function copyBtn(text, label = "Copy") {
  return h("button", {
    type: "button", class: "btn sm", "aria-label": `${label}: ${text}`,
    onclick: async () => toast((await copyText(text)) ? "Copied" : "Copy failed: select the text and copy it by hand", "ok"),
  }, label);
}

export function ago(iso) {
  const t = Date.parse(iso);
  if (!t) return "—";
  const s = Math.max(0, (Date.now() - t) / 1000);
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 172800) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

// One formatter for all: toLocaleString builds a new Intl formatter on every call (slow × 100 rows).
let whenFmt;
export const when = (iso) => {
  if (!iso) return "—";
  whenFmt ??= new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  return whenFmt.format(new Date(iso));
};

/**
 * Gives el the title `${prefix}${when(iso)}` once a pointer or focus reaches it. The first date
 * formatted loads the browser's locale data (~70 ms on a cold page): a list of 100 rows must not
 * pay that before it can be used, for titles nobody has looked at yet.
 */
export function lazyWhen(el, iso, prefix = "") {
  if (el.dataset.when === (iso || undefined) && el.dataset.whenPrefix === prefix) return; // unchanged: keep its title
  el.removeAttribute("title");
  if (!iso) { delete el.dataset.when; return; }
  el.dataset.when = iso;
  el.dataset.whenPrefix = prefix;
}
function fillWhen(e) {
  const el = e.target.closest?.("[data-when]");
  if (el && !el.hasAttribute("title")) el.title = `${el.dataset.whenPrefix || ""}${when(el.dataset.when)}`;
}
document.addEventListener("pointerover", fillWhen, { passive: true });
document.addEventListener("focusin", fillWhen);

/** A <time> showing "3m ago" with the full date as its title. */
export function timeAgo(iso, tid) {
  const t = h("time", { datetime: iso, tid }, ago(iso));
  lazyWhen(t, iso);
  return t;
}

export function section(title, ...kids) {
  return h("section", { class: "card" }, title && h("h2", {}, title), ...kids);
}

/** A labelled form field: label, control, optional hint, and an error line. */
export function field(id, label, control, hint, errTid) {
  control.id = `f-${id}`;
  const ids = [];
  const hintEl = hint != null && h("p", { class: "hint", id: `h-${id}` }, hint);
  if (hintEl) ids.push(`h-${id}`);
  const err = errTid && h("p", { class: "ferr", id: `e-${id}`, tid: errTid, hidden: true });
  if (err) ids.push(`e-${id}`);
  if (ids.length) control.setAttribute("aria-describedby", ids.join(" "));
  return h("div", { class: "field" }, h("label", { for: `f-${id}` }, label), control, hintEl, err);
}

export function setError(root, id, message) {
  const err = root.querySelector(`#e-${id}`);
  const ctl = root.querySelector(`#f-${id}`);
  if (err) { err.textContent = message || ""; err.hidden = !message; }
  if (ctl) { if (message) ctl.setAttribute("aria-invalid", "true"); else ctl.removeAttribute("aria-invalid"); }
}

export const lines = (text) => text.split("\n").map((l) => l.trim()).filter(Boolean);
