// The review page (issue 18): what a session's agent changed in its git repository, made for a
// phone first. An on-demand page bundle: everything stateful comes from `kit`.
//
// Speed on a large diff: each file's lines are built as one HTML string (every text escaped)
// only when the file comes near the screen (IntersectionObserver), so a 5,000-line diff paints
// its first screen after building a few hundred rows; the browser test measures it.

import { h, enc, plural, toast, ask, confirmDialog } from "../js/ui.js";

const CSS = `
.rv .bar{flex-wrap:wrap;gap:.5rem}
.rv h1{font-size:1.1rem;margin:0;flex:1;min-width:8rem;overflow-wrap:anywhere}
.rv-sum{margin:.25rem 0 .75rem}
.rv-ctl{display:flex;gap:.5rem;margin:.5rem 0}
.rv-ctl select{flex:1;min-width:0;width:auto}
.rv-files{list-style:none;margin:0 0 1rem;padding:0;border:1px solid var(--line,#8884);border-radius:8px}
.rv-files li{border-top:1px solid var(--line,#8884)}
.rv-files li:first-child{border-top:0}
.rv-files button{all:unset;box-sizing:border-box;display:flex;gap:.5rem;width:100%;padding:.55rem .6rem;cursor:pointer;min-height:44px;align-items:center}
.rv-files .p{flex:1;overflow-wrap:anywhere;font-family:ui-monospace,monospace;font-size:.85rem}
.rv-st{font:600 .75rem ui-monospace,monospace;width:1.2em;text-align:center;border-radius:4px}
.rv-add{color:#1a7f37}.rv-del{color:#cf222e}
.rv-file{border:1px solid var(--line,#8884);border-radius:8px;margin:0 0 1rem;overflow:hidden}
.rv-fh{display:flex;gap:.5rem;align-items:center;padding:.5rem .6rem;position:sticky;top:0;background:var(--bg,Canvas);border-bottom:1px solid var(--line,#8884);z-index:1}
.rv-fh .p{flex:1;font:600 .85rem ui-monospace,monospace;overflow-wrap:anywhere}
.rv-fh button{min-height:36px}
.rv-code{font:12px/1.45 ui-monospace,SFMono-Regular,Menlo,monospace;content-visibility:auto}
.rv-l{display:grid;grid-template-columns:2.8em 2.8em 1fr}
.rv-l .n{color:#8b949e;text-align:right;padding-right:.4em;user-select:none;cursor:pointer}
.rv-l .c{white-space:pre-wrap;overflow-wrap:anywhere;padding-left:.3em;border-left:1px solid var(--line,#8884)}
.rv-l.a{background:#2da44e22}.rv-l.d{background:#cf222e1f}
.rv-l.a mark{background:#2da44e66;color:inherit;border-radius:2px}
.rv-l.d mark{background:#cf222e55;color:inherit;border-radius:2px}
.rv-hh{color:#8b949e;background:#8882;padding:.2em .6em;white-space:pre-wrap;overflow-wrap:anywhere}
.rv-gap{all:unset;display:block;box-sizing:border-box;width:100%;padding:.45em .6em;color:#0969da;background:#0969da14;cursor:pointer;min-height:36px}
.rv-note{padding:.75em .6em;color:#8b949e}
.rv-note button{margin-left:.5em}
.rv-l.sel{outline:1px solid #bf8700;outline-offset:-1px}
.rv-l.sel .n{background:#bf870044}
.rv-form,.rv-cm{margin:.4em .6em;padding:.5em;border:1px solid var(--line,#8884);border-radius:6px;font:14px/1.4 system-ui,sans-serif}
.rv-form textarea{width:100%;box-sizing:border-box;min-height:5em;font:inherit}
.rv-form .row,.rv-cm .row{display:flex;gap:.5rem;margin-top:.4em;flex-wrap:wrap;align-items:center}
.rv-cm{white-space:pre-wrap;overflow-wrap:anywhere}
.rv-cm.resolved{opacity:.6}
.rv-cm .who{color:#8b949e;font-size:.8rem}
.rv-comments{margin:0 0 1rem}
.rv-comments h2{font-size:1rem;margin:.5rem 0}
.hljs-keyword,.hljs-selector-tag,.hljs-meta .hljs-keyword{color:#d2a8ff}
.hljs-string,.hljs-regexp,.hljs-addition{color:#a5d6ff}
.hljs-comment,.hljs-quote{color:#8b949e;font-style:italic}
.hljs-number,.hljs-literal,.hljs-symbol,.hljs-bullet{color:#79c0ff}
.hljs-title,.hljs-title.function_,.hljs-section{color:#ffa657}
.hljs-built_in,.hljs-type,.hljs-title.class_{color:#ff7b72}
.hljs-attr,.hljs-attribute,.hljs-variable,.hljs-template-variable,.hljs-property{color:#7ee787}
.hljs-meta,.hljs-tag,.hljs-name{color:#8b949e}
.rv-more{margin:0 0 .75rem}
.rv-more>summary{display:inline-flex;list-style:none;cursor:pointer}
.rv-more>summary::-webkit-details-marker{display:none}
.rv-act{display:flex;flex-wrap:wrap;gap:.5rem;margin:.5rem 0 0}
.rv-out{white-space:pre-wrap;overflow-wrap:anywhere;font:12px/1.4 ui-monospace,monospace;padding:.5em;border:1px solid var(--line,#8884);border-radius:6px;margin:0 0 1rem}
`;

