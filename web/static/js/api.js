// The REST client and the live session list (server-sent events; no polling).

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Sends the browser to the sign-in page, coming back here afterwards. */
export function toLogin() {
  location.assign(`/login?returnTo=${encodeURIComponent(location.pathname + location.search)}`);
}

/** fetch() for the JSON API: same-origin credentials, JSON bodies, errors as ApiError. */
export async function api(path, { method = "GET", body, signal } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" }, signal };
  if (method !== "GET") {
    init.headers["Content-Type"] = "application/json";
    // Applied once by the daemon (issue 19); getRandomValues works without a secure context.
    init.headers["Idempotency-Key"] = crypto.getRandomValues(new Uint32Array(4)).join("-");
    if (body !== undefined || method !== "DELETE") init.body = JSON.stringify(body ?? {});
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, "network", "Cannot reach the llmux daemon (network error).");
  }
  if (res.status === 401) {
    toLogin();
    const e = new ApiError(401, "unauthorized", "Signed out; redirecting to sign-in.");
    e.redirecting = true;
    throw e;
  }
  let data = null;
  try { data = await res.json(); } catch { /* empty or not JSON */ }
  if (!res.ok) {
    const msg = data?.error || (res.status === 403 ? "You are not allowed to do that." : `Request failed (HTTP ${res.status}).`);
    throw new ApiError(res.status, data?.code || "", msg);
  }
  return data;
}

export const post = (path, body) => api(path, { method: "POST", body });
export const patch = (path, body) => api(path, { method: "PATCH", body });
export const del = (path) => api(path, { method: "DELETE" });

/** The signed-in user ({username, name, admin, via}), set by app.js before any page runs. */
export const me = { username: "", name: "", admin: false };

// ---- live sessions ----
let sessions = null;
let source = null;
let live = false;
let retry = 1000;
let fromEvents = false;
let retryTimer = 0;
const listeners = new Set();
const stateListeners = new Set();
const agentListeners = new Set();

let sessionsJson = null; // the JSON text of `sessions`, when known
function publish(list, json = null) {
  sessions = list;
  sessionsJson = json;
  for (const fn of listeners) fn(list);
}

function setLive(v) {
  if (live === v) return;
  live = v;
  for (const fn of stateListeners) fn(v);
}

let firstLoad = null;
/** Fetches the list once (first paint, and after changes while the event stream is down). */
export function refreshSessions() {
  // Until the first list arrives, every caller shares one request (index.html preloads it).
  if (!sessions && firstLoad) return firstLoad;
  const load = api("/api/sessions").then((list) => {
    if (!fromEvents || !live) publish(list);
  }).finally(() => { if (firstLoad === load) firstLoad = null; });
  if (!sessions) firstLoad = load;
  return load;
}

function connectEvents() {
  clearTimeout(retryTimer);
  if (source) return;
  source = new EventSource("/api/events");
  source.addEventListener("sessions", (e) => {
    try {
      fromEvents = true;
      retry = 1000;
      setLive(true);
      // The stream's first event usually repeats the list just fetched: no re-render for it.
      if (sessions && e.data === (sessionsJson ??= JSON.stringify(sessions))) return;
      publish(JSON.parse(e.data), e.data);
    } catch { /* malformed event */ }
  });
  // One agent changed state: patch the cached list (the next `sessions` event agrees).
  source.addEventListener("state", (e) => {
    let ev;
    try { ev = JSON.parse(e.data); } catch { return; }
    if (sessions?.some((s) => s.name === ev.name)) {
      publish(sessions.map((s) => (s.name === ev.name
        ? { ...s, state: ev.state, stateSince: ev.since, waitingFor: ev.waitingFor, prompt: ev.prompt, resetsAt: ev.resetsAt }
        : s)));
    }
    for (const fn of agentListeners) fn(ev);
  });
  source.onopen = () => setLive(true);
  source.onerror = () => {
    setLive(false);
    if (source.readyState !== EventSource.CLOSED) return; // the browser retries by itself
    source.close();
    source = null;
    // Refused (signed out? no such route?): check the credential, then retry with backoff.
    api("/api/auth/whoami").then(() => {
      retryTimer = setTimeout(connectEvents, retry);
      retry = Math.min(retry * 2, 30000);
    }, () => {});
  };
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && (listeners.size || agentListeners.size) && !source) connectEvents();
});

/** Starts loading the session list early (the first page is usually the list). */
export function prefetchSessions() {
  if (sessions || source) return;
  refreshSessions().catch(() => {});
  connectEvents();
}

/** Calls fn with the session list now (if known) and on every change; returns an unsubscribe. */
export function onSessions(fn) {
  listeners.add(fn);
  if (sessions) fn(sessions);
  else refreshSessions().catch(() => {});
  connectEvents();
  return () => listeners.delete(fn);
}

/** Calls fn({name, owner, state, previous, since, waitingFor?, prompt?, resetsAt?}) on every agent state change. */
export function onStateChange(fn) {
  agentListeners.add(fn);
  connectEvents();
  return () => agentListeners.delete(fn);
}

/** Calls fn(true|false) when the live stream connects or drops. */
export function onLive(fn) {
  stateListeners.add(fn);
  fn(live);
  return () => stateListeners.delete(fn);
}

/** After a change: the stream will report it; without a stream, fetch the list once. */
export function changed() {
  if (!live) refreshSessions().catch(() => {});
}
