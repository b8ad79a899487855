// Nothing lost, nothing twice (issue 19), at phone size: prompts written while offline wait in
// the page's outbox (IndexedDB), shown pending, and are typed once each, in order, when the
// connection is back, even with a daemon restart in between; the session's queue is shown on
// the chat page and can be reordered, edited and cancelled there.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { startDaemon, launchBrowser, openPage, screenshot, startFakeSessions, until, ADMIN, BIN } from './harness.mjs';

let browser;
let d;
let second = null; // the daemon started again on the same port
before(async () => {
  [browser, d] = await Promise.all([launchBrowser(), startDaemon({ admin: true })]);
  await startFakeSessions(d, ['box', 'q']);
});
after(async () => {
  await browser?.close();
  if (second && second.exitCode === null) {
    const gone = new Promise((r) => second.once('exit', r));
    second.kill('SIGTERM');
    await gone;
  }
  await d?.stop();
});

const screenOf = async (name) => (await d.cliOk(['session', 'capture', name, '-n', '200']));
const count = (screen, text) => screen.split('\n').filter((l) => /^PROMPT\[\d+\]: /.test(l) && l.trimEnd().endsWith(`]: ${text}`)).length;

/** Stops the daemon and starts it again on the same port, state and tmux server. */
async function restartDaemon() {
  const gone = new Promise((r) => d.child.once('exit', r));
  d.child.kill('SIGTERM');
  await gone;
  second = spawn(BIN, ['server', 'start', '--port', String(d.port), '--config', path.join(d.dir, 'config.yaml')], {
    cwd: d.work, env: { ...d.env, LLMUX_LOG: 'info' }, stdio: 'ignore',
  });
  await until(async () => { try { return (await fetch(`${d.url}/health`)).ok; } catch { return false; } }, { timeout: 20000, what: 'the daemon back' });
}

test('the after-limit toggle in a session\'s settings is saved, shown and turned off (phone)', async () => {
  const { context, page } = await openPage(browser, 'phone', d, { login: ADMIN });
  const setting = async () => JSON.parse(await d.cliOk(['--json', 'session', 'show', 'q'])).afterLimit;
  try {
    await page.goto('/edit/q');
    const on = page.getByTestId('field-after-limit-on');
    const text = page.getByTestId('field-after-limit');
    await on.waitFor();
    assert.equal(await on.isChecked(), false);
    assert.equal(await text.isDisabled(), true, 'the text is off with the toggle');
    await on.check();
    assert.equal(await text.inputValue(), 'continue', 'the default text');
    await text.fill('go on');
    await page.getByTestId('form-submit').click();
    await until(async () => (await setting()) === 'go on', { what: 'the setting saved' });
    await page.goto('/edit/q');
    await on.waitFor();
    assert.equal(await on.isChecked(), true);
    assert.equal(await text.inputValue(), 'go on');
    // an empty text is refused next to the field
    await text.fill('');
    await page.getByTestId('form-submit').click();
    await page.getByTestId('error-after-limit').filter({ hasText: 'afterLimit' }).waitFor();
    await on.uncheck();
    await page.getByTestId('form-submit').click();
    await until(async () => (await setting()) === undefined, { what: 'the setting off' });
  } finally {
    await context.close();
  }
});

test('outbox: prompts written offline are kept, then typed once each, in order, across a daemon restart (phone)', async () => {
  const { context, page, guard } = await openPage(browser, 'phone', d, { login: ADMIN });
  try {
    await page.goto('/c/box');
    const input = page.getByTestId('chat-input');
    await input.waitFor();
    // Online first: typed, and the time it was typed is shown.
    await input.fill('online one');
    await input.press('Enter');
    await page.getByTestId('outbox-status').filter({ hasText: 'typed at' }).first().waitFor();
    await until(async () => count(await screenOf('box'), 'online one') === 1, { what: 'the first prompt typed' });

    guard.allow(/Failed to load resource|ERR_INTERNET_DISCONNECTED|ERR_CONNECTION_REFUSED|EventSource|net::/);
    await context.setOffline(true);
    for (const text of ['offline one', 'offline two']) {
      await input.fill(text);
      await input.press('Enter');
      // kept (the composer clears once the outbox has it)
      await until(async () => (await input.inputValue()) === '', { what: `${text} taken` });
    }
    await until(async () => (await page.locator('[data-testid=outbox-item][data-state=pending]').count()) === 2, { what: 'two pending items' });
    await screenshot(page, 'outbox-offline', 'phone');
    // The daemon restarts meanwhile.
    await restartDaemon();
    await context.setOffline(false);
    await until(async () => {
      const s = await screenOf('box');
      return count(s, 'offline one') === 1 && count(s, 'offline two') === 1;
    }, { timeout: 20000, what: 'both offline prompts typed' });
    await until(async () => (await page.locator('[data-testid=outbox-item][data-state=pending]').count()) === 0, { what: 'nothing pending' });
    const s = await screenOf('box');
    assert.ok(s.indexOf(']: offline one') < s.indexOf(']: offline two'), `in order:\n${s}`);
    // Later retries (a reload, the online event) type nothing again.
    await page.reload();
    await input.waitFor();
    await new Promise((r) => setTimeout(r, 1500));
    const again = await screenOf('box');
    assert.equal(count(again, 'offline one'), 1, again);
    assert.equal(count(again, 'offline two'), 1, again);
    assert.equal(count(again, 'online one'), 1, again);
    await screenshot(page, 'outbox-delivered', 'phone');
    guard.check();
  } finally {
    await context.close();
  }
});

