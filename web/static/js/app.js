// The app shell: who is signed in, the menu, page lifecycle, the service worker.

import * as kit from "./api.js";
import { api, post, me, toLogin, prefetchSessions } from "./api.js";
import { h, $, toast } from "./ui.js";
import { start, navigate } from "./router.js";

const main = $("#main");
const nav = $("#nav");
const menu = $("#menu");
const scrim = $("#scrim");
let host = "";

// The visible viewport (it shrinks when a phone's keyboard opens), for the terminal's height.
// Only the terminal page uses it: a custom property set on the root restyles every element,
// which a list of 100 sessions should not pay for on load.
const vv = window.visualViewport;
function fitViewport() {
  if (!vv || !document.body.classList.contains("term")) return;
  document.documentElement.style.setProperty("--vvh", `${vv.height}px`);
  document.documentElement.style.setProperty("--vvtop", `${vv.offsetTop}px`);
}
vv?.addEventListener("resize", fitViewport);
vv?.addEventListener("scroll", fitViewport);

function setMenu(open) {
  menu.setAttribute("aria-expanded", String(open));
  nav.classList.toggle("open", open);
  scrim.hidden = !open;
  if (open) nav.querySelector("a")?.focus();
}
menu.addEventListener("click", () => setMenu(menu.getAttribute("aria-expanded") !== "true"));
scrim.addEventListener("click", () => setMenu(false));
nav.addEventListener("click", (e) => { if (e.target.closest("a")) setMenu(false); });
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && nav.classList.contains("open")) { setMenu(false); menu.focus(); }
});

$("#logout").addEventListener("click", async (e) => {
  e.currentTarget.disabled = true;
  try { await post("/api/auth/logout", {}); } catch { /* signed out either way */ }
  location.assign("/login");
});

let waitingN = 0;
/** Sets the header title and the document title ("(N) " = my sessions waiting for me). */
export function setTitle(text) {
  $("#title").textContent = text;
  document.title = `${waitingN ? `(${waitingN}) ` : ""}${text ? `${text} · ` : ""}llmux${host ? ` on ${host}` : ""}`;
}

// ---- page lifecycle ----
let current = null; // {controller, cleanups}
let seq = 0;

async function onRoute(m, isNav) {
  const my = ++seq;
  if (current) {
    current.controller.abort();
    for (const fn of current.cleanups) { try { fn(); } catch { /* already gone */ } }
    current = null;
  }
  $("#slot").replaceChildren();
  for (const a of nav.querySelectorAll("a")) {
    if (m && a.getAttribute("href") === m.route.path) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.body.classList.toggle("term", m?.route.mod === "terminal");
  fitViewport();
  const page = { controller: new AbortController(), cleanups: [] };
  current = page;
  const ctx = { ...kit, navigate, signal: page.controller.signal, cleanup: (fn) => page.cleanups.push(fn), setTitle };
  if (!m) {
    setTitle("Not found");
    main.replaceChildren(h("div", { class: "pad" }, h("h1", {}, "Page not found"), h("p", {}, h("a", { href: "/" }, "Back to the sessions"))));
    return;
  }
  setTitle(m.route.title || m.params.name || "");
  if (m.route.admin && !me.admin) {
    main.replaceChildren(h("div", { class: "pad" }, h("h1", {}, m.route.title), h("p", {}, "This page is for admins only.")));
    return;
  }
  let mod;
  try {
    // On-demand bundles load by absolute URL, so the bundler keeps them out of app.js.
    const { mod: name } = m.route;
    mod = await (name.startsWith("pages/") ? import(`/static/${name}.js`) : import(`./${name}.js`));
  } catch {
    main.replaceChildren(h("p", { class: "pad error", role: "alert" }, "Could not load this page; reload to try again."));
    return;
  }
  if (my !== seq) return;
  main.replaceChildren();
  if (isNav) main.focus({ preventScroll: true });
  try {
    await mod.default(main, m.params, ctx);
  } catch (e) {
    if (e.name === "AbortError" || e.redirecting || my !== seq) return;
    main.append(h("p", { class: "pad error", role: "alert" }, e.message || String(e)));
  }
}

async function boot() {
  // On the sessions page, fetch the page's module and its data while whoami is in flight.
  if (location.pathname === "/") {
    import("./sessions.js").catch(() => {});
    prefetchSessions();
  }
  try {
    Object.assign(me, await api("/api/auth/whoami"));
  } catch (e) {
    if (!e.redirecting) main.replaceChildren(h("p", { class: "pad error", role: "alert" }, e.message));
    return;
  }
  if (me.admin) $("#nav-admin").hidden = false;
  else $("#nav-admin").remove();
  $("#who").textContent = me.name && me.name !== me.username ? `${me.name} (${me.username})` : me.username;
  start(onRoute);
  import("./agent.js").then((m) => m.startNotify((n) => {
    if (n === waitingN) return;
    waitingN = n;
    setTitle($("#title").textContent);
    navigator.setAppBadge?.(n).catch(() => {});
  }), () => {});
  api("/api/about").then((a) => {
    host = a.hostname || "";
    $("#host").textContent = host;
    setTitle($("#title").textContent);
  }, () => {});
}

boot();

// Cache static assets for speed; the worker never stores API responses or pages.
// Registered after the page has loaded and rendered: the worker's install never competes with
// the first paint of the list.
if ("serviceWorker" in navigator && window.isSecureContext) {
  const register = () => setTimeout(() => navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {}), 500);
  if (document.readyState === "complete") register();
  else addEventListener("load", register, { once: true });
}

addEventListener("unhandledrejection", (e) => {
  const err = e.reason;
  if (err?.redirecting || err?.name === "AbortError") return;
  if (err?.status === 401) return toLogin();
  toast(err?.message || "Something went wrong.", "error");
});
