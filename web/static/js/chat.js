// /c/<name>: the live conversation as chat bubbles, a composer, the agent's questions as
// cards with one button per answer, and past conversations to resume. Agent text is inserted
// as text, except an assistant's markdown, which the server renders and sanitizes (`html`,
// a strict allow-list; web/README.md): the one markup this app takes from the server.

import { h, enc, toast, busy, confirmDialog, ago, when } from "./ui.js";
import { api, post, onSessions } from "./api.js";
import { stateBadge, paintState, stateOf, bell } from "./agent.js";
import { upload, fileButton, takeFiles, micButton } from "./files.js";

/** A short summary of a tool call's input: its command, path or first string, else JSON. */
function brief(input) {
  let s = "";
  if (input && typeof input === "object") {
    for (const k of ["command", "cmd", "file_path", "path", "pattern", "url", "query", "description"]) {
      if (typeof input[k] === "string") { s = input[k]; break; }
    }
    s ||= Object.values(input).find((v) => typeof v === "string") || JSON.stringify(input);
  } else if (input != null) s = String(input);
  s = s.split("\n")[0];
  return s.length > 80 ? `${s.slice(0, 79)}…` : s;
}

const pre = (text, cls) => h("pre", { class: cls }, text);

/** A text part: the server's sanitized HTML of an assistant's markdown, else the text as is. */
function textPart(p) {
  if (typeof p.html !== "string") return h("div", { class: "txt" }, p.text);
  const d = h("div", { class: "md" });
  d.innerHTML = p.html; // sanitized on the server (ammonia allow-list), never the agent's own markup
  return d;
}

