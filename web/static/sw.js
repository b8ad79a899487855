// llmux service worker: caches static assets (/static/*, /vendor/*) only. API responses,
// event streams, WebSockets and pages (which need a signed-in user) always go to the network.
// It also shows Web Push notifications (see js/push.js) and opens their session on a click.
const CACHE = "llmux-static-v1";

// Whether this worker may fetch at all (a strict CSP on sw.js would forbid it): until a probe
// says yes, requests pass through untouched, so the worker can never break the page.
let canFetch = null;
const probe = () => fetch("/static/manifest.webmanifest", { cache: "no-store" })
  .then((r) => { canFetch = r.ok; }, () => { canFetch = false; });
probe();

self.addEventListener("install", (e) => {
  // Pages, the API and event streams skip this worker entirely (no worker start-up, no hop
  // through it): the fetch handler below would pass them through anyway.
  try {
    e.addRoutes?.([
      { condition: { requestMode: "navigate" }, source: "network" },
      { condition: { urlPattern: "/api/*" }, source: "network" },
    ])?.catch?.(() => {});
  } catch { /* no static routing here */ }
  e.waitUntil(probe());
  self.skipWaiting();
});
self.addEventListener("activate", (e) => {
  e.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (e) => {
  const url = new URL(e.request.url);
  if (!canFetch || e.request.method !== "GET" || url.origin !== location.origin) return;
  if (!url.pathname.startsWith("/static/") && !url.pathname.startsWith("/vendor/")) return;
  if (url.pathname.endsWith(".html")) return;
  // Versioned URLs (?v=<hash>) never change: cache first. Others: network first, cache offline.
  e.respondWith(url.searchParams.has("v") ? cacheFirst(e.request) : networkFirst(e.request));
});

async function cacheFirst(req) {
  const hit = await caches.match(req);
  return hit || store(req, await fetch(req));
}

async function networkFirst(req) {
  try {
    return await store(req, await fetch(req));
  } catch (err) {
    const hit = await caches.match(req);
    if (hit) return hit;
    throw err;
  }
}

async function store(req, res) {
  if (res.ok && res.type === "basic") {
    const cache = await caches.open(CACHE);
    await cache.put(req, res.clone());
  }
  return res;
}

// A push from the daemon: {title, body, session, state, url} (see crates/llmux-server/src/notify).
self.addEventListener("push", (e) => {
  let data = {};
  try {
    data = e.data ? e.data.json() : {};
  } catch {
    data = { body: e.data ? e.data.text() : "" };
  }
  const title = data.title || "llmux";
  e.waitUntil(self.registration.showNotification(title, {
    body: data.body || "",
    icon: "/static/icons/icon-192.png",
    badge: "/static/icons/icon-192.png",
    // one notification per session: a newer state replaces the older one
    tag: data.session ? `llmux-session-${data.session}` : "llmux",
    renotify: data.state === "waiting",
    requireInteraction: data.state === "waiting",
    data: { url: sameOriginPath(data.url) },
  }));
});

// A click focuses an open llmux window (navigating it to the session) or opens one.
self.addEventListener("notificationclick", (e) => {
  e.notification.close();
  const target = new URL(sameOriginPath(e.notification.data && e.notification.data.url),
    location.origin).href;
  e.waitUntil((async () => {
    const wins = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const exact = wins.find((w) => w.url === target);
    if (exact) return exact.focus();
    const ours = wins.find((w) => new URL(w.url).origin === location.origin);
    if (ours) {
      await ours.focus();
      return "navigate" in ours ? ours.navigate(target) : undefined;
    }
    return self.clients.openWindow(target);
  })());
});

// Only a path on this origin: a notification can never send the user elsewhere.
function sameOriginPath(url) {
  return typeof url === "string" && url.startsWith("/") && !url.startsWith("//") ? url : "/";
}
