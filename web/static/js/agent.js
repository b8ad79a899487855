// Agent state for every page: the state badge, the "Notify me" bell, and the notifications
// (toasts, the "(N)" title count, system notifications while the page is hidden).

import { h, enc, toast, busy, ago, lazyWhen } from "./ui.js";
import { api, me, onSessions, onStateChange } from "./api.js";
import { pushSupported, enablePush, setSessionPush } from "./push.js";

export const PUSH_KEY = "llmux.push";

/** The agent's state as the daemon reads it (older daemons: from the process status). */
export const stateOf = (s) => s.state || (s.status === "exited" ? "exited" : "starting");

/** An empty state badge; paintState() fills it. */
export const stateBadge = (tid = "session-state") =>
  h("span", { class: "sb", tid }, h("span", { class: "sbl" }), h("time", {}));

export function paintState(el, s) {
  const st = stateOf(s);
  const label = st === "waiting" && s.waitingFor ? `waiting: ${s.waitingFor}`
    : st === "limited" && s.resetsAt ? `limited until ${new Date(s.resetsAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}` : st;
  el.dataset.state = st;
  el.title = label;
  el.firstChild.textContent = label;
  const t = el.lastChild;
  t.dateTime = s.stateSince || "";
  lazyWhen(t, s.stateSince, "since ");
  t.textContent = s.stateSince ? ago(s.stateSince) : "";
}

// ---- the bell: push notifications about one session ----
let followedP = null;
/** Resolves to the set of session names I get notifications about (one request per page load). */
export const followedSet = () => (followedP ??= api("/api/push/sessions").then((r) => new Set(r.sessions.map((s) => s.name)), () => new Set()));

/** The bell icon, inline: an SVG in CSS would be a separate image document to build and decode. */
function bellIcon() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", "M12 22a2 2 0 0 0 2-2h-4a2 2 0 0 0 2 2m6-6v-5a6 6 0 0 0-5-5.9V4a1 1 0 0 0-2 0v1.1A6 6 0 0 0 6 11v5l-2 2v1h16v-1z");
  svg.append(path);
  return svg;
}

/** A bell button not yet tied to a session (a list clones it); see paintBell and toggleBell. */
export const bellButton = () => h("button", { class: "btn sm bell", tid: "notify-toggle", "aria-pressed": "false", title: "Notify me" }, bellIcon());

/** Shows whether I follow the session: aria-pressed and the title. */
export function paintBell(b, on) {
  if (b.getAttribute("aria-pressed") === String(on)) return; // nothing to repaint (bellButton starts at false)
  b.setAttribute("aria-pressed", String(on));
  b.title = on ? "Notifying you (tap to stop)" : "Notify me";
}

/** Turns notifications about `name` on or off (the bell b shows it and is busy meanwhile). */
export async function toggleBell(b, name) {
  const set = await followedSet();
  const on = !set.has(name);
  await busy(b, async () => {
    if (on && pushSupported() && localStorage.getItem(PUSH_KEY) !== "on") {
      try {
        await enablePush(deviceLabel());
        localStorage.setItem(PUSH_KEY, "on");
      } catch (e) {
        toast(`This device will not get push notifications: ${e.message}. Your other devices will.`, "error");
      }
    }
    await setSessionPush(name, on);
    if (on) set.add(name); else set.delete(name);
    paintBell(b, on);
  }, on ? `You will be notified about ${name}` : `No more notifications about ${name}`);
}

/** A toggle button: notify me (on all my devices) when this session needs me. */
export function bell(name) {
  const b = bellButton();
  b.setAttribute("aria-label", `Notify me about ${name}`);
  b.addEventListener("click", () => toggleBell(b, name));
  followedSet().then((set) => paintBell(b, set.has(name)));
  return b;
}

export const deviceLabel = () => `${navigator.userAgentData?.platform || navigator.platform || "Browser"} (web)`;

// ---- notifications while the app is open ----

/**
 * Whether I am told about a session of `owner`: my own, and for an admin also the local
 * operator's (owner "", started on the box), as if the admin owned them.
 */
export const notifiesMe = (owner) => owner === me.username || (me.admin && owner === "");

/** Subscribes for the whole app: setCount(n) gets the number of my sessions waiting. */
export function startNotify(setCount) {
  onSessions((list) => setCount(list.filter((s) => notifiesMe(s.owner) && stateOf(s) === "waiting").length));
  const shown = new Map(); // session -> its toast: a newer state replaces it
  onStateChange((ev) => {
    if (!notifiesMe(ev.owner) || ev.previous === ev.state) return;
    shown.get(ev.name)?.remove();
    const waiting = ev.state === "waiting";
    if (!waiting && !(ev.state === "idle" && ev.previous === "working")) return;
    const text = waiting ? `${ev.name} needs you${ev.waitingFor ? `: ${ev.waitingFor}` : ""}` : `${ev.name} is done`;
    const url = `/c/${enc(ev.name)}`;
    const el = toast([text, " ", h("a", { href: url }, "Open")], waiting ? "warn" : "ok", waiting ? 15000 : 6000);
    Object.assign(el.dataset, { testid: "state-toast", name: ev.name, state: ev.state });
    shown.set(ev.name, el);
    if (document.hidden && window.Notification?.permission === "granted") {
      // The same tag as the service worker's push: a push for this change replaces this one.
      const opts = { body: text, tag: `llmux-session-${ev.name}`, icon: "/static/icons/icon-192.png", data: { url } };
      navigator.serviceWorker?.getRegistration("/")
        .then((r) => (r ? r.showNotification("llmux", opts) : new Notification("llmux", opts)))
        .catch(() => {});
    }
  });
}
