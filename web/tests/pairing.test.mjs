// Security review, finding 13: a pairing link signs the browser in as whoever made the code,
// so anyone can send one. A browser that is signed in already is asked first, and nothing
// changes until the user says yes.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, launchBrowser, openPage, screenshot } from './harness.mjs';

const ALICE = { username: 'alice', passphrase: 'alice passphrase' };
const BOB = { username: 'bob', passphrase: 'bob passphrase' };

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

/** Alice's pairing link: a code she minted with her own device token. */
async function alicesLink(d) {
  const login = await fetch(`${d.url}/api/auth/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ...ALICE, deviceName: 'laptop' }),
  });
  assert.equal(login.status, 200);
  const { token } = await login.json();
  const res = await fetch(`${d.url}/api/pairing`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 201);
  return (await res.json()).path;
}

async function whoami(context, d) {
  const r = await context.request.get(`${d.url}/api/auth/whoami`);
  return r.status() === 200 ? (await r.json()).username : `HTTP ${r.status()}`;
}

test('a pairing link asks before it replaces a sign-in', async (t) => {
  const d = await startDaemon({ admin: true });
  t.after(() => d.stop());
  for (const u of [ALICE, BOB]) await d.cliOk(['user', 'create', u.username, '--passphrase', u.passphrase]);

  await t.test('declining keeps bob signed in', async () => {
    const { context, page, guard } = await openPage(browser, 'phone', d, { login: BOB });
    t.after(() => context.close());
    await page.goto(await alicesLink(d));
    await page.getByTestId('pair-switch').waitFor();
    assert.equal((await page.locator('#switch-question').textContent()).trim(), 'You are signed in as bob. Sign in as alice instead?');
    assert.ok(!page.url().includes('code='), `the code left the address bar: ${page.url()}`);
    assert.equal(await whoami(context, d), 'bob', 'nothing changed while the question is open');
    await screenshot(page, 'pair-switch', 'phone');
    await page.getByTestId('pair-switch-no').click();
    await page.waitForURL((u) => u.pathname === '/');
    assert.equal(await whoami(context, d), 'bob');
    guard.check();
  });

  await t.test('confirming signs alice in', async () => {
    const { context, page, guard } = await openPage(browser, 'desktop', d, { login: BOB });
    t.after(() => context.close());
    await page.goto(await alicesLink(d));
    await page.getByTestId('pair-switch').waitFor();
    assert.equal(await whoami(context, d), 'bob');
    await page.getByTestId('pair-switch-yes').click();
    await page.waitForURL((u) => u.pathname === '/');
    assert.equal(await whoami(context, d), 'alice');
    guard.check();
  });

  await t.test('a browser that is not signed in pairs without a question', async () => {
    const { context, page, guard } = await openPage(browser, 'desktop', d);
    t.after(() => context.close());
    await page.goto(await alicesLink(d));
    await page.waitForURL((u) => u.pathname === '/');
    assert.equal(await whoami(context, d), 'alice');
    assert.equal(await page.getByTestId('pair-switch').isVisible(), false);
    guard.check();
  });
});
