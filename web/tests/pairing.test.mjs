// Security review, finding 13: a pairing link signs the browser in as whoever made the code,
// so anyone can send one. A browser that is signed in already is asked first, and nothing
// changes until the user says yes.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, launchBrowser, openPage, screenshot, until } from './harness.mjs';

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

// Issue 13, web UI item 6: "Pair a device" is its own action (a one-time code, no API token),
// on the tokens page, the about page and at the end of setup. Each gives a QR code, a link and
// a countdown; the link signs a fresh browser in once.

/** Clicks "Pair a device" on `page` and checks the link signs a fresh browser in as `who`, once. */
async function pairFrom(page, d, vp, where, who) {
  const made = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/pairing');
  await page.getByTestId('pair-device').click();
  assert.equal((await made).status(), 201);
  const qr = page.getByTestId('pair-qr');
  await qr.waitFor();
  assert.match(await qr.getAttribute('src'), /^data:image\/svg\+xml;base64,/);
  await page.waitForFunction(() => { const i = document.querySelector('[data-testid=pair-qr]'); return i.complete && i.naturalWidth > 0; });
  const link = (await page.getByTestId('pair-link').textContent()).trim();
  assert.ok(link.startsWith(`${d.url}/pair#code=`), `an absolute pairing link on this origin: ${link}`);
  // The countdown: under 5 minutes, and it counts down.
  const expiry = page.getByTestId('pair-expiry');
  const first = await expiry.textContent();
  assert.match(first, /^Works once; expires in [45]:\d\d\.$/);
  await until(async () => (await expiry.textContent()) !== first, { what: 'the countdown ticks', timeout: 3000 });
  await screenshot(page, `pair-device-${where}`, vp);
  // A fresh browser opening the link lands signed in as the one who paired.
  const fresh = await openPage(browser, 'phone', d);
  try {
    await fresh.page.goto(link);
    await fresh.page.waitForURL((u) => u.pathname === '/');
    assert.equal(await whoami(fresh.context, d), who, `${where}: the link signs the device in`);
    await fresh.page.waitForFunction((u) => document.getElementById('who')?.textContent.includes(u), who);
    fresh.guard.check();
  } finally {
    await fresh.context.close();
  }
  // Once only.
  const again = await openPage(browser, 'phone', d);
  try {
    again.guard.allow(/status of 40\d/);
    await again.page.goto(link);
    await again.page.locator('#error').waitFor();
    assert.notEqual(await whoami(again.context, d), who, `${where}: the code works once`);
  } finally {
    await again.context.close();
  }
}

for (const vp of ['phone', 'desktop']) {
  test(`Pair a device at the end of setup, on Tokens and on About (${vp})`, async (t) => {
    const d = await startDaemon();
    t.after(() => d.stop());
    const { context, page, guard } = await openPage(browser, vp, d);
    t.after(() => context.close());

    // The end of setup: the new admin is signed in and offered the pairing step, which hands
    // over to the app's own "Pair a device" (About) and makes a code at once.
    await page.goto(d.setupUrl);
    await page.fill('#username', 'root');
    await page.fill('#passphrase', 'a long enough passphrase');
    await page.locator('#setup button[type=submit]').click();
    await page.getByTestId('setup-done').waitFor();
    assert.equal(await page.locator('#setup').isVisible(), false, 'the form is done');
    assert.equal(await page.locator('.steps li[aria-current=step]').textContent(), 'Pair your phone');
    assert.equal(await page.getByTestId('setup-continue').getAttribute('href'), '/');
    await screenshot(page, 'setup-done', vp);
    await pairFrom(page, d, vp, 'setup', 'root');
    assert.equal(new URL(page.url()).pathname + new URL(page.url()).search, '/about', 'in the app, the one-time "?pair" gone from the address');
    await page.waitForFunction(() => document.getElementById('who')?.textContent.includes('root'));
    // Reloading does not make another code.
    let again = 0;
    page.on('request', (r) => { if (new URL(r.url()).pathname === '/api/pairing') again++; });
    await page.reload();
    await page.getByTestId('pair-section').waitFor();
    assert.equal(await page.getByTestId('pair-card').isVisible(), false, 'no code until asked for');
    assert.equal(again, 0);

    // The tokens page: its own section, no token minted.
    await page.goto('/tokens');
    await page.getByTestId('pair-section').waitFor();
    await pairFrom(page, d, vp, 'tokens', 'root');
    assert.equal(await page.getByTestId('token-value').count(), 0, 'no token was shown');
    assert.equal(await page.getByTestId('token-row').count(), 0, 'no token was minted');

    // The about page.
    await page.goto('/about');
    await page.getByTestId('pair-section').waitFor();
    await pairFrom(page, d, vp, 'about', 'root');
    guard.check();
  });
}
