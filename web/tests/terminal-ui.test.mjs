// Issue 13, web UI items 3, 4 and 9: the terminal page's header on a phone (the name whole, one
// state dot with a label, the rest behind ⋯), soft keys of at least 44×44 CSS px in pages you
// swipe between (font size in the ⋯ menu), and dead sessions (an exited one's last screen
// read-only with its exit status and Restart, no WebSocket before it; a missing one: a message).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withAdminDaemon, guard, apiLogin, pageFetch, screenshot, waitForTerm, termText, openTerminal, until, ADMIN } from './harness.mjs';

let browser;
let d;
withAdminDaemon((b, daemon) => { browser = b; d = daemon; });

const touch = { isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
const SIZES = {
  phone: { viewport: { width: 412, height: 915 }, ...touch },
  small: { viewport: { width: 360, height: 740 }, ...touch },
  landscape: { viewport: { width: 915, height: 412 }, ...touch },
  desktop: { viewport: { width: 1440, height: 900 } },
};

/** A signed-in page at one of SIZES, counting the WebSockets it opens. */
async function open(vp) {
  const context = await browser.newContext({ ...SIZES[vp], baseURL: d.url });
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  const g = guard(page);
  await apiLogin(context, d, ADMIN);
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  return { context, page, guard: g, sockets };
}

/** The rectangles (CSS px) of every element matching sel. */
const boxes = (page, sel) => page.$$eval(sel, (els) => els.map((e) => {
  const r = e.getBoundingClientRect();
  return { id: e.dataset.testid || e.textContent, x: r.x, y: r.y, w: r.width, h: r.height, right: r.right };
}));

/** Whether the element is wholly inside the key bar's visible width (not scrolled away). */
const inView = (page, tid) => page.evaluate((t) => {
  const k = document.querySelector(`[data-testid=${t}]`).getBoundingClientRect();
  const s = document.querySelector('[data-testid=key-pages]').getBoundingClientRect();
  return k.left >= s.left - 1 && k.right <= s.right + 1;
}, tid);

/** A touch swipe leftwards across the key bar (real touch events, scrolled by the browser). */
async function swipeKeys(page) {
  const s = await page.getByTestId('key-pages').boundingBox();
  const y = Math.round(s.y + s.height / 2);
  const cdp = await page.context().newCDPSession(page);
  const touch = (type, x) => cdp.send('Input.dispatchTouchEvent', { type, touchPoints: x == null ? [] : [{ x, y }] });
  await touch('touchStart', Math.round(s.x + s.width * 0.8));
  for (let f = 0.78; f >= 0.2; f -= 0.04) await touch('touchMove', Math.round(s.x + s.width * f));
  await touch('touchEnd');
  await cdp.detach();
}

const sessionName = (vp) => (vp === 'phone' ? 'api-refactor-2' : `keys-${vp}`);

for (const vp of Object.keys(SIZES)) {
  test(`terminal header and soft keys (${vp})`, async (t) => {
    const { context, page, guard: g } = await open(vp);
    t.after(() => context.close());
    const name = sessionName(vp);
    await d.cliOk(['session', 'start', 'fake', '--name', name, '--cwd', d.work]);
    await openTerminal(page, name);
    const { width } = SIZES[vp].viewport;
    const phone = width < 1000;

    // Header: the name in full, one dot with a label, the rest in the ⋯ menu (inline on desktop).
    const title = await page.$eval('#title', (e) => {
      const r = e.getBoundingClientRect();
      return { text: e.textContent, clipped: e.scrollWidth > e.clientWidth + 1, right: r.right, visible: r.width > 0 };
    });
    assert.equal(title.text, name);
    assert.ok(title.visible && !title.clipped && title.right <= width, `the name ${name} is shown whole: ${JSON.stringify(title)}`);
    assert.equal(await page.locator('.top .dot:visible').count(), 1, 'one state dot in the header');
    await until(async () => (await page.getByTestId('term-label').textContent()).trim(), { what: 'a state label' });
    assert.ok(await page.getByTestId('term-label').isVisible());
    const rest = ['open-chat', 'notify-toggle', 'font-dec', 'font-inc', 'term-restart', 'term-stop'];
    if (phone) {
      for (const tid of rest) assert.ok(!(await page.getByTestId(tid).isVisible()), `${tid} is behind the ⋯ menu`);
      assert.ok(!(await page.locator('#host').isVisible()), 'the host is in the menu');
      const menuBtn = await page.getByTestId('term-menu').boundingBox();
      assert.ok(menuBtn.width >= 44 && menuBtn.height >= 44, `⋯ is a 44 px target: ${JSON.stringify(menuBtn)}`);
      await page.getByTestId('term-menu').click();
      for (const tid of rest) {
        const b = await page.getByTestId(tid).boundingBox();
        assert.ok(b.height >= 44 && b.width >= 44 && b.x >= 0 && b.x + b.width <= width, `${tid} in the menu is a 44 px target on screen: ${JSON.stringify(b)}`);
      }
      await screenshot(page, 'term-menu', vp);
    } else {
      assert.ok(!(await page.getByTestId('term-menu').isVisible()), 'no ⋯ on a wide screen: everything fits');
    }
    for (const tid of rest) assert.ok(await page.getByTestId(tid).isVisible(), `${tid} shown`);
    assert.match(await page.getByTestId('conn-state').textContent(), /live/);

    // Text size: out of the key row, still working from the menu.
    assert.equal(await page.locator('.kbar [data-testid^=font-]').count(), 0, 'A−/A+ are not in the key bar');
    const f0 = await page.evaluate(() => window.__llmuxTerm.options.fontSize);
    await page.getByTestId('font-inc').click();
    await page.getByTestId('font-inc').click();
    await page.getByTestId('font-dec').click();
    await until(async () => (await page.evaluate(() => window.__llmuxTerm.options.fontSize)) === f0 + 1, { what: 'the font one size larger' });
    assert.equal(await page.getByTestId('font-size').textContent(), String(f0 + 1));
    if (phone) {
      await page.keyboard.press('Escape');
      await until(async () => !(await page.getByTestId('open-chat').isVisible()), { what: 'the menu closed' });
    }

    // Every soft key is a tap target of at least 44×44 CSS px, the ⋯ panel's too.
    await page.getByTestId('key-more').scrollIntoViewIfNeeded();
    await page.getByTestId('key-more').click();
    const keys = await boxes(page, '.kbar .key, .kmore .key');
    assert.ok(keys.length >= 24 + 12, `all keys measured (${keys.length})`);
    const small = keys.filter((k) => k.w < 44 || k.h < 44);
    assert.deepEqual(small, [], `keys under 44×44 at ${width}px`);
    await screenshot(page, 'term-keys-more', vp);
    await page.getByTestId('key-more').click();
    await page.getByTestId('key-pages').evaluate((e) => { e.scrollLeft = 0; });
    await until(() => inView(page, 'key-esc'), { what: 'page 1 in view' });

    // The keys that do not fit are on a next page, reached by a swipe; the dots show where.
    const dots = async () => page.$$eval('[data-testid=key-dots] i', (is) => is.map((i) => i.classList.contains('on')));
    await page.getByTestId('terminal').click();
    // (The agent's echo can be split by its size reports while the ⋯ panel closes: the
    // PROMPT line after Enter is what it received.)
    await page.keyboard.type('xy');
    let want;
    if (width >= 1100) {
      assert.ok(await inView(page, 'key-tilde') && await inView(page, 'key-home'), 'every page in view on a wide screen');
      assert.ok(!(await page.getByTestId('key-dots').isVisible()), 'no page dots when all pages show');
      await page.getByTestId('key-tilde').click();
      await page.getByTestId('key-pipe').click();
      want = 'xy~|';
    } else {
      // Page 2 (narrow) or page 3 (landscape shows two pages at once) is out of view.
      const far = width >= 700 ? 'key-bsp' : 'key-tilde';
      assert.ok(!(await inView(page, far)), `${far} starts out of view`);
      assert.deepEqual((await dots()).filter(Boolean).length, width >= 700 ? 2 : 1, 'dots: the pages in view');
      await screenshot(page, 'term-keys-page1', vp);
      await swipeKeys(page);
      await until(() => inView(page, far), { what: `${far} in view after a swipe` });
      await until(async () => !(await dots())[0], { what: 'the dots moved past page 1' });
      // The snap leaves whole pages: no key half in view.
      await until(() => page.getByTestId('key-pages').evaluate((s) => {
        const w = s.firstChild.getBoundingClientRect().width;
        return s.scrollLeft > 0 && Math.abs(s.scrollLeft - Math.round(s.scrollLeft / w) * w) < 1;
      }), { what: 'the swipe snapped to a page' });
      await screenshot(page, 'term-keys-page2', vp);
      if (far === 'key-tilde') {
        await page.getByTestId('key-tilde').tap();
        await page.getByTestId('key-pipe').tap();
        await page.getByTestId('key-underscore').tap();
        want = 'xy~|_';
      } else {
        await page.getByTestId('key-bsp').tap();
        want = 'x';
      }
    }
    await page.keyboard.press('Enter');
    await waitForTerm(page, `PROMPT[1]: ${want}`);

    // Ctrl locked (double tap) stays on across keys; one more tap releases it.
    await page.getByTestId('key-pages').evaluate((e) => { e.scrollLeft = 0; });
    await until(() => inView(page, 'key-ctrl'), { what: 'page 1 in view' });
    await page.getByTestId('key-ctrl').click();
    await page.getByTestId('key-ctrl').click();
    assert.equal(await page.getByTestId('key-ctrl').getAttribute('data-mode'), 'lock');
    await page.keyboard.type('c');
    await waitForTerm(page, '^C');
    await page.getByTestId('key-ctrl').click();
    assert.equal(await page.getByTestId('key-ctrl').getAttribute('data-mode'), 'off');
    await page.keyboard.type('ok');
    await page.keyboard.press('Enter');
    await waitForTerm(page, 'PROMPT[2]: ok');
    await screenshot(page, 'term-header', vp);
    g.check();
  });
}

for (const vp of ['phone', 'desktop']) {
  test(`an exited session: last screen read-only, exit status, Restart reconnects (${vp})`, async (t) => {
    const { context, page, guard: g, sockets } = await open(vp);
    t.after(() => context.close());
    const name = `gone-3-${vp}`;
    await d.cliOk(['session', 'start', 'fake', '--name', name, '--cwd', d.work]);
    await page.goto('/');
    await until(async () => (await pageFetch(page, `/api/sessions/${name}/capture`)).data?.text?.includes('SIZE'), { what: 'the agent up' });
    assert.equal((await pageFetch(page, `/api/sessions/${name}/send`, { method: 'POST', body: { prompt: 'last words' } })).status, 200);
    await until(async () => (await pageFetch(page, `/api/sessions/${name}/capture`)).data?.text?.includes('PROMPT[1]: last words'), { what: 'the prompt answered' });
    assert.equal((await pageFetch(page, `/api/sessions/${name}/send`, { method: 'POST', body: { prompt: '/exit 3' } })).status, 200);
    // tmux 3.3 now and then marks a pane dead without its status (lifecycle.rs says more):
    // the page shows the status when the daemon knows it.
    const rec = (await until(async () => {
      const r = await pageFetch(page, `/api/sessions/${name}`);
      return r.data?.status === 'exited' && r;
    }, { what: 'the session exited' })).data;
    const before = sockets.length;
    await page.goto(`/s/${name}`);
    await page.getByTestId('session-ended').waitFor();
    await waitForTerm(page, 'PROMPT[1]: last words');
    if (rec.exitStatus === 3) {
      assert.match(await page.getByTestId('exit-status').textContent(), /status 3\b/);
      assert.match(await page.getByTestId('term-label').textContent(), /exited \(3\)/);
    } else {
      assert.equal(rec.exitStatus ?? null, null, 'an exit status, if any, is 3');
      // (the page asks again a second later, and shows the status if tmux reported it by then)
      assert.match(await page.getByTestId('exit-status').textContent(), /not running|status 3\b/);
    }
    assert.ok(!(await page.getByTestId('key-bar').isVisible()), 'no keys for a dead session');
    assert.ok(await page.evaluate(() => window.__llmuxTerm.options.disableStdin), 'read-only');
    await screenshot(page, 'term-exited', vp);
    assert.equal(sockets.length, before, `no WebSocket for an exited session: ${sockets.slice(before)}`);

    await page.getByTestId('respawn').click();
    await page.locator('[data-testid=status-dot][data-state=live]').waitFor();
    assert.equal(sockets.length, before + 1, 'one WebSocket after Restart');
    await waitForTerm(page, 'FAKE AGENT READY');
    assert.ok(!(await termText(page)).includes('PROMPT[1]: last words'), 'the old screen was replaced');
    assert.ok(await page.getByTestId('key-bar').isVisible());
    assert.ok(!(await page.getByTestId('session-ended').isVisible()));
    await page.getByTestId('terminal').click();
    await page.keyboard.type('again');
    await page.keyboard.press('Enter');
    await waitForTerm(page, 'PROMPT[1]: again');

    // Stopped from the menu: the screen stays, read-only, with Restart.
    if (vp === 'phone') await page.getByTestId('term-menu').click();
    await page.getByTestId('term-stop').click();
    await page.getByTestId('confirm-ok').click();
    await page.getByTestId('session-ended').waitFor();
    await waitForTerm(page, 'PROMPT[1]: again'); // the last screen stays (redrawn from capture)
    assert.ok(!(await page.getByTestId('key-bar').isVisible()));
    await screenshot(page, 'term-stopped', vp);
    // Opened afresh, a stopped session shows the screen the daemon kept, with no WebSocket.
    const n = sockets.length;
    await page.reload();
    await page.getByTestId('session-ended').waitFor();
    await waitForTerm(page, 'PROMPT[1]: again');
    assert.equal(sockets.length, n, 'no WebSocket for a stopped session');
    g.check();
  });
}

// Back at once: leaving while xterm.js still loads draws no terminal under the next page.
test('a session opened and left at once: no terminal drawn under the list (phone)', async (t) => {
  const { context, page, guard: g, sockets } = await open('phone');
  t.after(() => context.close());
  const name = 'left-at-once';
  await d.cliOk(['session', 'start', 'fake', '--name', name, '--cwd', d.work]);
  // Hold xterm.js until the page has been left (a fresh context: it is not cached yet).
  let release;
  const held = new Promise((r) => { release = r; });
  let asked;
  const requested = new Promise((r) => { asked = r; });
  await page.route('**/vendor/xterm/xterm.js', async (route) => { asked(); await held; await route.continue(); });
  await page.goto('/');
  await page.locator(`[data-testid=session-row][data-name="${name}"] [data-testid=session-name]`).click();
  await page.waitForURL((u) => u.pathname === `/s/${name}`);
  await requested;
  await page.goBack();
  await page.waitForURL((u) => u.pathname === '/');
  await page.locator(`[data-testid=session-row][data-name="${name}"]`).waitFor();
  release();
  await page.waitForFunction(() => typeof window.Terminal === 'function' && window.FitAddon && window.WebLinksAddon);
  // The mount has had its turn once the addons are in: one more frame for anything it would draw.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 50))));
  assert.equal(await page.locator('[data-testid=terminal], .xterm, .kbar').count(), 0, 'no terminal, no keys on the list');
  assert.equal(await page.evaluate(() => !!window.__llmuxTerm), false, 'no xterm instance');
  assert.ok(!(await page.evaluate(() => document.body.classList.contains('term'))), 'the list page layout');
  assert.deepEqual(sockets, [], 'no WebSocket');
  await screenshot(page, 'term-left-at-once', 'phone');
  g.check();
});

test('a missing session: a message and a way back, no keys, chat, bell or WebSocket (phone)', async (t) => {
  const { context, page, guard: g, sockets } = await open('phone');
  t.after(() => context.close());
  g.allow(/\/api\/sessions\/no-such-thing\b.*\b404\b|\b404\b/);
  await page.goto('/s/no-such-thing');
  const msg = page.getByTestId('no-session');
  await msg.waitFor();
  assert.match(await msg.textContent(), /no session named no-such-thing/);
  for (const sel of ['.kbar', '[data-testid=open-chat]', '[data-testid=notify-toggle]', '[data-testid=terminal]', '[data-testid=term-menu]']) {
    assert.equal(await page.locator(sel).count(), 0, `${sel} is not on the page`);
  }
  assert.deepEqual(sockets, [], 'no WebSocket');
  await screenshot(page, 'term-missing', 'phone');
  await page.getByTestId('back-to-list').click();
  await page.waitForURL((u) => u.pathname === '/');
  g.check();
});
