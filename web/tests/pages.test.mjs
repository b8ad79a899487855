// Issue 13 item 8: a mistyped URL shows the app's "Page not found" page (not raw JSON), signed
// in or not, at both viewports.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, launchBrowser, openPage, screenshot, ADMIN, VIEWPORTS } from './harness.mjs';

let browser;
let d;
before(async () => {
  [browser, d] = await Promise.all([launchBrowser(), startDaemon({ admin: true })]);
});
after(async () => {
  await browser?.close();
  await d?.stop();
});

for (const vp of Object.keys(VIEWPORTS)) {
  for (const signedIn of [false, true]) {
    const who = signedIn ? 'signed in' : 'anonymous';
    test(`a mistyped URL shows the not-found page (${vp}, ${who})`, async (t) => {
      const { context, page, guard } = await openPage(browser, vp, d, signedIn ? { login: ADMIN } : {});
      t.after(() => context.close());
      // The 404 of the page itself is expected in the console.
      guard.allow(/404/);
      const res = await page.goto('/sesions/typo');
      assert.equal(res.status(), 404);
      await page.getByTestId('not-found').waitFor();
      assert.match(await page.title(), /Page not found/);
      assert.doesNotMatch(await page.locator('body').innerText(), /"error"|unauthenticated|credential/i);
      await screenshot(page, `not-found-${signedIn ? 'user' : 'anon'}`, vp);
      // Its link leads into the app: the sessions list, or sign-in for a stranger.
      await page.getByTestId('not-found-home').click();
      await page.waitForURL((u) => u.pathname === (signedIn ? '/' : '/login'));
      guard.check('not-found page');
    });
  }
}