/** Lines highlighted in one go (a slice of work between frames). */
const CHUNK = 150;

const RANGES = [["all", "Everything"], ["uncommitted", "Uncommitted"], ["staged", "Staged"], ["commits", "Commits"]];
const STATUS = { added: "A", deleted: "D", modified: "M", renamed: "R", copied: "C" };
const WHY = { large: "Large file", generated: "Generated file", limit: "Left out (the diff is too large)" };

const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };
const esc = (s) => s.replace(/[&<>"]/g, (c) => ESC[c]);

/** Splits a line into words, spaces and single symbols (for word-level changes). */
const tokens = (s) => s.match(/\w+|\s+|[^\w\s]/g) || [];

/** `a` and `b` as HTML with what differs between them marked: common prefix and suffix by token. */
export function wordDiff(a, b) {
  if (a.length > 1000 || b.length > 1000) return [esc(a), esc(b)];
  const x = tokens(a), y = tokens(b);
  let p = 0;
  while (p < x.length && p < y.length && x[p] === y[p]) p++;
  let s = 0;
  while (s < x.length - p && s < y.length - p && x[x.length - 1 - s] === y[y.length - 1 - s]) s++;
  const mark = (t) => {
    const head = esc(t.slice(0, p).join("")), mid = t.slice(p, t.length - s).join(""), tail = esc(t.slice(t.length - s).join(""));
    return head + (mid ? `<mark>${esc(mid)}</mark>` : "") + tail;
  };
  // Nothing in common: marking the whole line says nothing.
  if (p === 0 && s === 0) return [esc(a), esc(b)];
  return [mark(x), mark(y)];
}

// ---- syntax highlighting: highlight.js (bundled into /static/vendor/hljs.js by build.mjs) ----

const EXT = { mjs: "javascript", cjs: "javascript", jsx: "javascript", tsx: "typescript", h: "c", hpp: "cpp", yml: "yaml", toml: "ini", svelte: "xml", vue: "xml" };
const NAMES = { Makefile: "makefile", Dockerfile: "dockerfile", "Cargo.lock": "ini", "go.mod": "go" };

/** The highlight.js language of a path, if it knows one. */
function languageOf(hl, path) {
  const base = path.slice(path.lastIndexOf("/") + 1);
  if (NAMES[base]) return hl.getLanguage(NAMES[base]) ? NAMES[base] : null;
  const ext = base.includes(".") ? base.slice(base.lastIndexOf(".") + 1).toLowerCase() : "";
  const lang = EXT[ext] || ext;
  return lang && hl.getLanguage(lang) ? lang : null;
}

/**
 * highlight.js's HTML of several lines, split back into one HTML string per line: spans open
 * at a line break are closed there and opened again on the next line. highlight.js escapes
 * the text itself and writes nothing but `<span class="…">`.
 */
export function splitLines(html) {
  const out = [];
  const open = [];
  let cur = "";
  for (const m of html.matchAll(/<span class="([^"]*)">|<\/span>|\n|[^<\n]+/g)) {
    const t = m[0];
    if (t === "\n") {
      out.push(cur + "</span>".repeat(open.length));
      cur = open.map((c) => `<span class="${c}">`).join("");
    } else if (t === "</span>") {
      open.pop();
      cur += t;
    } else {
      if (m[1] !== undefined) open.push(m[1]);
      cur += t;
    }
  }
  out.push(cur + "</span>".repeat(open.length));
  return out;
}

/** Each side of some lines of a hunk highlighted as one text (strings and comments over lines
 * hold within them). */
function highlighter(hl, lang, lines) {
  const side = (keep) => {
    const some = lines.filter(keep);
    const html = splitLines(hl.highlight(some.map((l) => l.text).join("\n"), { language: lang, ignoreIllegals: true }).value);
    return new Map(some.map((l, i) => [l, html[i]]));
  };
  const olds = side((l) => l.kind !== "add");
  const news = side((l) => l.kind !== "del");
  return (l) => (l.kind === "del" ? olds.get(l) : news.get(l));
}

function row(kind, o, n, html) {
  return `<div class="rv-l ${kind}" data-o="${o ?? ""}" data-n="${n ?? ""}"><span class="n">${o ?? ""}</span><span class="n">${n ?? ""}</span><span class="c">${html}</span></div>`;
}

/** One hunk's rows, with word-level marks on deleted lines followed by as many added ones. */
export function hunkHtml(hunk, hi) {
  return `<div class="rv-hh">${esc(hunk.header)}</div>${rowsHtml(hunk.lines, hi)}`;
}

/** Rows of hunk lines `L`; `hi(line)` gives a line's highlighted HTML (else it is escaped). */
export function rowsHtml(L, hi) {
  const out = [];
  const text = (l) => (hi && hi(l)) ?? esc(l.text);
  for (let i = 0; i < L.length;) {
    if (L[i].kind === "context") {
      out.push(row("", L[i].oldLine, L[i].newLine, text(L[i])));
      i++;
      continue;
    }
    let d = i;
    while (d < L.length && L[d].kind === "del") d++;
    let a = d;
    while (a < L.length && L[a].kind === "add") a++;
    const dels = L.slice(i, d), adds = L.slice(d, a);
    const pairs = dels.length === adds.length ? dels.map((l, k) => wordDiff(l.text, adds[k].text)) : null;
    // A changed pair shows its word marks (plain), the other lines their syntax.
    const marked = (k) => pairs && pairs[k][0] !== esc(dels[k].text);
    dels.forEach((l, k) => out.push(row("d", l.oldLine, null, marked(k) ? pairs[k][0] : text(l))));
    adds.forEach((l, k) => out.push(row("a", null, l.newLine, marked(k) ? pairs[k][1] : text(l))));
    i = a;
  }
  return out.join("");
}

export default async function mount(root, params, kit) {
  const { api, signal, cleanup, setTitle } = kit;
  const name = params.name;
  setTitle?.(`Review ${name}`);
  let range = new URLSearchParams(location.search).get("range") || "all";
  if (!RANGES.some(([v]) => v === range)) range = "all";

  const sel = h("select", { tid: "review-range", "aria-label": "Which changes" },
    RANGES.map(([v, l]) => h("option", { value: v, selected: v === range }, l)));
  const refresh = h("button", { class: "btn", tid: "review-refresh" }, "Refresh");
  const summary = h("p", { class: "rv-sum muted", tid: "review-summary", role: "status" }, "Loading…");
  const list = h("ol", { class: "rv-files", tid: "review-files", hidden: true });
  const sendBtn = h("button", { class: "btn primary", tid: "review-send", hidden: true });
  const cList = h("div", { tid: "review-comments" });
  const act = (label, tid) => h("button", { class: "btn", tid }, label);
  const aCommit = act("Commit…", "review-commit");
  const aAsk = act("Ask the agent to commit", "review-ask-commit");
  const aMerge = act("Merge into base", "review-merge");
  const aPush = act("Push", "review-push");
  const aPr = act("Open a pull request", "review-pr");
  const aDiscard = act("Discard…", "review-discard");
  aDiscard.classList.add("danger");
  const actions = h("details", { class: "rv-more", tid: "review-actions" },
    h("summary", { class: "btn" }, "Commit, merge, push…"),
    h("div", { class: "rv-act" }, aCommit, aAsk, aMerge, aPush, aPr, aDiscard));
  const out = h("pre", { class: "rv-out", tid: "review-output", role: "status", hidden: true });
  const cPanel = h("section", { class: "rv-comments", hidden: true },
    h("div", { class: "bar" }, h("h2", {}, "Comments"), sendBtn), cList);
  const body = h("div", { class: "rv-body", tid: "review-body" });
  const page = h("div", { class: "page rv", tid: "review-page" }, h("style", {}, CSS),
    h("div", { class: "bar" },
      h("a", { class: "btn", href: "/", "aria-label": "Back to the sessions" }, "←"),
      h("h1", {}, "Review ", h("span", { tid: "review-name" }, name))),
    h("div", { class: "rv-ctl" }, sel, refresh),
    summary, actions, out, cPanel, list, body);
  root.append(page);

  const filled = new WeakSet();
  const io = new IntersectionObserver((entries) => {
    for (const e of entries) if (e.isIntersecting) fill(e.target);
  }, { rootMargin: "1500px 0px" });
  cleanup?.(() => io.disconnect());
  let current = null;
  // The highlighter loads beside the first diff; without it (a build without the bundle) the
  // page shows plain text.
  let hl = null;
  const hlReady = import("/static/vendor/hljs.js").then((m) => { hl = m.default; }, () => {});

  const url = (extra = "") => `/api/sessions/${enc(name)}/diff?range=${range}${extra}`;

  // What building rows cost (read by the browser test): ms, and rows built.
  const cost = { ms: 0, rows: 0, hl: 0 };
  function fill(section) {
    if (filled.has(section)) return;
    const t0 = performance.now();
    paint(section);
    cost.ms += performance.now() - t0;
    cost.rows = body.querySelectorAll(".rv-l").length;
    page.dataset.fillMs = String(Math.round(cost.ms));
    page.dataset.rows = String(cost.rows);
  }

  function paint(section) {
    filled.add(section);
    io.unobserve(section);
    const f = section._file;
    const code = section.querySelector(".rv-code");
    code.style.minHeight = "";
    if (f.binary) return code.replaceChildren(h("p", { class: "rv-note" }, "Binary file"));
    if (f.collapsed) {
      const show = h("button", { class: "btn", tid: "review-show-file" }, "Show");
      show.onclick = () => refetch(section, "");
      return code.replaceChildren(h("p", { class: "rv-note", tid: "review-collapsed" },
        `${WHY[f.collapsed] || "Not shown"}: +${f.additions} −${f.deletions}`, show));
    }
    if (!f.hunks.length) return code.replaceChildren(h("p", { class: "rv-note" }, "No line changed (mode or name only)"));
    const parts = [];
    let prevEnd = 1;
    const lang = hl && languageOf(hl, f.path);
    const chunks = [];
    section._gen = (section._gen || 0) + 1;
    for (const hk of f.hunks) {
      const gap = hk.newStart - prevEnd;
      if (gap > 0 && !section._whole) parts.push(`<button class="rv-gap" data-testid="review-expand">⋯ ${gap} unchanged line${gap === 1 ? "" : "s"}</button>`);
      // Rows in chunks of CHUNK lines, plain first; highlighted chunk by chunk afterwards.
      parts.push(`<div class="rv-hh">${esc(hk.header)}</div>`);
      for (let a = 0; a < hk.lines.length; a += CHUNK) {
        const lines = hk.lines.slice(a, a + CHUNK);
        parts.push(`<div class="rv-hk" data-k="${chunks.length}">${rowsHtml(lines, null)}</div>`);
        chunks.push(lines);
      }
      prevEnd = hk.newStart + hk.newLines;
    }
    if (!section._whole && f.status !== "added" && f.status !== "deleted") parts.push(`<button class="rv-gap" data-testid="review-expand">⋯ rest of the file</button>`);
    code.innerHTML = parts.join("");
    if (lang) {
      const gen = section._gen;
      queue.push(...chunks.map((lines, k) => ({ section, gen, k, lines, lang })));
      pump();
    }
  }

  // Highlighting runs in slices of about 12 ms between frames, so scrolling and taps never
  // wait for it; a chunk being commented on keeps its plain rows.
  const queue = [];
  let pumping = false;
  function pump() {
    if (pumping) return;
    pumping = true;
    page.dataset.highlighted = "";
    setTimeout(function step() {
      const t0 = performance.now();
      while (queue.length && performance.now() - t0 < 12) {
        const job = queue.shift();
        if (job.gen !== job.section._gen || !job.section.isConnected) continue;
        const el = job.section.querySelector(`.rv-hk[data-k="${job.k}"]`);
        if (!el || el.querySelector(".rv-form, .sel")) continue;
        try { el.innerHTML = rowsHtml(job.lines, highlighter(hl, job.lang, job.lines)); } catch { /* stays plain */ }
      }
      cost.hl += performance.now() - t0;
      page.dataset.highlightMs = String(Math.round(cost.hl));
      if (queue.length && !signal?.aborted) return setTimeout(step, 0);
      pumping = false;
      page.dataset.highlighted = "1";
    }, 0);
  }

  /** Fetches one file alone (never collapsed; `extra` adds more context) and paints it again. */
  async function refetch(section, extra) {
    const f = section._file;
    try {
      const d = await api(url(`&path=${enc(f.path)}${extra}`), { signal });
      const one = d.files.find((x) => x.path === f.path) || d.files[0];
      if (!one) return toast("That file has no change any more.", "error");
      section._file = one;
      section._whole = extra.includes("context=");
      filled.delete(section);
      fill(section);
    } catch (e) {
      if (e.name !== "AbortError") toast(e.message, "error");
    }
  }

  body.addEventListener("click", (e) => {
    const gap = e.target.closest(".rv-gap");
    if (gap) refetch(gap.closest(".rv-file"), "&context=1000000");
  });

  // ---- comments: tap a line number (then another for a range), write, send them all ----
  let comments = [];
  let anchor = null; // {section, side, line}

  function rowsOf(section, side, a, b) {
    const key = side === "old" ? "o" : "n";
    return [...section.querySelectorAll(".rv-l")].filter((r) => {
      const v = Number(r.dataset[key]);
      return v && v >= a && v <= b && (side === "old" ? r.classList.contains("d") || !r.classList.contains("a") : !r.classList.contains("d"));
    });
  }

  function clearSelection() {
    for (const r of body.querySelectorAll(".rv-l.sel")) r.classList.remove("sel");
    body.querySelector(".rv-form")?.remove();
  }

  function select(rowEl) {
    const section = rowEl.closest(".rv-file");
    const side = rowEl.dataset.n ? "new" : "old";
    const line = Number(side === "new" ? rowEl.dataset.n : rowEl.dataset.o);
    let start = line, end = line;
    if (anchor && anchor.section === section && anchor.side === side && anchor.line !== line) {
      start = Math.min(anchor.line, line);
      end = Math.max(anchor.line, line);
      anchor = null;
    } else {
      anchor = { section, side, line };
    }
    clearSelection();
    const rows = rowsOf(section, side, start, end);
    for (const r of rows) r.classList.add("sel");
    const code = rows.map((r) => r.lastChild.textContent).join("\n");
    const text = h("textarea", { tid: "review-comment-text", "aria-label": "Comment", placeholder: start === end ? `Comment on line ${start}` : `Comment on lines ${start}–${end} (or tap another line number for a range)` });
    const save = h("button", { class: "btn primary", tid: "review-comment-save" }, "Add comment");
    const cancel = h("button", { class: "btn", onclick: () => { anchor = null; clearSelection(); } }, "Cancel");
    const form = h("div", { class: "rv-form", tid: "review-comment-form" }, text,
      h("div", { class: "row" }, save, cancel, h("span", { class: "muted small" }, `${section._file.path}:${start === end ? start : `${start}–${end}`}`)));
    save.onclick = async () => {
      if (!text.value.trim()) return text.focus();
      save.disabled = true;
      try {
        const r = await kit.post(`/api/sessions/${enc(name)}/review/comments`, { path: section._file.path, side, startLine: start, endLine: end, code, body: text.value });
        comments.push(r.comment);
        anchor = null;
        clearSelection();
        paintComments();
      } catch (e) {
        toast(e.message, "error");
        save.disabled = false;
      }
    };
    rows[rows.length - 1].after(form);
    text.focus({ preventScroll: true });
  }

  body.addEventListener("click", (e) => {
    const n = e.target.closest(".rv-l .n");
    if (n) select(n.parentElement);
  });

  function commentBox(c) {
    const lines = c.startLine === c.endLine ? `line ${c.startLine}` : `lines ${c.startLine}–${c.endLine}`;
    const resolved = c.status === "resolved";
    const toggle = h("button", { class: "btn", tid: "review-comment-resolve" }, resolved ? "Reopen" : "Resolve");
    toggle.onclick = () => edit(c, { status: resolved ? "open" : "resolved" });
    const remove = h("button", { class: "btn danger", tid: "review-comment-delete" }, "Delete");
    remove.onclick = async () => {
      try {
        await kit.del(`/api/sessions/${enc(name)}/review/comments/${c.id}`);
        comments = comments.filter((x) => x.id !== c.id);
        paintComments();
      } catch (e) { toast(e.message, "error"); }
    };
    return h("div", { class: `rv-cm${resolved ? " resolved" : ""}`, tid: "review-comment", "data-status": c.status },
      h("div", { class: "who" }, `${c.path}, ${lines} · ${c.author} · ${resolved ? "resolved" : c.sentAt ? "sent, open" : "not sent yet"}`),
      c.body, h("div", { class: "row" }, toggle, remove));
  }

  async function edit(c, change) {
    try {
      const r = await kit.patch(`/api/sessions/${enc(name)}/review/comments/${c.id}`, change);
      comments = comments.map((x) => (x.id === c.id ? r.comment : x));
      paintComments();
    } catch (e) { toast(e.message, "error"); }
  }

  function paintComments() {
    cPanel.hidden = !comments.length;
    cList.replaceChildren(...comments.map(commentBox));
    const waiting = comments.filter((c) => c.status === "open" && !c.sentAt).length;
    sendBtn.hidden = !waiting;
    sendBtn.textContent = `Send ${plural(waiting, "comment")} to the agent`;
  }

  sendBtn.onclick = async () => {
    sendBtn.disabled = true;
    try {
      const r = await kit.post(`/api/sessions/${enc(name)}/review/send`, {});
      toast(`Sent ${plural(r.sent, "comment")} to ${name}`);
      await loadComments();
    } catch (e) {
      toast(e.message, "error");
    } finally {
      sendBtn.disabled = false;
    }
  };

  /** Runs one action; shows what git (or gh) said, or why it was refused; reloads the diff. */
  async function run(btn, path, payload, done) {
    btn.disabled = true;
    try {
      const r = await kit.post(`/api/sessions/${enc(name)}/review/${path}`, payload);
      out.hidden = false;
      out.classList.remove("error");
      out.textContent = r.output || r.prompt || done;
      toast(done);
      load();
    } catch (e) {
      out.hidden = false;
      out.classList.add("error");
      out.textContent = e.message;
    } finally {
      btn.disabled = false;
    }
  }
  aCommit.onclick = async () => {
    const message = await ask({ title: "Commit every change", label: "Commit message", multiline: true, ok: "Commit", tid: "review-commit-message" });
    if (message?.trim()) run(aCommit, "commit", { message }, "Committed");
  };
  aAsk.onclick = () => run(aAsk, "commit", { ask: true }, "Asked the agent to commit");
  aMerge.onclick = async () => {
    const into = current?.base ? ` into ${current.base}` : "";
    if (await confirmDialog(`Merge ${current?.branch || "the branch"}${into}? A fast-forward where possible, else a merge commit; nothing is forced.`, "Merge", false)) {
      run(aMerge, "merge", {}, "Merged");
    }
  };
  aPush.onclick = () => run(aPush, "push", null, "Pushed");
  aPr.onclick = () => run(aPr, "pr", {}, "Pull request opened");
  aDiscard.onclick = async () => {
    if (await confirmDialog("Throw away every uncommitted change and untracked file? This cannot be undone.", "Discard")) {
      run(aDiscard, "discard", { confirm: true }, "Discarded");
    }
  };

  async function loadComments() {
    try {
      comments = await api(`/api/sessions/${enc(name)}/review/comments`, { signal });
      paintComments();
    } catch (e) {
      if (e.name !== "AbortError") toast(e.message, "error");
    }
  }

  function render(d) {
    current = d;
    const against = d.base ? ` against ${d.base}` : "";
    summary.textContent = d.files.length
      ? `${plural(d.files.length, "file")} changed, +${d.additions} −${d.deletions}${against}${d.branch ? ` on ${d.branch}` : ""}${d.truncated ? " (some left out: too large)" : ""}`
      : `No changes${against}.`;
    list.hidden = !d.files.length;
    io.disconnect();
    const items = [], sections = [];
    d.files.forEach((f, i) => {
      const st = h("span", { class: "rv-st" }, STATUS[f.status] || "?");
      const path = f.oldPath ? `${f.oldPath} → ${f.path}` : f.path;
      const counts = f.binary ? h("span", { class: "muted" }, "bin")
        : h("span", {}, h("span", { class: "rv-add" }, `+${f.additions}`), " ", h("span", { class: "rv-del" }, `−${f.deletions}`));
      const section = h("section", { class: "rv-file", tid: "review-file", "data-path": f.path, id: `rv-f${i}` },
        h("div", { class: "rv-fh" }, st.cloneNode(true), h("span", { class: "p" }, path), counts.cloneNode(true)),
        h("div", { class: "rv-code" }));
      section._file = f;
      // Until built, a file takes about the room its rows will: only the files near the
      // screen are built (an empty section would be "near" for all of them at once).
      const n = f.hunks.reduce((k, hk) => k + hk.lines.length + 2, 0);
      if (n) section.lastChild.style.minHeight = `${Math.round(n * 17.4)}px`;
      sections.push(section);
      items.push(h("li", {}, h("button", { tid: "review-file-link", onclick: () => { fill(section); section.scrollIntoView(); } },
        st, h("span", { class: "p" }, path), counts)));
    });
    list.replaceChildren(...items);
    body.replaceChildren(...sections);
    for (const s of sections) io.observe(s);
  }

  async function load() {
    const t0 = performance.now();
    try {
      const [d] = await Promise.all([api(url(), { signal }), hlReady]);
      const t1 = performance.now();
      render(d);
      // Figures for the browser test: fetch and first paint of the page's rows.
      requestAnimationFrame(() => {
        page.dataset.fetchMs = String(Math.round(t1 - t0));
        page.dataset.renderMs = String(Math.round(performance.now() - t1));
        page.dataset.loaded = String(Date.now());
      });
    } catch (e) {
      if (e.name === "AbortError") return;
      summary.textContent = e.message;
      summary.classList.add("error");
      page.dataset.loaded = String(Date.now());
    }
  }

  sel.onchange = () => {
    range = sel.value;
    history.replaceState(null, "", `${location.pathname}${range === "all" ? "" : `?range=${range}`}`);
    load();
  };
  refresh.onclick = () => { load(); loadComments(); };
  // Live: when the agent finishes a turn (working → idle or waiting), its changes are read
  // again; never while a comment is being written (then the summary says so).
  const off = kit.onStateChange?.((ev) => {
    if (ev.name !== name || ev.previous !== "working" || ev.state === "working") return;
    if (body.querySelector(".rv-form")) summary.textContent += " · the agent changed things: Refresh";
    else load();
  });
  if (off) cleanup?.(off);
  await Promise.all([load(), loadComments()]);
  return current;
}
