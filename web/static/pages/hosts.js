// Admin: fleet hosts (issue 17), the other llmux daemons this one shows and drives as a hub.
// Add one by URL (with a token minted there) or by SSH (installing llmux there if asked), with
// labels for placement; test it, map its users, upgrade an SSH host, remove it.

import { h, enc, busy, toast, confirmDialog, field, section, plural, ago, ask } from "../js/ui.js";
// Stateful helpers come from the app through mount's third argument (web/README.md, "On-demand pages").
let api, post, patch, del;

const STATUS = { up: ["ok", "up"], down: ["warnb", "down"], connecting: ["off", "connecting"] };
const mib = (b) => (b == null ? null : `${Math.round(b / 1048576).toLocaleString()} MiB free`);
// A user mapping as text and back: "ann, bob=robert, *" (* = everyone by the same name).
const usersText = (u = {}) => [...Object.entries(u.map || {}).map(([a, b]) => (a === b ? a : `${a}=${b}`)), ...(u.sameNames ? ["*"] : [])].join(", ");
const usersShown = (u = {}) => [...(u.sameNames ? ["same names"] : []), ...Object.entries(u.map || {}).map(([a, b]) => `${a}→${b}`)].join(", ");
function parseUsers(text) {
  const users = { sameNames: false, map: {} };
  for (const w of text.split(/[\s,]+/).filter(Boolean)) {
    if (w === "*") users.sameNames = true;
    else { const [a, b] = w.split("="); users.map[a] = b || a; }
  }
  return users;
}

