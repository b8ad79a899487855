// Agent state in the UI, with `fakeq` (crates/llmux/tests/fixtures/fake-qwen read by llmux's
// real qwen detector): the state badge (starting → idle, working, waiting), the chat page's
// composer, Stop, the waiting card answering a permission question, the toast and the
// "(N)" title count, the "no conversation yet" notice then fakeq's own Qwen transcript (it
// borrows qwen's kind, history included), a Qwen transcript file rendered as turns,
// History, and the "Notify me" bell. The XSS payload is typed as a prompt and written into the
// transcript: it must only ever show as text.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { withAdminDaemon, openPage, screenshot, pageFetch, until, ADMIN, VIEWPORTS, XSS } from './harness.mjs';

/** An assistant reply in markdown: a heading, a list with inline code, a code block, a table. */
const MARKDOWN = [
  '## Files', '', 'There is one file and a note:', '', '- ok.txt', '- `notes.md`', '',
  '```sh', 'ls -la --color=never /a/very/long/path/that/does/not/fit/on/a/phone/screen/at/all/and/keeps/going/on', '```', '',
  '| name | size |', '|------|-----:|', '| ok.txt | 12 |',
].join('\n');

let browser;
let d;
withAdminDaemon((b, daemon) => { browser = b; d = daemon; });

/** Creates a session through the page's API (owned by the signed-in admin); returns its cwd. */
async function create(page, body) {
  const cwd = body.cwd || path.join(d.work, body.name);
  fs.mkdirSync(cwd, { recursive: true });
  const r = await pageFetch(page, '/api/sessions', { method: 'POST', body: { cwd, ...body } });
  assert.ok(r.status === 200 || r.status === 201, `create ${body.name}: ${r.status} ${JSON.stringify(r.data)}`);
  return cwd;
}

/**
 * Records every value the attribute `attr` of the elements matching `sel` takes (checked on
 * every animation frame), so a short-lived state is not missed. Read with seen(page, key).
 */
const watch = (page, key, sel, attr = 'data-state') => page.evaluate(([k, s, a]) => {
  const log = (window.__seen ||= {})[k] = [];
  const tick = () => {
    const v = document.querySelector(s)?.getAttribute(a);
    if (v && log[log.length - 1] !== v) log.push(v);
    requestAnimationFrame(tick);
  };
  tick();
}, [key, sel, attr]);
const seen = (page, key) => page.evaluate((k) => window.__seen?.[k] || [], key);

/** Waits until the selector's data-state is `want`; the message says what it was. */
async function expectState(page, sel, want, timeout = 15000) {
  await page.waitForFunction(([s, w]) => document.querySelector(s)?.dataset.state === w, [sel, want], { timeout, polling: 50 })
    .catch(async (e) => {
      const now = await page.evaluate((s) => document.querySelector(s)?.dataset.state, sel);
      throw new Error(`${sel} never became ${want} (it is ${now}): ${e.message}`);
    });
}

/** A subsequence check: `want` appears in `log` in this order. */
function inOrder(log, want) {
  let i = 0;
  for (const v of log) if (v === want[i]) i++;
  return i === want.length;
}

