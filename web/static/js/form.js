// New session (/new) and edit session (/edit/<name>).

import { h, enc, field, setError, lines, toast } from "./ui.js";
import { api, post, patch, onSessions, me } from "./api.js";
import { navigate } from "./router.js";
import { agentCard } from "./agents.js";

const FIELDS = ["agent", "host", "name", "cwd", "flags", "env", "init", "worktree", "afterLimit"];

/** Which field a server message is about, from the way the daemon words its errors. */
export function fieldOf(message) {
  if (/^invalid session name|already exists/i.test(message)) return "name";
  if (/^cwd\b/i.test(message)) return "cwd";
  if (/^(invalid )?env\b/i.test(message)) return "env";
  if (/^flags?\b/i.test(message)) return "flags";
  if (/^(unknown )?agent\b/i.test(message)) return "agent";
  if (/^(no )?host\b/i.test(message)) return "host";
  if (/branch|base |worktree|git repository/i.test(message)) return "worktree";
  if (/^afterLimit\b/.test(message)) return "afterLimit";
  return null;
}

const envText = (env) => Object.entries(env || {}).map(([k, v]) => `${k}=${v}`).join("\n");

export default async function mount(root, { name }, pg) {
  const editing = name != null;
  const [agents, s, hosts] = await Promise.all([
    api("/api/agents/all", { signal: pg.signal }),
    editing ? api(`/api/sessions/${enc(name)}`, { signal: pg.signal }) : null,
    // Other machines this daemon drives: every host for an admin, the hosts that map them for
    // a user (whoami says which); none: no host field.
    editing ? [] : api(me.admin ? "/api/hosts" : "/api/auth/whoami", { signal: pg.signal })
      .then((r) => (Array.isArray(r) ? r : r.hosts || []), () => []),
  ]);
  const byKey = new Map(agents.map((a) => [a.key, a]));

  const picker = h("select", { tid: "agent-picker", disabled: editing, name: "agent" });
  const groups = [["Installed", true], ["Not installed", false]].map(([label, inst]) => {
    const g = h("optgroup", { label });
    for (const a of agents.filter((x) => x.installed === inst)) {
      g.append(h("option", { value: a.key }, `${a.displayName} — ${inst ? "installed" : "not installed"}`));
    }
    return g;
  }).filter((g) => g.children.length);
  picker.append(...groups);
  const wanted = new URLSearchParams(location.search).get("agent");
  const firstInstalled = agents.find((a) => a.installed && a.key === "claude") || agents.find((a) => a.installed) || agents[0];
  picker.value = s?.agent || (byKey.has(wanted) ? wanted : firstInstalled?.key || "");

  const helpPanel = h("section", { class: "card help", id: "agent-help-panel", tid: "agent-help-panel", hidden: true, "aria-label": "Supported agents" },
    h("h2", {}, "Supported agents"),
    h("p", { class: "muted" }, "An agent is installed when its program is on the daemon's PATH. Install one on the daemon's host, then reload this page."),
    h("ul", { class: "cards" }, agents.map((a) => agentCard(a, false))));
  const help = h("button", { class: "btn sm", tid: "agent-help", "aria-expanded": "false", "aria-controls": "agent-help-panel",
    onclick: () => {
      helpPanel.hidden = !helpPanel.hidden;
      help.setAttribute("aria-expanded", String(!helpPanel.hidden));
    } }, "Which agents?");

  const nameIn = h("input", { tid: "field-name", name: "name", autocomplete: "off", autocapitalize: "none", spellcheck: "false", placeholder: "defaults to the agent key" });
  const cwdIn = h("input", { tid: "field-cwd", name: "cwd", autocomplete: "off", autocapitalize: "none", spellcheck: "false", placeholder: "~ (the daemon user's home)", list: "cwd-list" });
  const cwdList = h("datalist", { id: "cwd-list" });
  const flagsIn = h("input", { tid: "field-flags", name: "flags", autocomplete: "off", autocapitalize: "none", spellcheck: "false" });
  const envIn = h("textarea", { tid: "field-env", name: "env", rows: 3, autocapitalize: "none", spellcheck: "false", placeholder: "KEY=VALUE, one per line" });
  const initIn = h("textarea", { tid: "field-init", name: "init", rows: 3, placeholder: "One prompt per line" });
  const wtIn = h("input", { tid: "field-worktree", name: "worktree", autocomplete: "off", autocapitalize: "none", spellcheck: "false", placeholder: "branch (blank: none)" });
  const hostSel = hosts.length ? h("select", { tid: "field-host", name: "host" },
    h("option", { value: "" }, "This machine"),
    hosts.map((x) => h("option", { value: x.name, disabled: x.status === "down" }, x.status === "down" ? `${x.name} (unreachable)` : x.name))) : null;
  // The after-limit setting: a toggle and the text it types (issue 19).
  const alOn = h("input", { type: "checkbox", tid: "field-after-limit-on" });
  const alIn = h("input", { tid: "field-after-limit", id: "f-afterLimit", autocomplete: "off", value: "continue", disabled: true, "aria-label": "Text typed after a rate limit" });
  alOn.addEventListener("change", () => { alIn.disabled = !alOn.checked; });
  const flagsHint = h("span");
  const envHint = h("span");
  const formError = h("p", { class: "error", tid: "form-error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "btn primary", tid: "form-submit" }, editing ? "Save changes" : "Start session");
  let flagsTouched = editing;

  function agentChanged() {
    const a = byKey.get(picker.value);
    if (!a) return;
    if (!flagsTouched) flagsIn.value = a.flags;
    flagsHint.textContent = a.flags ? `Default: ${a.flags} — clear the field to start with no flags.` : "This agent has no default flags.";
    const env = envText(a.envDefaults);
    envHint.textContent = env ? `Set for every ${a.key} session: ${env.replaceAll("\n", ", ")}. Add more, one KEY=VALUE per line.` : "Extra environment, one KEY=VALUE per line.";
  }
  picker.addEventListener("change", agentChanged);
  flagsIn.addEventListener("input", () => { flagsTouched = true; });

  if (s) {
    nameIn.value = s.name;
    cwdIn.value = s.cwd;
    flagsIn.value = s.flags ?? s.defaultFlags;
    envIn.value = envText(s.env);
    initIn.value = s.initPrompts.join("\n");
    alOn.checked = s.afterLimit != null;
    alIn.disabled = !alOn.checked;
    if (alOn.checked) alIn.value = s.afterLimit;
  }
  agentChanged();
  pg.cleanup(onSessions((list) => {
    cwdList.replaceChildren(...[...new Set(list.map((x) => x.cwd))].map((c) => h("option", { value: c })));
  }));

  const form = h("form", { class: "card form", novalidate: true },
    h("div", { class: "field" },
      h("label", { for: "f-agent" }, "Agent"),
      h("div", { class: "row" }, picker, help),
      h("p", { class: "ferr", id: "e-agent", tid: "error-agent", hidden: true })),
    helpPanel,
    hostSel && field("host", "Host", hostSel, "The machine the agent runs on: the folder and the agent must be there.", "error-host"),
    field("name", "Name", nameIn, editing ? "Renaming is live; the agent keeps running." : "Letters, digits, '.', '_' and '-'.", "error-name"),
    field("cwd", "Working directory", cwdIn, "An absolute path on the daemon's host, or ~/…", "error-cwd"), cwdList,
    field("flags", "Flags", flagsIn, flagsHint, "error-flags"),
    field("env", "Environment", envIn, envHint, "error-env"),
    field("init", "Init prompts", initIn, "Typed into the agent, one per line, once its screen settles.", "error-init"),
    h("div", { class: "field" }, h("label", {}, alOn, " After a rate limit, type"), alIn,
      h("p", { class: "hint" }, "Each time the agent stops at its usage limit, typed once the limit has reset."),
      h("p", { class: "ferr", id: "e-afterLimit", tid: "error-after-limit", hidden: true })),
    editing && s.worktree ? null : field("worktree", "Git worktree", wtIn, editing
      ? "Move the session into a new git worktree of its directory's repository, on this branch (BRANCH:BASE picks the base); a running agent restarts there."
      : "A new git worktree of the directory's repository, on this branch (existing, or new from HEAD; BRANCH:BASE picks the base).", "error-worktree"),
    editing && s.status === "running" ? h("p", { class: "hint" }, "Changing the working directory, flags or environment restarts the running agent.") : null,
    formError,
    h("div", { class: "row" }, submit, h("a", { class: "btn", href: "/" }, "Cancel")));
  picker.id = "f-agent";
  picker.setAttribute("aria-describedby", "e-agent");

  root.append(h("div", { class: "page narrow" }, h("h1", {}, editing ? `Edit ${name}` : "New session"), form));

  /** The worktree asked for in the field (`BRANCH` or `BRANCH:BASE`), or null. */
  function worktree() {
    const [branch, base] = wtIn.value.trim().split(":");
    return branch ? (base ? { branch, base } : { branch }) : null;
  }

  function body() {
    const b = {};
    const flags = flagsIn.value.trim();
    const env = envIn.value.trim();
    const prompts = lines(initIn.value);
    if (!editing) {
      b.agent = picker.value;
      if (hostSel?.value) b.host = hostSel.value;
      if (nameIn.value.trim()) b.name = nameIn.value.trim();
      if (cwdIn.value.trim()) b.cwd = cwdIn.value.trim();
      if (flags !== byKey.get(picker.value)?.flags) b.flags = flags;
      if (env) b.env = env;
      if (prompts.length) b.initPrompts = prompts;
      const wt = worktree();
      if (wt) b.worktree = wt;
      if (alOn.checked) b.afterLimit = alIn.value.trim();
      return b;
    }
    const after = alOn.checked ? alIn.value.trim() : null;
    if (after !== (s.afterLimit ?? null)) b.afterLimit = after;
    if (nameIn.value.trim() && nameIn.value.trim() !== s.name) b.name = nameIn.value.trim();
    if (cwdIn.value.trim() && cwdIn.value.trim() !== s.cwd) b.cwd = cwdIn.value.trim();
    if (flags !== (s.flags ?? s.defaultFlags)) b.flags = flags === s.defaultFlags && s.flags != null ? null : flags;
    if (env !== envText(s.env)) b.env = env || null;
    if (prompts.join("\n") !== s.initPrompts.join("\n")) b.initPrompts = prompts;
    return b;
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    for (const f of FIELDS) setError(form, f, "");
    formError.hidden = true;
    if (!editing && !picker.value) return setError(form, "agent", "Choose an agent.");
    const b = body();
    // a worktree is an edit of its own (the daemon refuses it with other changes): after them
    const wt = editing && !s.worktree ? worktree() : null;
    if (editing && !Object.keys(b).length && !wt) { toast("Nothing changed"); return navigate("/"); }
    submit.disabled = true;
    submit.setAttribute("aria-busy", "true");
    try {
      if (editing) {
        let r = Object.keys(b).length ? await patch(`/api/sessions/${enc(name)}`, b) : { session: s };
        if (wt) r = await patch(`/api/sessions/${enc(r.session.name)}`, { worktree: wt });
        toast(`Saved ${r.session.name}`);
        navigate("/");
      } else {
        const r = await post("/api/sessions", b);
        navigate(`/s/${enc(r.session.name)}`);
      }
    } catch (err) {
      if (err.redirecting) return;
      const f = err.status === 400 || err.status === 409 ? fieldOf(err.message) : null;
      if (f) {
        setError(form, f, err.message);
        form.querySelector(`#f-${f}`)?.focus();
      } else {
        formError.textContent = err.message;
        formError.hidden = false;
      }
    } finally {
      submit.disabled = false;
      submit.removeAttribute("aria-busy");
    }
  });
  (editing ? nameIn : picker).focus();
}