export default async function mount(root, { name }, pg) {
  pg.setTitle(name);
  const url = `/api/sessions/${enc(name)}`;
  const badge = stateBadge("chat-state");
  document.getElementById("slot").append(badge);

  const turns = h("ol", { class: "turns", tid: "chat-turns", role: "log", "aria-label": "Conversation" });
  const notice = h("div", { class: "empty", tid: "chat-empty", hidden: true });
  const card = h("section", { class: "card ask", tid: "waiting-card", role: "alert", hidden: true });
  const input = h("textarea", { tid: "chat-input", rows: 1, "aria-label": `Prompt for ${name}`, placeholder: "Message", title: "Enter sends; Shift+Enter: new line", enterkeyhint: "send" });
  const send = h("button", { type: "submit", class: "btn primary", tid: "chat-send" }, "Send");
  const stop = h("button", { class: "btn danger", tid: "chat-stop", hidden: true, onclick: () => busy(stop, () => post(`${url}/interrupt`), "Sent Escape") }, "Stop");
  const restart = h("button", { type: "button", class: "btn primary", tid: "chat-restart", hidden: true, onclick: () => busy(restart, () => post(`${url}/respawn`), "Restarted") }, "Restart");
  // Files and dictation add to the text being written, to edit before sending.
  const insert = (text) => {
    if (!text) return;
    const at = input.selectionStart ?? input.value.length;
    const before = input.value.slice(0, at);
    input.value = `${before}${before && !/\s$/.test(before) ? " " : ""}${text} ${input.value.slice(at)}`;
    input.dispatchEvent(new Event("input"));
    input.focus();
  };
  const attach = async (files) => insert((await upload(name, files)).join(" "));
  const composer = h("form", { class: "composer", tid: "chat-composer" }, ...fileButton(attach), micButton(insert), input, stop, send, restart);
  takeFiles(composer, attach);
  const hist = h("ul", { class: "rows" });
  const history = h("details", { class: "card hist", tid: "history", hidden: true, ontoggle: () => history.open && loadHistory() },
    h("summary", {}, "History"), hist);
  const termLink = h("a", { class: "btn sm", href: `/s/${enc(name)}`, tid: "open-terminal" }, "Terminal");

  // The outbox and the queue (issue 19), an on-demand bundle.
  const outList = h("ul", { class: "rows", tid: "outbox", hidden: true });
  let ob = null, qp = null;
  import("/static/pages/delivery.js").then((m) => {
    ob = m.outbox(url, outList);
    qp = m.queuePanel(url);
    outList.before(qp.card);
    if (session) qp.update(session);
    pg.cleanup(() => ob.close());
  }).catch(() => {});
  root.append(h("div", { class: "page chat" },
    h("div", { class: "bar" }, h("h1", { class: "sr" }, `Chat: ${name}`), termLink, bell(name)),
    history, notice, turns, card, outList, composer));

  let session = null;
  let transcript = null;
  let sent = []; // prompts typed here while there is no transcript to show them
  let shownPrompt = "";

  // ---- turns ----
  const nearBottom = () => innerHeight + scrollY >= document.documentElement.scrollHeight - 120;
  function renderTurns() {
    const stick = nearBottom();
    const open = new Set([...turns.querySelectorAll("details[open]")].map((d) => d.dataset.key));
    const tools = new Map(); // tool-use id -> its <details>
    const out = [];
    for (const t of transcript?.turns || []) {
      const li = h("li", { class: `turn ${t.role}`, tid: "chat-turn", "data-role": t.role });
      t.parts.forEach((p, i) => {
        if (p.kind === "text") li.append(textPart(p));
        else if (p.kind === "tool_use") {
          const d = h("details", { class: "tool", "data-key": p.id || `${t.id}:${i}`, tid: "tool-call" },
            h("summary", {}, h("b", {}, p.name), " ", brief(p.input)), pre(JSON.stringify(p.input, null, 2)));
          if (p.id) tools.set(p.id, d);
          li.append(d);
        } else if (p.kind === "tool_result") {
          const into = p.forId && tools.get(p.forId);
          const o = pre(p.text || "(no output)", p.isError ? "out err" : "out");
          if (into) into.append(o);
          else li.append(h("details", { class: "tool", "data-key": `${t.id}:${i}` }, h("summary", {}, p.isError ? "error" : "output"), o));
        }
      });
      if (li.firstChild) out.push(li);
    }
    for (const p of sent) out.push(h("li", { class: "turn user pending", tid: "chat-sent" }, h("div", { class: "txt" }, p)));
    for (const d of out.flatMap((li) => [...li.querySelectorAll("details")])) d.open = open.has(d.dataset.key);
    turns.replaceChildren(...out);
    if (stick) scrollTo(0, document.documentElement.scrollHeight);
  }

  function renderNotice() {
    const t = transcript;
    history.hidden = !t?.supported;
    notice.hidden = !t || (t.supported && t.conversationId);
    if (notice.hidden) return;
    notice.replaceChildren(t.supported
      ? "No conversation yet: send a prompt below. "
      : `llmux cannot read ${session?.agent || "this agent"}'s conversation files, so there is no chat history here. Your prompts are still typed into the agent; see its replies in the `,
    h("a", { href: `/s/${enc(name)}` }, t.supported ? "Open the terminal" : "terminal"), t.supported ? "" : ".");
  }

  // ---- the transcript stream ----
  let es = null;
  let retry = 0;
  function connect() {
    es = new EventSource(`${url}/transcript/stream`);
    es.addEventListener("transcript", (e) => {
      try { transcript = JSON.parse(e.data); } catch { return; }
      if (transcript.conversationId && transcript.turns.length) sent = [];
      renderNotice();
      renderTurns();
    });
    es.onerror = () => {
      if (es.readyState !== EventSource.CLOSED) return;
      es.close();
      retry = setTimeout(connect, 3000);
    };
  }
  connect();
  pg.cleanup(() => { clearTimeout(retry); es?.close(); });

  // ---- the session's state and its question ----
  pg.cleanup(onSessions((list) => {
    const s = list.find((x) => x.name === name);
    if (!s) {
      if (session !== false) {
        session = false;
        notice.hidden = false;
        notice.replaceChildren(`There is no session named ${name}. `, h("a", { href: "/" }, "Back to the sessions"));
        composer.hidden = card.hidden = true;
      }
      return;
    }
    session = s;
    qp?.update(s);
    composer.hidden = false;
    paintState(badge, s);
    const st = stateOf(s);
    stop.hidden = st !== "working";
    // An exited agent takes no prompt: the composer says so and offers Restart.
    const dead = s.status === "exited";
    input.disabled = send.hidden = dead;
    restart.hidden = !dead;
    input.placeholder = dead ? `Agent exited${s.exitStatus != null ? ` (status ${s.exitStatus})` : ""}` : "Message";
    // a question shown at a rate limit (limited, with its prompt) is answered the same way
    const asking = st === "waiting" || (st === "limited" && s.prompt);
    const key = asking ? JSON.stringify([s.waitingFor, s.prompt]) : "";
    if (key !== shownPrompt) {
      shownPrompt = key;
      renderCard(asking && s);
    }
  }));
  const tick = setInterval(() => session && paintState(badge, session), 30000);
  pg.cleanup(() => clearInterval(tick));

  function renderCard(s) {
    card.hidden = !s;
    if (!s) return card.replaceChildren();
    const p = s.prompt;
    const err = h("p", { class: "error", tid: "answer-error", hidden: true });
    const btns = (p?.options || []).map((o, i) => h("button", {
      class: `btn${o.selected ? " primary" : ""}`, tid: "answer-option", onclick: () => answer(i + 1, o.label),
    }, o.label));
    // Options are numbered from 1, as on the agent's screen and in `llmux session show`.
    async function answer(n, label) {
      for (const b of btns) b.disabled = true;
      err.hidden = true;
      try {
        await post(`${url}/answer`, { option: n });
        toast(`Answered: ${label}`);
        // The card goes when the agent moves on; if it does not, allow another try.
        setTimeout(() => { for (const b of btns) b.disabled = false; }, 8000);
      } catch (e) {
        if (e.redirecting) return;
        err.textContent = `Could not answer “${label}”: ${e.message}`;
        err.hidden = false;
        for (const b of btns) b.disabled = false;
      }
    }
    card.replaceChildren(
      h("h2", {}, p?.question || `${name} is waiting${s.waitingFor ? `: ${s.waitingFor}` : ""}`),
      p?.detail && pre(p.detail, "detail"),
      btns.length ? h("div", { class: "row" }, btns) : h("p", {}, "Answer it in the ", h("a", { href: `/s/${enc(name)}` }, "terminal"), "."),
      err);
  }

  // ---- the composer ----
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      composer.requestSubmit();
    }
  });
  input.addEventListener("input", () => {
    input.style.height = "auto";
    input.style.height = `${input.scrollHeight + 2}px`;
  });
  composer.addEventListener("submit", async (e) => {
    e.preventDefault();
    const prompt = input.value;
    if (!prompt.trim() || send.disabled) return;
    if (await busy(send, () => (ob ? ob.send(prompt) : post(`${url}/send`, { prompt })))) {
      input.value = "";
      input.style.height = "";
      if (!transcript?.conversationId || !transcript.turns.length) {
        sent = [...sent, prompt].slice(-20);
        renderTurns();
      }
    }
  });

  // ---- past conversations ----
  async function loadHistory() {
    hist.replaceChildren(h("li", { class: "muted" }, "Loading…"));
    const list = await api(`${url}/conversations`, { signal: pg.signal });
    hist.replaceChildren(...(list.length ? list.map((c) => {
      const cur = c.id === transcript?.conversationId;
      const b = h("button", { class: "btn sm", tid: "resume", "aria-label": `Resume ${c.title}`, onclick: async () => {
        if (!(await confirmDialog(`Restart ${name}'s agent on the conversation “${c.title}”?`, "Resume", false))) return;
        if (await busy(b, () => post(`${url}/resume`, { conversationId: c.id }), "Resumed")) history.open = false;
      } }, "Resume");
      return h("li", { class: "row-item", tid: "conversation" },
        h("div", { class: "grow" }, h("strong", {}, c.title), cur && h("span", { class: "badge ok" }, "current"),
          h("p", { class: "muted small" }, `${c.messageCount} messages · ${c.lastMessageAt ? `last ${ago(c.lastMessageAt)}` : when(c.startedAt)}`)),
        !cur && b);
    }) : [h("li", { class: "muted" }, "No past conversations in this folder.")]));
  }
}
