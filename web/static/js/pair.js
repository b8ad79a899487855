// "Pair a device": a one-time pairing code (what `llmux pair` makes: it works once, for 5
// minutes, and signs the device in as you), shown as a QR code, a link and a countdown. A
// section of the tokens and about pages; the end of setup links to /about?pair, which makes a
// code at once. No API token is minted.

import { h, copyBtn } from "./ui.js";
import { post } from "./api.js";

/** An <img> of an SVG string, as a data: URL (never parsed into this document). */
function svgImg(svg, attrs) {
  const bytes = new TextEncoder().encode(svg);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return h("img", { src: `data:image/svg+xml;base64,${btoa(bin)}`, ...attrs });
}

/** The "Pair a device" section: `intro`, the button, its error line and the card it fills. */
export function pairSection(intro) {
  const card = h("div", { class: "pair", tid: "pair-card", role: "region", "aria-label": "Pairing code", hidden: true });
  const err = h("p", { class: "error", role: "alert", hidden: true });
  let timer = 0;
  let auto = false;
  const btn = h("button", { class: "btn primary", tid: "pair-device", onclick: async () => {
    btn.disabled = true;
    err.hidden = true;
    let p;
    try {
      p = await post("/api/pairing");
    } catch (e) {
      err.textContent = `Could not make a pairing code: ${e.message}`;
      err.hidden = false;
      return;
    } finally {
      btn.disabled = false;
    }
    const url = p.url || new URL(p.path, location.origin).href;
    const end = Date.parse(p.expiresAt);
    const left = h("span", { tid: "pair-expiry" });
    clearInterval(timer);
    const tick = () => {
      const s = Math.round((end - Date.now()) / 1000);
      if (s > 0 && card.isConnected) {
        left.textContent = `Works once; expires in ${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}.`;
        return;
      }
      clearInterval(timer);
      if (s <= 0) left.textContent = "Expired: make a new code.";
    };
    card.replaceChildren(
      p.qrSvg ? svgImg(p.qrSvg, { tid: "pair-qr", alt: "QR code of the pairing link", width: 200, height: 200 }) : "",
      h("div", {},
        h("p", {}, `${p.qrSvg ? "Scan this code with your phone's camera, or open" : "Open"} this link on it to sign it in as you, without a passphrase:`),
        h("p", { class: "secret" }, h("code", { tid: "pair-link" }, url), copyBtn(url, "Copy link")),
        h("p", { class: "muted small" }, left)));
    tick();
    timer = setInterval(tick, 1000);
    card.hidden = false;
    btn.textContent = "New pairing code";
    if (auto) card.scrollIntoView({ block: "nearest" });
    auto = false;
  } }, "Pair a device");
  const sec = h("section", { class: "card", tid: "pair-section" }, h("h2", {}, "Pair a device"), h("p", { class: "muted" }, intro), btn, err, card);
  // Arrived from setup's "Pair a device" (/about?pair): make the code now, once, and show it.
  if (new URLSearchParams(location.search).has("pair")) {
    history.replaceState(null, "", location.pathname);
    auto = true;
    queueMicrotask(() => btn.click());
  }
  return sec;
}
