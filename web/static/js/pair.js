// "Pair a device": a one-time pairing code (what `llmux pair` makes: it works once, for 5
// minutes, and signs the device in as you), shown as a QR code, a link and a countdown. On the
// tokens and about pages and at the end of setup. No API token is minted. It takes the page's
// element helpers (ui.js `h` and `copyBtn` in the app; small ones on the setup page, which
// does not load ui.js).

/** An <img> of an SVG string, as a data: URL (never parsed into this document). */
export function svgImg(h, svg, attrs) {
  const bytes = new TextEncoder().encode(svg);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return h("img", { src: `data:image/svg+xml;base64,${btoa(bin)}`, ...attrs });
}

/** The "Pair a device" button, its error line and the card it fills; `post(path)` is a JSON POST. */
export function pairDevice(post, h, copyBtn) {
  const card = h("div", { class: "pair", tid: "pair-card", role: "region", "aria-label": "Pairing code", hidden: true });
  const err = h("p", { class: "error", role: "alert", hidden: true });
  const btn = h("button", { type: "button", class: "btn primary", tid: "pair-device" }, "Pair a device");
  let timer = 0;
  btn.addEventListener("click", async () => {
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
      p.qrSvg ? svgImg(h, p.qrSvg, { tid: "pair-qr", alt: "QR code of the pairing link", width: 200, height: 200 }) : "",
      h("div", {},
        h("p", {}, `${p.qrSvg ? "Scan this code with your phone's camera, or open" : "Open"} this link on it to sign it in as you, without a passphrase:`),
        h("p", { class: "secret" }, h("code", { tid: "pair-link" }, url), copyBtn(url, "Copy link")),
        h("p", { class: "muted small" }, left)));
    tick();
    timer = setInterval(tick, 1000);
    card.hidden = false;
    btn.textContent = "New pairing code";
  });
  return [btn, err, card];
}