for (const vp of Object.keys(VIEWPORTS)) {
  test(`fakeq: badges, chat composer, waiting card, notifications (${vp})`, async (t) => {
    const name = `q-${vp}`;
    const { context, page, guard } = await openPage(browser, vp, d, { login: ADMIN });
    t.after(() => context.close());
    const rowBadge = `[data-testid=session-row][data-name="${name}"] [data-testid=session-state]`;
    await page.goto('/');
    await page.getByTestId('new-session').waitFor();
    await watch(page, 'row', rowBadge);

    // starting → idle on the sessions list (a slow start, so that `starting` is seen).
    const cwd = await create(page, { agent: 'fakeq', name, env: { FAKE_STARTUP_MS: '2500', FAKE_THINK_MS: '2000' } });
    await expectState(page, rowBadge, 'idle');
    await until(async () => inOrder(await seen(page, 'row'), ['starting', 'idle']), { what: 'row badge starting, then idle', timeout: 2000 });
    assert.match(await page.locator(rowBadge).textContent(), /idle/);
    assert.match(await page.locator(rowBadge).locator('time').textContent(), /just now|ago/);
    await screenshot(page, 'agent-list-idle', vp);

    // The row's ⋯ menu links to the chat page. fakeq borrows qwen's kind, so the page reads
    // qwen's transcript of its conversation: none written yet, so a notice links to the terminal.
    await page.locator(`[data-testid=session-row][data-name="${name}"]`).getByTestId('session-menu').click();
    await page.getByTestId('session-menu-dialog').getByTestId('session-chat').click();
    await page.waitForURL(`**/c/${name}`);
    const empty = page.getByTestId('chat-empty');
    await empty.waitFor();
    assert.match(await empty.textContent(), /No conversation yet/);
    assert.doesNotMatch(await empty.textContent(), /cannot read/);
    assert.equal(await empty.locator('a').getAttribute('href'), `/s/${name}`);
    assert.equal(await page.getByTestId('open-terminal').getAttribute('href'), `/s/${name}`);
    await expectState(page, '[data-testid=chat-state]', 'idle');
    await watch(page, 'chat', '[data-testid=chat-state]');

    // "say hello" from the composer (Enter sends): working (with Stop), then idle, with a toast.
    await page.getByTestId('chat-input').fill('say hello');
    await page.getByTestId('chat-input').press('Enter');
    await expectState(page, '[data-testid=chat-state]', 'working');
    await page.getByTestId('chat-stop').waitFor();
    // The composer clears when the daemon has taken the prompt (its answer can come after the
    // state event that shows the agent working).
    await until(async () => (await page.getByTestId('chat-input').inputValue()) === '', { timeout: 5000, what: 'the composer cleared' });
    assert.equal(await page.getByTestId('chat-sent').last().textContent(), 'say hello');
    await screenshot(page, 'agent-chat-working', vp);
    await expectState(page, '[data-testid=chat-state]', 'idle');
    await page.getByTestId('chat-stop').waitFor({ state: 'hidden' });
    const idleToast = page.locator(`[data-testid=state-toast][data-name="${name}"][data-state=idle]`);
    await idleToast.waitFor();
    assert.equal(await idleToast.locator('a').getAttribute('href'), `/c/${name}`);
    await until(async () => inOrder(await seen(page, 'chat'), ['idle', 'working', 'idle']), { what: 'chat badge idle, working, idle', timeout: 2000 });

    // Shift+Enter is a new line, not a send.
    await page.getByTestId('chat-input').press('Shift+Enter');
    assert.equal(await page.getByTestId('chat-input').inputValue(), '\n');
    await page.getByTestId('chat-input').fill('');

    // A permission question: the waiting card with both options, a toast, "(1)" in the title.
    await page.getByTestId('chat-input').fill('please run `touch ok.txt`');
    await page.getByTestId('chat-send').click();
    const card = page.getByTestId('waiting-card');
    await card.waitFor();
    const options = card.getByTestId('answer-option');
    await until(async () => (await options.count()) === 2, { what: 'two options' });
    assert.deepEqual(await options.allTextContents(), ['Yes, allow once', 'No, suggest changes (esc)']);
    await expectState(page, '[data-testid=chat-state]', 'waiting');
    assert.match(await page.getByTestId('chat-state').textContent(), /waiting: .*touch/);
    await page.locator(`[data-testid=state-toast][data-name="${name}"][data-state=waiting]`).waitFor();
    await page.waitForFunction(() => document.title.startsWith('(1) '), null, { polling: 50 });
    // The sessions list (another tab) shows it waiting, first.
    const list = await context.newPage();
    await list.goto('/');
    await expectState(list, rowBadge, 'waiting');
    assert.equal(await list.locator('[data-testid=session-row]').first().getAttribute('data-name'), name, 'waiting sorts first');
    assert.match(await list.locator(rowBadge).textContent(), /waiting: .*touch/);
    await screenshot(list, 'agent-list-waiting', vp);
    await list.close();
    await screenshot(page, 'agent-chat-waiting', vp);

    // A failed answer is reported in words and the buttons come back (the daemon's reply is
    // faked once, held a moment so that the disabled buttons can be seen).
    guard.allow(/status of 409/);
    let sentBody = null;
    await page.route('**/answer', async (route) => {
      sentBody = route.request().postDataJSON();
      await new Promise((r) => setTimeout(r, 300));
      await route.fulfill({ status: 409, contentType: 'application/json', body: JSON.stringify({ error: 'the question is gone', code: 'conflict' }) });
    }, { times: 1 });
    await options.first().click();
    await until(async () => (await options.evaluateAll((bs) => bs.every((b) => b.disabled))), { what: 'buttons disabled in flight' });
    await card.getByTestId('answer-error').waitFor();
    assert.match(await card.getByTestId('answer-error').textContent(), /Could not answer “Yes, allow once”: the question is gone/);
    assert.deepEqual(sentBody, { option: 1 }, 'the first option is number 1, as on the screen');
    assert.equal(await options.first().isEnabled(), true, 'the buttons are enabled again');
    assert.equal(fs.existsSync(path.join(cwd, 'ok.txt')), false);

    // "Yes, allow once": the file appears, back to idle.
    await options.first().click();
    await until(() => fs.existsSync(path.join(cwd, 'ok.txt')), { what: 'ok.txt in the session cwd', timeout: 10000 });
    await expectState(page, '[data-testid=chat-state]', 'idle');
    await card.waitFor({ state: 'hidden' });
    await page.locator(`[data-testid=state-toast][data-name="${name}"][data-state=waiting]`).waitFor({ state: 'detached' });
    await page.waitForFunction(() => !/^\(\d+\) /.test(document.title), null, { polling: 50 });

    // The XSS payload as a prompt: sent, shown as text, never run.
    await page.getByTestId('chat-input').fill(XSS);
    await page.getByTestId('chat-send').click();
    await until(async () => (await page.getByTestId('chat-sent').last().textContent()) === XSS, { what: 'the payload echoed as text' });
    await expectState(page, '[data-testid=chat-state]', 'working');
    await expectState(page, '[data-testid=chat-state]', 'idle');
    assert.equal(await page.locator('main img').count(), 0, 'no <img> from the payload');

    // Stop presses Escape while working: the fake prints "Request cancelled."
    await page.getByTestId('chat-input').fill('think for a while');
    await page.getByTestId('chat-input').press('Enter');
    await page.getByTestId('chat-stop').click();
    await expectState(page, '[data-testid=chat-state]', 'idle');
    const pane = await pageFetch(page, `/api/sessions/${name}/capture`);
    assert.match(JSON.stringify(pane.data), /Request cancelled/);
    await screenshot(page, 'agent-chat-idle', vp);

    // Its conversation (the id llmux chose with --session-id) written where Qwen Code writes
    // it: the chat page shows its turns, as for the qwen agent itself.
    const view = await pageFetch(page, `/api/sessions/${name}`);
    const id = view.data.conversationId;
    assert.match(id || '', /^[0-9a-f-]{36}$/, JSON.stringify(view.data));
    const chats = path.join(d.home, '.qwen/projects', cwd.replace(/[^A-Za-z0-9]/g, '-'), 'chats');
    fs.mkdirSync(chats, { recursive: true });
    const at = new Date().toISOString();
    const qline = (uuid, type, role, parts) => JSON.stringify({ uuid, sessionId: id, timestamp: at, type, cwd, message: { role, parts } });
    fs.writeFileSync(path.join(chats, `${id}.jsonl`), [
      qline('00000000-0000-4000-8000-0000000000a1', 'user', 'user', [{ text: 'say hello' }]),
      qline('00000000-0000-4000-8000-0000000000a2', 'assistant', 'model', [{ text: 'Hello from fakeq.' }]),
    ].join('\n') + '\n');
    const turns = page.getByTestId('chat-turn');
    await until(async () => (await turns.count()) === 2, { what: "fakeq's transcript as 2 turns", timeout: 10000 });
    assert.deepEqual(await turns.evaluateAll((els) => els.map((e) => e.dataset.role)), ['user', 'assistant']);
    assert.equal((await turns.nth(1).textContent()).trim(), 'Hello from fakeq.');
    assert.equal(await page.getByTestId('chat-empty').isHidden(), true);
    await screenshot(page, 'agent-chat-transcript', vp);

    // The terminal page: the state next to the status dot, and a link to the chat.
    await page.getByTestId('open-terminal').click();
    await page.locator('[data-testid=status-dot][data-state=live]').waitFor();
    await expectState(page, '[data-testid=term-state]', 'idle');
    assert.equal(await page.getByTestId('open-chat').getAttribute('href'), `/c/${name}`);
    await screenshot(page, 'agent-terminal-state', vp);
    guard.check();
  });
}