test('queue: shown on the chat page; up, edit and cancel (phone)', async () => {
  for (const text of ['first', 'second', 'third']) await d.cliOk(['session', 'prompt', 'q', '--in', '1h', text]);
  const { context, page, guard } = await openPage(browser, 'phone', d, { login: ADMIN });
  try {
    await page.goto('/c/q');
    const texts = () => page.getByTestId('queue-text').allTextContents();
    await until(async () => (await texts()).length === 3, { what: 'three queued prompts shown' });
    assert.deepEqual(await texts(), ['first', 'second', 'third']);
    await page.getByRole('button', { name: 'Move up: third' }).click();
    await until(async () => (await texts()).join() === 'first,third,second', { what: 'third moved up' });
    await page.getByTestId('queue-edit').nth(2).click();
    await page.getByTestId('queue-edit-input').fill('SECOND');
    await page.getByTestId('queue-save').click();
    await until(async () => (await texts()).join() === 'first,third,SECOND', { what: 'second edited' });
    await page.getByRole('button', { name: 'Cancel: first' }).click();
    await until(async () => (await texts()).join() === 'third,SECOND', { what: 'first cancelled' });
    await screenshot(page, 'queue', 'phone');
    const listed = await d.cliOk(['session', 'queue', 'q']);
    assert.ok(/third[\s\S]*SECOND/.test(listed) && !listed.includes('first'), listed);
    // A change made elsewhere (the CLI) shows without a reload.
    await d.cliOk(['session', 'prompt', 'q', '--in', '2h', 'from the cli']);
    await until(async () => (await texts()).includes('from the cli'), { what: 'the CLI’s item shown live' });
    // The terminal page says how many wait, and leads to the chat page where they are edited.
    await page.goto('/s/q');
    await page.getByTestId('term-menu').click();
    await until(async () => (await page.getByTestId('term-queue').textContent()) === '3 queued', { what: 'the queue count on the terminal page' });
    assert.equal(await page.getByTestId('term-queue').getAttribute('href'), '/c/q');
    guard.check();
  } finally {
    await context.close();
  }
});

test('a rate-limited agent shows "limited until …" (phone)', async () => {
  await d.cliOk(['session', 'start', 'fakeq', '--name', 'lim', '--cwd', d.work]);
  await until(async () => JSON.parse(await d.cliOk(['--json', 'session', 'show', 'lim'])).state === 'idle', { timeout: 15000, what: 'lim idle' });
  await d.cliOk(['session', 'prompt', 'lim', 'please limit 600']);
  const { context, page, guard } = await openPage(browser, 'phone', d, { login: ADMIN });
  try {
    await page.goto('/c/lim');
    await page.locator('[data-testid=chat-state][data-state=limited]').waitFor();
    // The reset time can be read a capture after the state (the message half drawn at first).
    await until(async () => /limited until \d/.test(await page.getByTestId('chat-state').textContent()),
      { what: 'the reset time shown' });
    await d.cliOk(['session', 'prompt', 'lim', '--after-limit']);
    await until(async () => (await page.getByTestId('queue-text').allTextContents()).join() === 'continue', { what: 'the after-limit prompt queued' });
    await screenshot(page, 'limited', 'phone');
    guard.check();
  } finally {
    await context.close();
  }
});