export default async function mount(root, _params, pg) {
  ({ api, post, patch, del } = pg);
  const list = h("ul", { class: "rows", tid: "host-list" });
  const count = h("span", { class: "muted" });
  const refresh = h("button", { class: "btn sm", tid: "hosts-refresh", onclick: () => load().catch(() => {}) }, "Refresh");

  const name = h("input", { tid: "host-name", autocomplete: "off", autocapitalize: "none", spellcheck: "false", pattern: "[A-Za-z0-9][A-Za-z0-9._-]{0,63}" });
  const kind = h("select", { tid: "host-kind" }, h("option", { value: "url" }, "URL and token"), h("option", { value: "ssh" }, "OpenSSH"));
  const url = h("input", { tid: "host-url", type: "url", autocomplete: "off", placeholder: "https://box.tailnet.ts.net" });
  const token = h("input", { tid: "host-token", type: "password", autocomplete: "off" });
  const ssh = h("input", { tid: "host-ssh", autocomplete: "off", autocapitalize: "none", spellcheck: "false", placeholder: "user@host:22" });
  const socket = h("input", { tid: "host-socket", autocomplete: "off", placeholder: "asked of llmux there" });
  const install = h("input", { tid: "host-install", type: "checkbox" });
  const labels = h("input", { tid: "host-labels", autocomplete: "off", autocapitalize: "none", spellcheck: "false", placeholder: "gpu fast-disk" });
  const byUrl = h("div", {}, field("hurl", "URL", url), field("htok", "Token", token, "A token minted on that host for this hub: llmux token create --user ADMIN --scope hub (kept here, never shown again)."));
  const bySsh = h("div", { hidden: true }, field("hssh", "SSH target", ssh, "Reached with this machine's ssh, its config, keys and known_hosts; never a password."), field("hsock", "Daemon socket (optional)", socket),
    h("label", { class: "check" }, install, " Install llmux there first (if it has none or an older one) and start it"));
  kind.addEventListener("change", () => { byUrl.hidden = kind.value !== "url"; bySsh.hidden = kind.value !== "ssh"; });
  const add = h("button", { type: "submit", class: "btn primary", tid: "host-add" }, "Add host");
  const form = h("form", { class: "card form", novalidate: true }, h("h2", {}, "Add a host"),
    field("hname", "Name", name, "Its sessions show as NAME:session."), field("hkind", "Reached by", kind), byUrl, bySsh,
    field("hlab", "Labels (optional)", labels, "For placement: llmux session start AGENT --host label:gpu."), add);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const tags = labels.value.split(/[\s,]+/).filter(Boolean);
    const body = kind.value === "url"
      ? { name: name.value.trim(), url: url.value.trim(), token: token.value, labels: tags }
      : { name: name.value.trim(), ssh: ssh.value.trim(), labels: tags, ...(socket.value.trim() && { socket: socket.value.trim() }) };
    const adding = async () => {
      if (kind.value === "ssh" && install.checked) {
        const r = await post("/api/installs", { ssh: body.ssh });
        toast(`llmux ${r.version} ${r.action === "current" ? "already there" : r.action} (${r.service})`, "ok");
        body.socket = r.socket;
      }
      return post("/api/hosts", body);
    };
    if (await busy(add, adding, `Added ${body.name}`)) {
      form.reset();
      token.value = "";
      byUrl.hidden = false;
      bySsh.hidden = true;
      await load();
    }
  });

  root.append(h("div", { class: "page" }, h("h1", {}, "Hosts"),
    h("p", { class: "hint" }, "Other llmux daemons whose sessions this one shows and drives, each reached over its own URL or OpenSSH. Only admins see them."),
    section(null, h("div", { class: "bar" }, h("h2", {}, "Hosts"), count, refresh), list), form));

  function row(x) {
    const [cls, label] = STATUS[x.status] || ["off", x.status];
    const facts = [x.transport === "ssh" ? `ssh ${x.address}` : x.address, x.version && `llmux ${x.version}`,
      plural(x.sessions, "session"), x.load != null && `load ${x.load.toFixed(2)}`, mib(x.memAvailable),
      x.lastSeen && `seen ${ago(x.lastSeen)}`, x.labels?.length && `labels ${x.labels.join(", ")}`,
      usersShown(x.users) && `users: ${usersShown(x.users)}`].filter(Boolean).join(" · ");
    const test = h("button", { class: "btn sm", tid: "host-test", onclick: async () => {
      const r = await busy(test, () => post(`/api/hosts/${enc(x.name)}/test`, {}));
      if (r) toast(r.ok ? `${x.name} answered in ${r.millis} ms${r.version ? ` (llmux ${r.version})` : ""}` : `${x.name}: ${r.error || "no answer"}`, r.ok ? "ok" : "error");
    } }, "Test");
    const upgrade = x.transport === "ssh" && h("button", { class: "btn sm", tid: "host-upgrade", onclick: async () => {
      const r = await busy(upgrade, () => post(`/api/hosts/${enc(x.name)}/upgrade`, {}));
      if (r) toast(`${x.name}: llmux ${r.version} ${r.action === "current" ? "already current" : r.action}`, "ok");
    } }, "Upgrade");
    const users = h("button", { class: "btn sm", tid: "host-users", onclick: async () => {
      const text = await ask({ title: `Users on ${x.name}`, label: "Hub users and their host users", value: usersText(x.users), tid: "host-users",
        hint: "Non-admins who see, drive and start their own sessions there: ann (the same name), bob=robert (host user robert), * (everyone by the same name). Empty: admins only." });
      if (text != null && (await busy(users, () => patch(`/api/hosts/${enc(x.name)}`, { users: parseUsers(text) }), `Users of ${x.name} saved`))) await load();
    } }, "Users");
    const remove = h("button", { class: "btn sm danger", tid: "host-remove", onclick: async () => {
      if (!(await confirmDialog(`Remove host ${x.name}? Its sessions keep running there; this hub stops showing them.`, "Remove"))) return;
      if (await busy(remove, () => del(`/api/hosts/${enc(x.name)}`), `Removed ${x.name}`)) await load();
    } }, "Remove");
    return h("li", { class: "row-item", tid: "host-row", "data-name": x.name },
      h("div", { class: "grow" }, h("strong", {}, x.name), h("span", { class: `badge ${cls}`, tid: "host-status" }, label),
        h("p", { class: "muted small" }, facts), x.error && h("p", { class: "small error" }, x.error)),
      test, users, upgrade || null, remove);
  }

  async function load() {
    const hosts = await api("/api/hosts", { signal: pg.signal });
    count.textContent = plural(hosts.length, "host");
    list.replaceChildren(...(hosts.length ? hosts.map(row) : [h("li", { class: "muted" }, "No hosts yet: add one below.")]));
  }
  await load();
}