test('the bell follows a session; the account page has the device switch', async (t) => {
  const name = 'q-bell';
  const { context, page, guard } = await openPage(browser, 'phone', d, { login: ADMIN });
  t.after(() => context.close());
  // Headless Chromium has no push service: make this browser one without Web Push, so the
  // bell only records the choice (for the user's other devices).
  await context.addInitScript(() => { delete window.PushManager; });
  await page.goto('/');
  await create(page, { agent: 'fakeq', name });
  await page.goto(`/c/${name}`);
  const bellBtn = page.locator('main').getByTestId('notify-toggle');
  await until(async () => (await bellBtn.getAttribute('aria-pressed')) === 'false', { what: 'the bell off' });
  await bellBtn.click();
  await until(async () => (await bellBtn.getAttribute('aria-pressed')) === 'true', { what: 'the bell on' });
  const followed = await pageFetch(page, '/api/push/sessions');
  assert.equal(followed.status, 200, JSON.stringify(followed.data));
  assert.deepEqual(followed.data.sessions.map((s) => s.name), [name]);
  await screenshot(page, 'agent-bell', 'phone');
  await bellBtn.click();
  await until(async () => (await bellBtn.getAttribute('aria-pressed')) === 'false', { what: 'the bell off again' });
  assert.deepEqual((await pageFetch(page, '/api/push/sessions')).data.sessions, []);
  await page.goto('/account');
  assert.match(await page.getByTestId('push-status').textContent(), /cannot get push notifications/);
  guard.check();
});

