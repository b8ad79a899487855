// Web Push for this browser: subscribe it as one of the user's devices and choose which
// sessions notify it. The service worker (/sw.js) shows the notifications. No UI here: the
// pages call these functions from their own buttons.

import { api, post } from "./api.js";

/** Whether this browser can receive Web Push (needs a service worker, HTTPS or localhost). */
export function pushSupported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window &&
    window.isSecureContext;
}

async function registration() {
  return (await navigator.serviceWorker.getRegistration("/")) ||
    navigator.serviceWorker.register("/sw.js");
}

function keyBytes(base64url) {
  const b64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

/**
 * Asks for permission, subscribes this browser with the daemon's VAPID key and registers it
 * as a device named `label` (default: the daemon uses the User-Agent). Returns the device.
 */
export async function enablePush(label) {
  if (!pushSupported()) throw new Error("this browser cannot receive push notifications here");
  if (await Notification.requestPermission() !== "granted") {
    throw new Error("notifications are blocked for this site");
  }
  const reg = await registration();
  await navigator.serviceWorker.ready;
  const { publicKey } = await api("/api/push/vapid");
  let sub = await reg.pushManager.getSubscription();
  const key = keyBytes(publicKey);
  const same = sub && sub.options.applicationServerKey &&
    new Uint8Array(sub.options.applicationServerKey).every((b, i) => b === key[i]);
  if (sub && !same) {
    await sub.unsubscribe(); // made for another daemon key
    sub = null;
  }
  if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  const json = sub.toJSON();
  const body = { endpoint: json.endpoint, keys: json.keys };
  if (label) body.label = label;
  return (await post("/api/push/subscriptions", body)).subscription;
}

/** Unsubscribes this browser and removes it from the user's devices. */
export async function disablePush() {
  if (!pushSupported()) return;
  const reg = await navigator.serviceWorker.getRegistration("/");
  const sub = reg && await reg.pushManager.getSubscription();
  if (!sub) return;
  const { subscriptions } = await api("/api/push/subscriptions");
  const mine = subscriptions.find((s) => s.endpoint === sub.endpoint);
  if (mine) await api(`/api/push/subscriptions/${encodeURIComponent(mine.id)}`, { method: "DELETE" });
  await sub.unsubscribe();
}

/** Turns notifications about session `name` on or off (for all of the user's devices). */
export async function setSessionPush(name, on) {
  await api(`/api/push/sessions/${encodeURIComponent(name)}`, { method: on ? "PUT" : "DELETE" });
}
