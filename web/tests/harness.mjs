// The browser tests' harness: a real llmux daemon (with the `fake` agent) on a private temp dir,
// and Debian's Chromium driven by playwright-core.
//
// Run: `npm run test:browser` in web/ (node --test tests/). Environment: LLMUX_BIN (default
// target/debug/llmux; `cargo build -p llmux`), CHROMIUM (default /usr/bin/chromium).
// Screenshots (<flow>-<viewport>.png) and each daemon's log go to web/test-artifacts/.
//
//   const d = await startDaemon({ admin: true });   // or without admin: the setup wizard
//   const browser = await launchBrowser();
//   const { page, guard } = await openPage(browser, 'phone', d);
//   ...
//   guard.check();  await d.stop();  await browser.close();

import { spawn, execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import assert from 'node:assert/strict';
import { before, after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const WEB_DIR = path.resolve(here, '..');
export const REPO = path.resolve(WEB_DIR, '..');
export const BIN = process.env.LLMUX_BIN || path.join(REPO, 'target/debug/llmux');
export const FAKE_AGENT = path.join(REPO, 'crates/llmux/tests/fixtures/fake-agent');
/** A stand-in for Qwen Code's TUI: registered as `fakeq` (with the qwen detector) and as `qwen`. */
export const FAKE_QWEN = path.join(REPO, 'crates/llmux/tests/fixtures/fake-qwen');
export const ARTIFACTS = path.join(WEB_DIR, 'test-artifacts');

/** The admin every `startDaemon({ admin: true })` gets. */
export const ADMIN = { username: 'admin', passphrase: 'correct horse battery' };

/** The two viewports every flow runs at. */
export const VIEWPORTS = {
  phone: { viewport: { width: 412, height: 915 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
  desktop: { viewport: { width: 1920, height: 1080 } },
};

/** The XSS payload used as a display name, a token name, agent output and a filter. */
export const XSS = '</script><img src=x onerror=alert(1)>';

/** Polls fn() until it returns a truthy value; throws what(last) after the deadline. */
export async function until(fn, { timeout = 10000, interval = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${typeof what === 'function' ? what(last) : what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

// ---- the daemon ----

const live = new Set();
let daemons = 0;
// If the test process dies without its after() hooks, still leave no daemon or tmux behind.
process.on('exit', () => {
  for (const d of live) d.stopSync();
});
// A test file that hangs (a daemon that stopped answering, a browser that never returns)
// fails alone after 10 minutes, with its daemons' logs, instead of holding the whole suite
// until CI's limit. Unref'd: it never keeps a finished file alive.
const FILE_TIMEOUT_MS = Number(process.env.LLMUX_TEST_FILE_TIMEOUT_MS) || 10 * 60 * 1000;
setTimeout(() => {
  console.error(`this test file ran over ${FILE_TIMEOUT_MS / 1000} s; stopping it`);
  for (const d of live) {
    try { console.error(`daemon log (${d.url}):\n${d.log().split('\n').slice(-40).join('\n')}`); } catch { /* gone */ }
  }
  process.exit(1);
}, FILE_TIMEOUT_MS).unref();
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    for (const d of live) d.stopSync();
    process.exit(130);
  });
}

function daemonEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('LLMUX_') && k !== 'XDG_STATE_HOME' && k !== 'TMUX') env[k] = v;
  }
  return { ...env, ...extra };
}

/**
 * The usual set-up of a test file: one daemon with an admin signed up and one browser, started
 * before the file's tests (handed to `set`) and stopped after them.
 */
export function withAdminDaemon(set) {
  let browser;
  let d;
  before(async () => {
    [browser, d] = await Promise.all([launchBrowser(), startDaemon({ admin: true })]);
    set(browser, d);
  });
  after(async () => {
    await browser?.close();
    await d?.stop();
  });
}

/**
 * Starts `llmux server start --port 0` on a fresh temp dir. With `admin: true` the first admin
 * (ADMIN) is created from LLMUX_INIT_*; otherwise the banner's setup URL is returned.
 * `prepare({ state, home, env })` runs before the daemon starts (e.g. an import into its store).
 * Returns { url, port, setupUrl, dir, state, home, work, env, cli(), cliOk(), log(), stop() }.
 */
export async function startDaemon({ admin = false, timeout = 20000, prepare } = {}) {
  assert.ok(fs.existsSync(BIN), `no llmux binary at ${BIN}: run \`cargo build -p llmux\` (or set LLMUX_BIN)`);
  // Short: Unix socket paths are limited to ~100 bytes.
  const dir = fs.mkdtempSync('/tmp/lxw');
  const state = path.join(dir, 'state');
  const home = path.join(dir, 'home');
  const work = path.join(dir, 'work');
  for (const d of [state, home, work]) fs.mkdirSync(d, { mode: 0o700 });
  const config = path.join(dir, 'config.yaml');
  fs.writeFileSync(config, `agents:\n  fake:\n    cmd: ${JSON.stringify(FAKE_AGENT)}\n`
    + `  fakeq:\n    cmd: ${JSON.stringify(FAKE_QWEN)}\n    detector: qwen\n`
    + `  qwen:\n    cmd: ${JSON.stringify(FAKE_QWEN)}\n`);
  const env = daemonEnv({ LLMUX_STATE_DIR: state, HOME: home });
  if (prepare) prepare({ dir, state, home, env });
  const daemonEnvVars = { ...env, LLMUX_LOG: 'info' };
  if (admin) Object.assign(daemonEnvVars, { LLMUX_INIT_USERNAME: ADMIN.username, LLMUX_INIT_PASSPHRASE: ADMIN.passphrase });
  const logPath = path.join(dir, 'daemon.log');
  const logFd = fs.openSync(logPath, 'a');
  const child = spawn(BIN, ['server', 'start', '--port', '0', '--config', config], {
    cwd: work, env: daemonEnvVars, stdio: ['ignore', 'pipe', logFd],
  });
  fs.closeSync(logFd);

  const logName = `${path.basename(process.argv[1] || 'daemon', '.mjs')}-${++daemons}`;
  const d = {
    dir, state, home, work, env, child, url: '', port: 0, setupUrl: null, stdout: '',
    log: () => { try { return fs.readFileSync(logPath, 'utf8'); } catch { return ''; } },
    /** Runs the CLI over the daemon's socket (as the local operator). */
    cli: (args, opts = {}) => new Promise((resolve) => {
      execFile(BIN, args, { cwd: work, env: { ...env, ...(opts.env || {}) }, timeout: 20000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      });
    }),
    async cliOk(args, opts) {
      const r = await d.cli(args, opts);
      assert.equal(r.code, 0, `llmux ${args.join(' ')} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
      return r.stdout;
    },
    stopSync() {
      if (!live.has(d)) return;
      live.delete(d);
      if (child.exitCode === null && child.signalCode === null) {
        try { child.kill('SIGKILL'); } catch { /* gone */ }
      }
      const sock = path.join(state, 'run/tmux.sock');
      spawnSync('tmux', ['-S', sock, 'kill-server'], { stdio: 'ignore', env: daemonEnv({}) });
      // A control client the daemon was still starting can outlive it and bring up a fresh
      // server after that kill-server: end every process of this socket, then the server again.
      spawnSync('pkill', ['-KILL', '-f', sock], { stdio: 'ignore' });
      spawnSync('tmux', ['-S', sock, 'kill-server'], { stdio: 'ignore', env: daemonEnv({}) });
      // Confined users' own tmux servers (run/u/<user>.sock).
      spawnSync('pkill', ['-KILL', '-f', path.join(state, 'run/u/')], { stdio: 'ignore' });
      // Keep the daemon's log with the screenshots, for a failure's post-mortem.
      try {
        fs.mkdirSync(path.join(ARTIFACTS, 'logs'), { recursive: true });
        fs.writeFileSync(path.join(ARTIFACTS, 'logs', `${logName}.log`), `${d.stdout}\n${d.log()}`);
      } catch { /* best effort */ }
      fs.rmSync(dir, { recursive: true, force: true });
    },
    /** Stops the daemon (TERM, then KILL), kills its tmux server, removes the temp dir. */
    async stop() {
      if (!live.has(d)) return;
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => { try { child.kill('SIGKILL'); } catch { /* gone */ } }, 3000);
        await exited;
        clearTimeout(t);
      }
      d.stopSync();
    },
  };
  live.add(d);

  try {
    // The banner: "  ▸ Local    http://127.0.0.1:PORT", then (without users) "/setup#token=…".
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no banner in time')), timeout);
      const rl = readline.createInterface({ input: child.stdout });
      child.once('exit', (code, sig) => { clearTimeout(timer); reject(new Error(`daemon exited (${code ?? sig}) before its banner`)); });
      rl.on('line', (line) => {
        d.stdout += `${line}\n`;
        const local = /▸ Local\s+(http:\/\/127\.0\.0\.1:(\d+))/.exec(line);
        if (local) { d.url = local[1]; d.port = Number(local[2]); }
        const setup = /(http:\/\/\S+\/setup#token=\S+)/.exec(line);
        if (setup) d.setupUrl = setup[1];
        if (d.url && (d.setupUrl || /sign in at/.test(line))) { clearTimeout(timer); resolve(); }
      });
    });
    child.stdout.resume(); // keep draining
    await until(async () => (await fetch(`${d.url}/health`)).ok, { timeout, what: `${d.url}/health` });
  } catch (e) {
    const out = d.stdout;
    const log = d.log();
    await d.stop();
    throw new Error(`${e.message}\nstdout:\n${out}\nlog:\n${log}`);
  }
  return d;
}

// ---- the browser ----

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * Watches a page for anything an XSS or a broken page would show: a window dialog (alert/
 * confirm/prompt — the app's own confirm is a <dialog> element and never fires this), an
 * uncaught error, a console error, or a request for the payload's image (`/x`). Expected
 * console errors (e.g. a 400 the test provokes) are allowed with allow(regex), matched against
 * "<message> (<source url>)".
 */
export function guard(page) {
  const problems = [];
  const allowed = [];
  page.on('dialog', (dlg) => {
    problems.push(`window ${dlg.type()} dialog: ${JSON.stringify(dlg.message())}`);
    dlg.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => problems.push(`uncaught error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = `${m.text()} (${m.location()?.url || '?'})`;
    if (allowed.some((re) => re.test(text))) return;
    problems.push(`console error: ${text}`);
  });
  page.on('request', (r) => {
    let p = '';
    try { p = new URL(r.url()).pathname; } catch { /* data: */ }
    if (p === '/x') problems.push(`request for the payload's image: ${r.url()}`);
  });
  return {
    problems,
    allow(re) { allowed.push(re); },
    check(what = 'page') { assert.deepEqual(problems, [], `${what}: unexpected dialogs or errors`); },
  };
}

/**
 * A fresh context (own cookies) at a viewport, with a guarded page. With `login`, signs in
 * through the API first ({username, passphrase}).
 */
export async function openPage(browser, vp, d, { login } = {}) {
  const context = await browser.newContext({ ...VIEWPORTS[vp], baseURL: d.url });
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  const g = guard(page);
  if (login) await apiLogin(context, d, login);
  return { context, page, guard: g };
}

/** Signs a context in with the JSON API (sets the session cookie). */
export async function apiLogin(context, d, { username, passphrase }) {
  const r = await context.request.post(`${d.url}/api/auth/login`, {
    data: { username, passphrase }, headers: { Origin: d.url },
  });
  assert.equal(r.status(), 200, `login as ${username}: ${r.status()} ${await r.text()}`);
}

/** A same-origin JSON call from inside the page (the page's cookie, the page's Origin). */
export function pageFetch(page, url, { method = 'GET', body } = {}) {
  return page.evaluate(async ([u, m, b]) => {
    const res = await fetch(u, { method: m, credentials: 'same-origin', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: b === undefined ? undefined : JSON.stringify(b) });
    let data = null;
    try { data = await res.json(); } catch { /* empty */ }
    return { status: res.status, data };
  }, [url, method, body]);
}

export async function screenshot(page, flow, vp) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${flow}-${vp}.png`) });
}

/** Opens the menu (a drawer on phones, sliding in; always shown on wide screens). */
export async function openMenu(page) {
  if (!(await page.getByTestId('nav-sessions').isVisible())) await page.getByTestId('nav-menu').click();
  await page.waitForFunction(() => {
    const nav = document.getElementById('nav');
    return getComputedStyle(nav).visibility === 'visible' && nav.getBoundingClientRect().left >= 0;
  });
}

/** Clicks a menu entry (opening the menu first where it is a drawer). */
export async function menu(page, testid) {
  await openMenu(page);
  await page.getByTestId(testid).click();
}

// ---- the terminal ----

/** The xterm buffer as text (wrapped rows joined), from window.__llmuxTerm. */
export function termText(page) {
  return page.evaluate(() => {
    const t = window.__llmuxTerm;
    if (!t) return '';
    const b = t.buffer.active;
    const out = [];
    for (let i = 0; i < b.length; i++) {
      const line = b.getLine(i);
      if (!line) continue;
      const s = line.translateToString(true);
      if (line.isWrapped && out.length) out[out.length - 1] += s;
      else out.push(s);
    }
    return out.join('\n');
  });
}

/** Waits until the terminal buffer (wrapped rows joined) contains needle; on timeout, shows the buffer. */
export async function waitForTerm(page, needle, timeout = 10000) {
  try {
    await page.waitForFunction((n) => {
      const t = window.__llmuxTerm;
      if (!t) return false;
      const b = t.buffer.active;
      let text = '';
      for (let i = 0; i < b.length; i++) {
        const line = b.getLine(i);
        if (!line) continue;
        text += (line.isWrapped ? '' : '\n') + line.translateToString(true);
      }
      return text.includes(n);
    }, needle, { timeout, polling: 50 });
  } catch (e) {
    throw new Error(`${JSON.stringify(needle)} never appeared in the terminal: ${e.message}\nbuffer:\n${await termText(page).catch(() => '?')}`);
  }
}

/** Opens /s/<name> and waits for a live connection and the fake agent's prompt on screen. */
export async function openTerminal(page, name) {
  await page.goto(`/s/${encodeURIComponent(name)}`);
  await page.locator('[data-testid=status-dot][data-state=live]').waitFor();
  await waitForTerm(page, 'SIZE ');
}

/** Starts n fake sessions over the socket, 8 at a time. */
export async function startFakeSessions(d, names) {
  for (let i = 0; i < names.length; i += 8) {
    await Promise.all(names.slice(i, i + 8).map((n) => d.cliOk(['session', 'start', 'fake', '--name', n, '--cwd', d.work])));
  }
}