for (const vp of Object.keys(VIEWPORTS)) {
  test(`a Qwen transcript renders as turns, with History (${vp})`, async (t) => {
    const name = `qt-${vp}`;
    const home = path.join(d.dir, `qhome-${vp}`);
    const cwd = path.join(d.work, name);
    fs.mkdirSync(cwd, { recursive: true });
    const id = vp === 'phone' ? '11111111-2222-4333-8444-555555555555' : '11111111-2222-4333-8444-666666666666';
    const chats = path.join(home, '.qwen/projects', cwd.replace(/[^A-Za-z0-9]/g, '-'), 'chats');
    fs.mkdirSync(chats, { recursive: true });
    const ts = (s) => new Date(Date.now() - 60000 + s * 1000).toISOString();
    let parent = null;
    const line = (n, type, role, parts) => {
      const uuid = `00000000-0000-4000-8000-00000000000${n}`;
      const l = JSON.stringify({ uuid, parentUuid: parent, sessionId: id, timestamp: ts(n), type, cwd, version: '0.15.10', message: { role, parts } });
      parent = uuid;
      return l;
    };
    fs.writeFileSync(path.join(chats, `${id}.jsonl`), [
      line(1, 'user', 'user', [{ text: 'list the files' }]),
      line(2, 'assistant', 'model', [{ text: 'thinking…', thought: true }, { text: `**Sure.** ${XSS}` }, { functionCall: { id: 'call-1', name: 'run_shell_command', args: { command: 'ls -la', description: 'list' } } }]),
      line(3, 'tool_result', 'user', [{ functionResponse: { id: 'call-1', name: 'run_shell_command', response: { output: `ok.txt\n${XSS}` } } }]),
      line(4, 'assistant', 'model', [{ text: MARKDOWN }]),
    ].join('\n') + '\n');

    const { context, page, guard } = await openPage(browser, vp, d, { login: ADMIN });
    t.after(() => context.close());
    await page.goto('/');
    await create(page, { agent: 'qwen', name, cwd, env: { HOME: home }, resumeFrom: id });
    await page.goto(`/c/${name}`);
    const turns = page.getByTestId('chat-turn');
    await until(async () => (await turns.count()) === 4, { what: '4 turns' });
    assert.deepEqual(await turns.evaluateAll((els) => els.map((e) => e.dataset.role)), ['user', 'assistant', 'tool', 'assistant']);
    assert.equal(await turns.nth(0).textContent(), 'list the files');
    // Markdown rendered on the server; the agent's markup shown as text; no thoughts.
    assert.equal((await turns.nth(1).textContent()).trim(), `Sure. ${XSS}`);
    assert.equal(await turns.nth(1).locator('.md strong').textContent(), 'Sure.');
    const tool = page.getByTestId('tool-call');
    assert.equal(await tool.evaluate((e) => e.open), false, 'tool calls start collapsed');
    assert.equal(await tool.locator('summary').textContent(), 'run_shell_command ls -la');
    await tool.locator('summary').click();
    assert.match(await tool.locator('pre.out').textContent(), /ok\.txt\n<\/script><img/);
    assert.equal(await turns.nth(0).locator('.txt').evaluate((e) => getComputedStyle(e).whiteSpace), 'pre-wrap', 'the person\'s text as typed');
    // A heading, a list, a code block and inline code in a monospaced font, a table.
    const md = turns.nth(3).locator('.md');
    assert.equal(await md.locator('h2').textContent(), 'Files');
    assert.deepEqual(await md.locator('li').allTextContents(), ['ok.txt', 'notes.md']);
    assert.deepEqual(await md.locator('th').allTextContents(), ['name', 'size']);
    assert.deepEqual(await md.locator('td').allTextContents(), ['ok.txt', '12']);
    const font = (loc) => loc.evaluate((e) => getComputedStyle(e).fontFamily);
    const mono = /monospace/;
    assert.match(await font(md.locator('pre code')), mono, 'code blocks are monospaced');
    assert.match(await font(md.locator('li code')), mono, 'inline code is monospaced');
    assert.doesNotMatch(await font(md.locator('p').first()), mono, 'prose is not');
    // A long code line scrolls inside its block; the page itself does not scroll sideways.
    const pre = await md.locator('pre').evaluate((e) => ({ sw: e.scrollWidth, cw: e.clientWidth, ox: getComputedStyle(e).overflowX, ws: getComputedStyle(e).whiteSpace }));
    assert.equal(pre.ox, 'auto');
    assert.equal(pre.ws, 'pre');
    assert.ok(pre.sw > pre.cw, `the long line overflows its block: ${JSON.stringify(pre)}`);
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth), 'no sideways page scroll');
    await md.scrollIntoViewIfNeeded();
    await screenshot(page, 'agent-markdown', vp);
    assert.equal(await page.locator('main img').count(), 0, 'no <img> from the payload');
    assert.equal(await page.getByTestId('chat-empty').isHidden(), true);

    // History lists the conversation (the current one: no Resume button).
    await page.getByTestId('history').locator('summary').click();
    const conv = page.getByTestId('conversation');
    await conv.first().waitFor();
    assert.match(await conv.first().textContent(), /list the files.*current/);
    await screenshot(page, 'agent-transcript', vp);
    guard.check();
  });
}

