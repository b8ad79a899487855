// Issue 19 on the chat page, loaded on demand: the outbox and the session's queue.
//
// Outbox: every prompt the page sends gets an Idempotency-Key and is kept in IndexedDB
// (`llmux-outbox`) until the daemon acknowledges it, so nothing typed offline (a train in a
// tunnel) or during a daemon restart is lost, and a retry never types twice (the daemon
// answers a repeated key with the first outcome). Items are sent in the order they were
// written, shown pending, then "typed at HH:MM:SS" with the daemon's deliveredAt.
//
// Queue: the prompts waiting for the session (scheduled, for idle, after a rate limit), with
// up (reorder), edit and cancel; refreshed when the session's `queued` count changes.

import { h, toast } from "../js/ui.js";

const DB = "llmux-outbox";
const STORE = "items";

/** A fresh key: 128 random bits (crypto.getRandomValues works without a secure context). */
export function newKey() {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function db() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "key" });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function tx(mode, fn) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const t = d.transaction(STORE, mode);
    const out = fn(t.objectStore(STORE));
    t.oncomplete = () => { d.close(); resolve(out?.result); };
    t.onerror = () => { d.close(); reject(t.error); };
  });
}

const all = () => tx("readonly", (s) => s.getAll());
const put = (item) => tx("readwrite", (s) => s.put(item));
const drop = (key) => tx("readwrite", (s) => s.delete(key));

/** One request with its key; `{ok, status, data}`; status 0 when the daemon was not reached. */
export async function keyed(method, path, body, key = newKey()) {
  const headers = { Accept: "application/json", "Idempotency-Key": key };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(path, { method, credentials: "same-origin", headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    return { ok: false, status: 0, data: null };
  }
  let data = null;
  try { data = await res.json(); } catch { /* empty */ }
  return { ok: res.ok, status: res.status, data };
}

const time = (iso) => new Date(iso).toLocaleTimeString();

/** The outbox of session `url` (`/api/sessions/NAME`), drawn into `list`. */
export function outbox(url, list) {
  const shown = new Map(); // key -> li
  let flushing = false;
  let timer = 0;

  function draw(item) {
    let li = shown.get(item.key);
    if (!li) {
      li = h("li", { class: "row-item", tid: "outbox-item" });
      shown.set(item.key, li);
      list.append(li);
    }
    li.dataset.state = item.state;
    const status = item.state === "delivered" ? `typed at ${time(item.deliveredAt)}`
      : item.state === "failed" ? `not sent: ${item.error}` : "pending…";
    li.replaceChildren(h("span", { class: "grow" }, item.body.prompt), h("span", { class: `muted small ${item.state}`, tid: "outbox-status" }, status));
    list.hidden = !shown.size;
    if (item.state === "delivered") setTimeout(() => { li.remove(); shown.delete(item.key); list.hidden = !shown.size; }, 15000);
  }

  async function flush() {
    if (flushing) return;
    flushing = true;
    clearTimeout(timer);
    try {
      const items = (await all()).filter((i) => i.url === url).sort((a, b) => a.at - b.at);
      for (const item of items) {
        const r = await keyed("POST", `${url}/send`, item.body, item.key);
        if (r.ok) {
          await drop(item.key);
          draw({ ...item, state: "delivered", deliveredAt: r.data?.deliveredAt || new Date().toISOString() });
          continue;
        }
        // Not reached, signed out, in flight, or the daemon restarting: keep it, in order.
        if (r.status === 0 || r.status === 401 || r.status >= 500 || r.data?.code === "idempotency_in_flight") {
          timer = setTimeout(flush, 3000);
          return;
        }
        await drop(item.key);
        draw({ ...item, state: "failed", error: r.data?.error || `HTTP ${r.status}` });
      }
    } finally {
      flushing = false;
    }
  }

  const online = () => flush();
  addEventListener("online", online);
  // What an earlier visit left unsent.
  all().then((items) => { for (const i of items.filter((x) => x.url === url)) draw(i); flush(); }).catch(() => {});
  return {
    /** Keeps the prompt and sends it (in order); true once it is safely kept. */
    async send(prompt) {
      const item = { key: newKey(), url, body: { prompt }, at: Date.now(), state: "pending" };
      await put(item);
      draw(item);
      flush();
      return true;
    },
    close() { removeEventListener("online", online); clearTimeout(timer); },
  };
}

/** The session's queue as a card; `update(session)` redraws when its `queued` count changes. */
export function queuePanel(url) {
  const rows = h("ol", { class: "rows" });
  const card = h("section", { class: "card", tid: "queue", hidden: true }, h("h2", {}, "Queued"), rows);
  let count = -1;

  async function act(method, path, body) {
    const r = await keyed(method, `${url}/queue/${path}`, body);
    if (!r.ok) toast(r.data?.error || "Could not change the queue", "error");
    await load();
  }

  async function load() {
    const r = await keyed("GET", `${url}/queue`);
    const items = r.ok ? r.data.items : [];
    // Prompts sent to be typed now, waiting their turn: shown first, not editable.
    const waiting = (r.ok && r.data.waiting) || [];
    card.hidden = !items.length && !waiting.length;
    rows.replaceChildren(...waiting.map((w) => h("li", { class: "row-item", tid: "queue-waiting" },
      h("div", { class: "grow" }, h("span", {}, w.text),
        h("p", { class: "muted small" }, w.reason === "starting" ? "typed once the agent is ready" : "typed after the prompt before it")))), ...items.map((i) => {
      const when = [i.notBefore && `at ${time(i.notBefore)}`, i.whenIdle && "when idle", i.afterLimit && "after the limit"].filter(Boolean).join(", ") || "next";
      return h("li", { class: "row-item", tid: "queue-item" },
        h("div", { class: "grow" }, h("span", { tid: "queue-text" }, i.text), h("p", { class: "muted small" }, when)),
        i.place > 1 && h("button", { class: "btn sm", tid: "queue-up", "aria-label": `Move up: ${i.text}`, onclick: () => act("PATCH", i.id, { to: i.place - 1 }) }, "↑"),
        h("button", { class: "btn sm", tid: "queue-edit", onclick: (e) => {
          // Edit in place: the text becomes a field with Save.
          const li = e.target.closest("li");
          const field = h("input", { value: i.text, tid: "queue-edit-input", "aria-label": "Queued prompt", class: "grow" });
          const save = h("button", { class: "btn sm primary", tid: "queue-save", onclick: () => field.value.trim() && act("PATCH", i.id, { text: field.value }) }, "Save");
          li.replaceChildren(field, save);
          field.focus();
        } }, "Edit"),
        h("button", { class: "btn sm danger", tid: "queue-cancel", "aria-label": `Cancel: ${i.text}`, onclick: () => act("DELETE", i.id) }, "Cancel"));
    }));
  }

  return {
    card,
    update(session) {
      if (session.queued === count) return;
      count = session.queued || 0;
      if (count || !card.hidden) load().catch(() => {});
    },
  };
}
