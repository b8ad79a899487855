// Flow 1: the setup wizard from the banner's link, signing out from the menu, signing in again
// (with returnTo).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, launchBrowser, openPage, screenshot, menu, VIEWPORTS } from './harness.mjs';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

for (const vp of Object.keys(VIEWPORTS)) {
  test(`setup wizard, sign out, sign in with returnTo (${vp})`, async (t) => {
    const d = await startDaemon();
    t.after(() => d.stop());
    assert.ok(d.setupUrl, `the banner has a setup link:\n${d.stdout}`);
    const token = new URL(d.setupUrl).hash.replace('#token=', '');
    const { context, page, guard } = await openPage(browser, vp, d);
    t.after(() => context.close());

    // 1. The wizard: the token comes from the link's fragment, which leaves the address bar.
    await page.goto(d.setupUrl);
    await assert.doesNotReject(page.waitForFunction((tok) => document.getElementById('setupToken').value === tok, token));
    assert.ok(!page.url().includes(token), `the setup token is still in the URL: ${page.url()}`);
    await page.fill('#username', 'alice');
    await page.fill('#name', 'Alice Admin');
    await page.fill('#passphrase', 'a long enough passphrase');
    await page.locator('#setup button[type=submit]').click();
    // The last step offers to pair a phone (pairing.test.mjs); go on to the sessions.
    await page.getByTestId('setup-continue').click();
    await page.waitForURL((u) => u.pathname === '/');
    await page.getByTestId('empty-state').waitFor();
    assert.match(await page.locator('#who').textContent(), /Alice Admin \(alice\)/);
    assert.ok(await page.getByTestId('nav-admin-users').count(), 'the first user is an admin');
    await screenshot(page, 'setup', vp);

    // 2. Sign out from the menu: the cookie no longer works.
    await menu(page, 'logout');
    await page.waitForURL((u) => u.pathname === '/login');
    const who = await context.request.get(`${d.url}/api/auth/whoami`);
    assert.equal(who.status(), 401, 'signed out on the server too');

    // 3. A protected page sends us to the sign-in page, which brings us back afterwards.
    await page.goto('/tokens');
    await page.waitForURL((u) => u.pathname === '/login' && u.searchParams.get('returnTo') === '/tokens');
    guard.allow(/status of 401/); // the wrong passphrase below
    await page.fill('#username', 'alice');
    await page.fill('#passphrase', 'not the passphrase');
    await page.locator('#login button[type=submit]').click();
    await page.locator('#error').waitFor();
    assert.ok((await page.locator('#error').textContent()).trim(), 'a wrong passphrase shows an error');
    await page.fill('#passphrase', 'a long enough passphrase');
    await page.locator('#login button[type=submit]').click();
    await page.waitForURL((u) => u.pathname === '/tokens');
    await page.getByTestId('token-create').waitFor();
    await screenshot(page, 'login', vp);
    guard.check();
  });
}