for (const vp of Object.keys(VIEWPORTS)) {
  test(`an exited session's composer is disabled, with Restart (${vp})`, async (t) => {
    const name = `dead-${vp}`;
    const { context, page, guard } = await openPage(browser, vp, d, { login: ADMIN });
    t.after(() => context.close());
    await page.goto('/');
    await create(page, { agent: 'fake', name });
    await page.goto(`/c/${name}`);
    const input = page.getByTestId('chat-input');
    const restart = page.getByTestId('chat-restart');
    await until(async () => !(await input.isDisabled()), { what: 'the composer enabled while running' });
    assert.equal(await restart.isVisible(), false);
    // The agent exits (the fake's `/exit 3`): no prompt can be typed, Restart is offered.
    const r = await pageFetch(page, `/api/sessions/${name}/send`, { method: 'POST', body: { prompt: '/exit 3' } });
    assert.equal(r.status, 200, JSON.stringify(r.data));
    await expectState(page, '[data-testid=chat-state]', 'exited');
    await until(() => input.isDisabled(), { what: 'the composer disabled' });
    assert.equal(await page.getByTestId('chat-send').isVisible(), false, 'no Send');
    await restart.waitFor();
    // The exit status shows when the live list has it (an update of the session after the exit
    // itself does not always come: the list may only ever say "exited").
    assert.match(await input.getAttribute('placeholder'), /^Agent exited( \(status 3\))?$/);
    const box = await restart.boundingBox();
    assert.ok(box.height >= 40, `Restart is a real tap target: ${box.height}px`);
    await screenshot(page, 'agent-chat-exited', vp);
    // Restart runs the agent again; the composer comes back.
    await restart.click();
    await until(async () => !(await input.isDisabled()), { what: 'the composer enabled after Restart' });
    assert.equal(await restart.isVisible(), false);
    await page.getByTestId('chat-send').waitFor();
    const s = await pageFetch(page, `/api/sessions/${name}`);
    assert.equal(s.data.status, 'running', JSON.stringify(s.data));
    assert.equal(await page.locator('.toast.error').count(), 0, 'no error toast');
    guard.check();
  });
}
