// Issue 13 item 12: a URL an agent prints (a sign-in link wrapped over several rows at phone
// width) can be tapped, and opens the whole URL in a new tab.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withAdminDaemon, openPage, screenshot, openTerminal, waitForTerm, ADMIN } from './harness.mjs';

let browser;
let d;
withAdminDaemon((b, daemon) => { browser = b; d = daemon; });

const URL_ = 'https://claude.ai/oauth/authorize?code=true&client_id=9d1c250a-e61b-44d9-88ed-5944d1962f5e'
  + '&response_type=code&redirect_uri=https%3A%2F%2Fconsole.anthropic.com%2Foauth%2Fcode%2Fcallback'
  + '&scope=org%3Acreate_api_key+user%3Aprofile+user%3Ainference&code_challenge=Xq3v7Jk2LmN9pQ'
  + '&state=' + 'aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY'.repeat(3);

test('a wrapped sign-in URL in the terminal opens whole in a new tab (phone)', async (t) => {
  const { context, page, guard } = await openPage(browser, 'phone', d, { login: ADMIN });
  t.after(() => context.close());
  // The new tab must not go out to the network: answer for claude.ai here.
  await context.route('https://claude.ai/**', (r) => r.fulfill({ status: 200, contentType: 'text/html', body: '<title>sign in</title>ok' }));
  await d.cliOk(['session', 'start', 'fake', '--name', 'login', '--cwd', d.work]);
  await openTerminal(page, 'login');
  await d.cliOk(['session', 'prompt', 'login', URL_]);
  await waitForTerm(page, `PROMPT[1]: ${URL_}`);

  // Where the URL's second row is on screen (the PROMPT line's URL, wrapped by the terminal).
  const spot = await page.evaluate((u) => {
    const t = window.__llmuxTerm;
    const b = t.buffer.active;
    let start = -1;
    for (let i = 0; i < b.length; i++) {
      if ((b.getLine(i)?.translateToString(true) || '').startsWith('PROMPT[1]: https://')) start = i;
    }
    const second = start + 1;
    const rows = [];
    for (let i = start; i < b.length && (i === start || b.getLine(i).isWrapped); i++) rows.push(i);
    t.scrollToLine(Math.max(0, start - 2));
    const r = document.querySelector('.xterm-screen').getBoundingClientRect();
    const cw = r.width / t.cols;
    const ch = r.height / t.rows;
    return { start, rows: rows.length, cols: t.cols, second, x: r.left + cw * 5.5, y: r.top + ch * (second - b.viewportY + 0.5), u };
  }, URL_);
  assert.ok(spot.start >= 0, 'the PROMPT line is in the buffer');
  assert.ok(spot.rows >= 3, `the URL wraps over several rows (${spot.rows} at ${spot.cols} columns)`);

  // Tap on the second row, as a finger would.
  const popup = context.waitForEvent('page');
  await page.touchscreen.tap(spot.x, spot.y);
  const tab = await popup;
  await tab.waitForURL((u) => u.href !== 'about:blank');
  assert.equal(tab.url(), URL_, 'the new tab got the whole URL');
  assert.equal(await tab.evaluate(() => window.opener), null, 'the new tab has no handle on the app');
  await screenshot(page, 'link-tap', 'phone');
  guard.check('terminal page');
});
