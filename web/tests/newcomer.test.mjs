// Issue 13 item 11: before the first account exists, `/` (the sign-in page) says so and how
// to make one, instead of a bare sign-in form; once an account exists it is a plain sign-in.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, launchBrowser, openPage, screenshot, VIEWPORTS } from './harness.mjs';

let browser;
let fresh;
let ready;
before(async () => {
  [browser, fresh, ready] = await Promise.all([launchBrowser(), startDaemon(), startDaemon({ admin: true })]);
});
after(async () => {
  await browser?.close();
  await fresh?.stop();
  await ready?.stop();
});

for (const vp of Object.keys(VIEWPORTS)) {
  test(`before setup, / says no account exists and how to make one (${vp})`, async (t) => {
    const { context, page, guard } = await openPage(browser, vp, fresh);
    t.after(() => context.close());
    await page.goto('/');
    await page.waitForURL((u) => u.pathname === '/login');
    const note = page.getByTestId('first-run');
    await note.waitFor();
    const text = await note.innerText();
    assert.match(text, /No account exists yet/);
    assert.match(text, /setup-token/);
    assert.match(text, /llmux user create NAME --admin/);
    await screenshot(page, 'first-run-login', vp);
    await page.getByTestId('first-run-setup').click();
    await page.waitForURL((u) => u.pathname === '/setup');
    await page.locator('#setupToken').waitFor();
    guard.check('sign-in page before setup');
  });

  test(`once an account exists, / is a plain sign-in (${vp})`, async (t) => {
    const { context, page, guard } = await openPage(browser, vp, ready);
    t.after(() => context.close());
    const asked = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/version');
    await page.goto('/');
    await page.waitForURL((u) => u.pathname === '/login');
    const v = await (await asked).json();
    assert.equal(v.setupPending, false);
    // The page has acted on the answer (a microtask later): still hidden.
    await page.waitForFunction(() => document.readyState === 'complete');
    assert.equal(await page.getByTestId('first-run').isVisible(), false);
    await page.locator('#username').waitFor();
    guard.check('sign-in page after setup');
  });
}
