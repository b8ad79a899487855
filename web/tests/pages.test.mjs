// Issue 13 item 8: a mistyped URL shows the app's "Page not found" page (not raw JSON), signed
// in or not, at both viewports. Item 7: the settings page is readable on a phone (keys break
// only at dots and underscores, source pills on one line).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withAdminDaemon, openPage, screenshot, ADMIN, VIEWPORTS } from './harness.mjs';

let browser;
let d;
withAdminDaemon((b, daemon) => { browser = b; d = daemon; });

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

for (const vp of Object.keys(VIEWPORTS)) {
  test(`settings: whole keys, one-line source pills, no sideways scroll (${vp})`, async (t) => {
    const { context, page, guard } = await openPage(browser, vp, d, { login: ADMIN });
    t.after(() => context.close());
    await page.goto('/admin/settings');
    const rows = page.getByTestId('setting');
    await rows.first().waitFor();
    assert.ok((await rows.count()) >= 5, `the effective settings are listed (${await rows.count()})`);
    const bad = await page.evaluate((phone) => {
      const out = [];
      const lines = (node) => { const r = document.createRange(); r.selectNodeContents(node); return new Set([...r.getClientRects()].map((x) => Math.round(x.top))).size; };
      for (const tr of document.querySelectorAll('[data-testid=setting]')) {
        const key = tr.querySelector('th .skey');
        const name = key.textContent;
        // Each piece between dots and underscores stays on one line (no mid-word break).
        for (const n of key.childNodes) if (n.nodeType === Node.TEXT_NODE && lines(n) > 1) out.push(`${name}: "${n.textContent}" broke`);
        // The source pill is one line high.
        const pill = tr.querySelector('[data-testid=setting-source]');
        const lh = parseFloat(getComputedStyle(pill).lineHeight) || parseFloat(getComputedStyle(pill).fontSize) * 1.45;
        if (lines(pill) > 1 || pill.getBoundingClientRect().height > lh * 1.5 + 4) out.push(`${name}: pill "${pill.textContent}" wraps (${pill.getBoundingClientRect().height}px)`);
        // On a phone the key has its own line and the value is below it.
        if (phone) {
          const value = tr.querySelector('td code');
          if (value.getBoundingClientRect().top < key.getBoundingClientRect().bottom - 1) out.push(`${name}: value beside the key`);
          if (pill.getBoundingClientRect().right > innerWidth) out.push(`${name}: pill off screen`);
        }
      }
      if (document.documentElement.scrollWidth > innerWidth) out.push(`the page scrolls sideways (${document.documentElement.scrollWidth}px)`);
      return out;
    }, vp === 'phone');
    assert.deepEqual(bad, []);
    await screenshot(page, 'settings', vp);
    guard.check('settings page');
  });
}
