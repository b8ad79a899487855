// The sessions list (issue 13, web items 1, 2 and 10). On a phone (412x915, touch): a row is one
// or two lines, at least 8 fit the screen below the header (counted), a tap on the row opens the
// session, the actions are behind a ⋯ menu (Stop and Kill ask first), bulk actions only in a
// selection mode, and every control is a tap target of 44 px at least (measured). On a desktop
// (1440x900): column headers over their columns, no cell drawn over another, the state shown
// once with the exit status, names not cut, folders cut in the middle (proj-a and proj-b stay
// apart), the waiting reason in full, no ☰ beside the always-shown sidebar. A selection keeps
// only rows the filter shows: a filter matching nothing leaves "0 selected" and the bulk buttons
// off.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startDaemon, launchBrowser, guard, apiLogin, screenshot, startFakeSessions, until, ADMIN, VIEWPORTS } from './harness.mjs';

const SIZES = {
  phone: VIEWPORTS.phone,
  desktop: { viewport: { width: 1440, height: 900 } },
};
const LONG = 'a-rather-long-session-name-x';

let browser;
let d;
let waitingFor = '';
let deep = '';
before(async () => {
  [browser, d] = await Promise.all([launchBrowser(), startDaemon({ admin: true })]);
  // Two folders that differ only at the end, deep enough to be cut at any width.
  deep = path.join(d.work, 'a-fairly-deep', 'nested', 'folder-of-projects');
  for (const p of ['proj-a', 'proj-b']) fs.mkdirSync(path.join(deep, p), { recursive: true });
  // Newest first: the ones the screenshots should show are started last.
  await startFakeSessions(d, Array.from({ length: 12 }, (_, i) => `s-${String(i + 1).padStart(2, '0')}`));
  await startFakeSessions(d, [LONG, 'crashed']);
  await d.cliOk(['session', 'start', 'fake', '--name', 'in-proj-a', '--cwd', path.join(deep, 'proj-a')]);
  await d.cliOk(['session', 'start', 'fake', '--name', 'in-proj-b', '--cwd', path.join(deep, 'proj-b')]);
  // An agent that exits with status 3, and one waiting for a permission.
  await d.cliOk(['session', 'start', 'fakeq', '--name', 'asking', '--cwd', d.work]);
  const show = async (n) => JSON.parse(await d.cliOk(['--json', 'session', 'show', n]));
  await until(async () => (await show('asking')).state === 'idle', { timeout: 30000, what: 'asking idle' });
  await d.cliOk(['session', 'prompt', 'asking', 'please run `touch a-file-with-a-rather-long-name-to-make-the-question-long.txt`']);
  const s = await until(async () => { const x = await show('asking'); return x.state === 'waiting' && x.waitingFor && x; }, { timeout: 30000, what: 'asking waiting' });
  waitingFor = s.waitingFor;
  // tmux sometimes marks the pane dead without its exit status (pane_dead_status empty, seen
  // on a loaded machine): then the session is started again and exits again, a few times.
  for (let i = 1; ; i++) {
    await until(async () => {
      if ((await show('crashed')).status !== 'running') return false;
      const c = await d.cliOk(['session', 'capture', 'crashed']);
      const since = c.slice(c.lastIndexOf('FAKE AGENT READY'));
      return since.includes('SIZE ') && !since.includes('PROMPT[');
    }, { what: 'crashed started' });
    await d.cliOk(['session', 'prompt', 'crashed', '/exit 3']);
    const x = await until(async () => { const v = await show('crashed'); return v.status === 'exited' && v; }, { timeout: 30000, what: 'crashed exited' });
    if (x.exitStatus === 3) break;
    console.log(`crashed exited without its exit status (${JSON.stringify(x.exitStatus)}), attempt ${i}`);
    assert.ok(i < 4, 'an exit status after 4 attempts');
    await d.cliOk(['session', 'restart', 'crashed']);
  }
});
after(async () => {
  await browser?.close();
  await d?.stop();
});

async function open(size) {
  const context = await browser.newContext({ ...SIZES[size], baseURL: d.url });
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  const g = guard(page);
  await apiLogin(context, d, ADMIN);
  await page.goto('/');
  const n = JSON.parse(await d.cliOk(['--json', 'session', 'list'])).length;
  await until(async () => (await page.locator('[data-testid=session-row]').count()) === n, { what: `${n} rows` });
  await page.waitForFunction(() => !document.querySelector('[data-testid=session-row].later'));
  return { context, page, guard: g };
}

const row = (page, name) => page.locator(`[data-testid=session-row][data-name="${name}"]`);
const box = (loc) => loc.evaluate((el) => { const r = el.getBoundingClientRect(); return { x: r.x, y: r.y, w: r.width, h: r.height, right: r.right, bottom: r.bottom }; });

/** Asserts each element matching `sel` (visible ones) is at least min x min CSS px. */
async function tapTargets(page, sel, what, min = 44) {
  const sizes = await page.locator(sel).evaluateAll((els) => els.filter((e) => e.checkVisibility()).map((e) => {
    const r = e.getBoundingClientRect();
    return { tid: e.dataset.testid || e.className || e.tagName, text: e.textContent.trim().slice(0, 20), w: r.width, h: r.height };
  }));
  assert.ok(sizes.length, `${what}: found some`);
  for (const s of sizes) assert.ok(s.w >= min && s.h >= min, `${what}: ${JSON.stringify(s)} is under ${min}x${min} px`);
  return sizes;
}

/** Waits until the row's data-status is `want`. */
const expectStatus = (page, name, want) => page.waitForFunction(([n, w]) => document.querySelector(`[data-testid=session-row][data-name="${n}"]`)?.dataset.status === w, [name, want], { polling: 'raf' });

test('phone: light rows, 8+ on a screen, tap opens, ⋯ menu, selection mode, 44 px targets', async (t) => {
  const { context, page, guard: g } = await open('phone');
  t.after(() => context.close());
  await screenshot(page, 'list', 'phone');

  // Rows fully on screen below the header, counted.
  const fit = await page.evaluate(() => {
    const top = document.querySelector('header.top').getBoundingClientRect().bottom;
    return [...document.querySelectorAll('[data-testid=session-row]')].filter((r) => {
      const b = r.getBoundingClientRect();
      return b.height > 0 && b.top >= top && b.bottom <= innerHeight;
    }).length;
  });
  console.log(`phone: ${fit} rows fully on the 412x915 screen`);
  assert.ok(fit >= 8, `${fit} rows fit on the phone screen, want 8 or more`);

  // One or two lines: a plain row is no taller than two lines (44 px ⋯ button, 5 px padding).
  const plain = await box(row(page, 's-01'));
  assert.ok(plain.h <= 56, `a row is ${plain.h} px tall`);
  // Its placeholder height (content-visibility) is its content height: the perf test relies on it.
  const ph = await row(page, 's-01').evaluate((li) => {
    const cs = getComputedStyle(li);
    return { intrinsic: parseFloat(cs.containIntrinsicHeight.replace('auto', '')), content: li.getBoundingClientRect().height - parseFloat(cs.paddingTop) - parseFloat(cs.paddingBottom) - parseFloat(cs.borderTopWidth) - parseFloat(cs.borderBottomWidth) };
  });
  assert.ok(Math.abs(ph.intrinsic - ph.content) < 1, `contain-intrinsic-size ${ph.intrinsic} px vs content ${ph.content} px`);

  // The row shows name, agent, state with its age; the waiting reason in full (wrapping).
  const waiting = row(page, 'asking');
  assert.equal(await waiting.getByTestId('session-name').textContent(), 'asking');
  assert.equal(await waiting.getByTestId('session-agent').textContent(), 'fakeq');
  const label = waiting.locator('[data-testid=session-state] .sbl');
  assert.equal(await label.textContent(), `waiting: ${waitingFor}`);
  assert.ok(await label.evaluate((el) => el.scrollWidth <= el.clientWidth && el.getBoundingClientRect().right <= innerWidth), 'the waiting reason is not cut');
  assert.match(await waiting.locator('[data-testid=session-state] time').textContent(), /just now|ago/);
  // An exited one: the state once, with the exit status.
  const crashed = await row(page, 'crashed').innerText();
  assert.match(crashed, /exited \(exit 3\)/);
  assert.equal(crashed.match(/exited/g).length, 1, `the state shows once: ${JSON.stringify(crashed)}`);
  // No bulk bar, no checkboxes outside selection mode.
  assert.equal(await page.getByTestId('bulk-bar').isVisible(), false, 'no bulk bar');
  assert.equal(await page.locator('[data-testid=session-select]:visible').count(), 0, 'no checkboxes');

  // Tap targets: each row's ⋯, and the page's other controls.
  await tapTargets(page, '[data-testid=session-menu]', 'row ⋯ buttons');
  await tapTargets(page, 'header button, main button, main a.btn, main input', 'page controls');
  await page.getByTestId('nav-menu').tap();
  await page.getByTestId('nav-sessions').waitFor();
  await tapTargets(page, '#nav a, #nav button', 'menu entries');
  await page.getByTestId('nav-menu').tap();
  await page.waitForFunction(() => getComputedStyle(document.getElementById('nav')).visibility === 'hidden');

  // A tap on the row (away from the name link) opens the session.
  await row(page, 's-03').getByTestId('session-state').tap();
  await page.waitForURL('**/s/s-03');
  await page.locator('[data-testid=status-dot][data-state=live]').waitFor();
  await page.goBack();
  await row(page, 's-03').waitFor();

  // The ⋯ menu: its items are tap targets; Stop asks first, then stops.
  await row(page, 's-01').getByTestId('session-menu').tap();
  const menu = page.getByTestId('session-menu-dialog');
  await menu.waitFor();
  const items = await tapTargets(page, '[data-testid=session-menu-dialog] .mitems > *', 'menu items');
  assert.deepEqual(items.map((i) => i.text), ['Open terminal', 'Chat', 'Review changes', 'Edit', 'Restart', 'Stop', 'Notify me', 'Kill']);
  const mb = await box(menu);
  // A sheet at the bottom, under two thirds of the screen (8 items of 44 px or more).
  assert.ok(mb.bottom <= 915 + 1 && mb.bottom >= 915 - 1 && mb.y > 915 / 3, `the menu is a sheet at the bottom: ${JSON.stringify(mb)}`);
  await screenshot(page, 'list-menu', 'phone');
  await menu.getByTestId('session-stop').tap();
  await page.getByTestId('confirm-dialog').waitFor();
  assert.match(await page.getByTestId('confirm-text').textContent(), /\bs-01\b/);
  await page.getByTestId('confirm-ok').tap();
  await expectStatus(page, 's-01', 'exited');
  assert.equal(JSON.parse(await d.cliOk(['--json', 'session', 'show', 's-01'])).status, 'exited');
  // Kill (here "Remove", it has exited) asks, Cancel keeps it, OK removes it.
  await row(page, 's-01').getByTestId('session-menu').tap();
  assert.equal(await menu.getByTestId('session-stop').isVisible(), false, 'no Stop for an exited session');
  assert.equal(await menu.getByTestId('session-kill').textContent(), 'Remove');
  await menu.getByTestId('session-kill').tap();
  await page.getByTestId('confirm-cancel').tap();
  await page.getByTestId('confirm-dialog').waitFor({ state: 'hidden' });
  assert.equal(await row(page, 's-01').count(), 1, 'cancel kept it');
  await row(page, 's-01').getByTestId('session-menu').tap();
  await menu.getByTestId('session-kill').tap();
  await page.getByTestId('confirm-ok').tap();
  await row(page, 's-01').waitFor({ state: 'detached' });
  assert.equal((await d.cli(['session', 'show', 's-01'])).code, 4, 'the record is gone');

  // Selection mode: checkboxes (44 px tap areas) and the bulk bar appear.
  await page.evaluate(() => scrollTo(0, 0));
  await page.getByTestId('select-mode').tap();
  await page.getByTestId('bulk-bar').waitFor();
  await tapTargets(page, '.pick', 'row checkboxes (their labels)');
  await tapTargets(page, '[data-testid=bulk-bar] button, [data-testid=bulk-bar] label', 'bulk bar');
  // A tap on a row selects it (and does not open it).
  await row(page, 's-12').getByTestId('session-state').tap();
  await until(async () => (await page.getByTestId('selected-count').textContent()) === '1 selected', { what: '1 selected' });
  assert.equal(new URL(page.url()).pathname, '/');
  assert.equal(await page.getByTestId('bulk-kill').isEnabled(), true);
  assert.equal(await page.getByTestId('bulk-stop').isEnabled(), true);
  await screenshot(page, 'list-select', 'phone');
  // A filter matching nothing: the selection goes with the rows it hides.
  await page.getByTestId('filter').fill('zzz-matches-nothing');
  await until(async () => (await page.getByTestId('selected-count').textContent()) === '0 selected', { what: '0 selected' });
  for (const b of ['bulk-restart', 'bulk-stop', 'bulk-send', 'bulk-kill']) assert.equal(await page.getByTestId(b).isDisabled(), true, `${b} disabled`);
  assert.equal(await page.getByTestId('select-all').isChecked(), false);
  await screenshot(page, 'list-select-nomatch', 'phone');
  await page.getByTestId('filter').fill('');
  assert.equal(await row(page, 's-12').getByTestId('session-select').isChecked(), false, 'the hidden row was unselected');
  assert.equal(await page.getByTestId('bulk-kill').isDisabled(), true);
  // Leaving the mode hides the checkboxes and the bar.
  await row(page, 's-12').getByTestId('session-select').check();
  await page.getByTestId('select-mode').tap();
  await page.getByTestId('bulk-bar').waitFor({ state: 'hidden' });
  assert.equal(await page.locator('[data-testid=session-select]:visible').count(), 0);
  assert.equal(await row(page, 's-12').getByTestId('session-select').isChecked(), false, 'leaving the mode clears the selection');
  g.check();
});

test('desktop: column headers, no overlap, names whole, folders cut in the middle, waiting reason in full', async (t) => {
  const { context, page, guard: g } = await open('desktop');
  t.after(() => context.close());
  await screenshot(page, 'list', 'desktop');
  // The sidebar is always shown: no ☰.
  assert.equal(await page.getByTestId('nav-sessions').isVisible(), true);
  assert.equal(await page.getByTestId('nav-menu').isVisible(), false, 'no ☰ beside the sidebar');

  // Column headers, each over its column.
  const head = page.locator('.shead > span:visible');
  assert.deepEqual(await head.allTextContents(), ['Name', 'State', 'Agent', 'Folder', 'Started']);
  const cols = ['session-name', 'session-state', 'session-agent', 'session-cwd', 'session-age'];
  const heads = await head.evaluateAll((els) => els.map((e) => e.getBoundingClientRect().x));
  for (const [i, tid] of cols.entries()) {
    const x = (await box(row(page, 's-02').getByTestId(tid))).x;
    assert.ok(Math.abs(x - heads[i]) < 1, `${tid} starts at ${x}, its header at ${heads[i]}`);
  }

  // No cell over another, in any row; nothing drawn past its cell unless clipped.
  const overlaps = await page.evaluate((tids) => {
    const bad = [];
    for (const r of document.querySelectorAll('[data-testid=session-row]')) {
      const cells = [...tids, 'session-menu'].map((t) => [t, r.querySelector(`[data-testid=${t}]`)]);
      const boxes = cells.map(([t, el]) => [t, el.getBoundingClientRect(), el]);
      for (let i = 0; i < boxes.length; i++) {
        const [ta, a, el] = boxes[i];
        const cs = getComputedStyle(el);
        if (cs.overflowX !== 'hidden' && el.scrollWidth > el.clientWidth + 1) bad.push(`${r.dataset.name} ${ta} overflows (${el.scrollWidth} > ${el.clientWidth})`);
        for (let j = i + 1; j < boxes.length; j++) {
          const [tb, b] = boxes[j];
          if (a.right > b.left + 0.5 && b.right > a.left + 0.5 && a.bottom > b.top + 0.5 && b.bottom > a.top + 0.5) bad.push(`${r.dataset.name}: ${ta} overlaps ${tb}`);
        }
      }
    }
    return bad;
  }, cols);
  assert.deepEqual(overlaps, []);

  // The state once, with the exit status.
  const crashed = await row(page, 'crashed').innerText();
  assert.match(crashed, /exited \(exit 3\)/);
  assert.equal(crashed.match(/exited/g).length, 1, `the state shows once: ${JSON.stringify(crashed)}`);

  // Names not cut (the long one whole, its full name also the title).
  const name = row(page, LONG).getByTestId('session-name');
  assert.equal(await name.getAttribute('title'), LONG);
  assert.ok(await name.evaluate((el) => el.scrollWidth <= el.clientWidth), `${LONG} is shown whole`);

  // Folders: cut in the middle, the last part whole, so proj-a and proj-b look different.
  for (const n of ['in-proj-a', 'in-proj-b']) {
    const cwd = row(page, n).getByTestId('session-cwd');
    assert.equal(await cwd.getAttribute('title'), path.join(deep, n.slice(3)));
    const parts = await cwd.evaluate((el) => [...el.children].map((s) => ({ text: s.textContent, cut: s.scrollWidth > s.clientWidth, right: s.getBoundingClientRect().right })).concat([{ right: el.getBoundingClientRect().right }]));
    assert.equal(parts[1].text, n.slice(3));
    assert.equal(parts[1].cut, false, `${n}: the last part is whole`);
    assert.ok(parts[1].right <= parts[2].right + 0.5, `${n}: the last part is inside its cell`);
    assert.equal(parts[0].cut, true, `${n}: the head is cut (the path is long enough for the test to mean something)`);
  }
  const [pa, pb] = await Promise.all(['in-proj-a', 'in-proj-b'].map((n) => row(page, n).getByTestId('session-cwd').screenshot()));
  assert.ok(!pa.equals(pb), 'the two folders are drawn differently');

  // The waiting reason in full, not cut (it wraps if it must).
  const label = row(page, 'asking').locator('[data-testid=session-state] .sbl');
  assert.equal(await label.textContent(), `waiting: ${waitingFor}`);
  assert.ok(await label.evaluate((el) => el.scrollWidth <= el.clientWidth && el.scrollHeight <= el.clientHeight), 'the waiting reason is not cut');

  // The ⋯ menu beside its button; the whole row opens the session.
  await row(page, 'in-proj-b').getByTestId('session-menu').click();
  const menu = page.getByTestId('session-menu-dialog');
  await menu.waitFor();
  const [mb, bb] = [await box(menu), await box(row(page, 'in-proj-b').getByTestId('session-menu'))];
  assert.ok(Math.abs(mb.right - bb.right) < 2 && (Math.abs(mb.y - bb.bottom - 4) < 2 || Math.abs(mb.bottom - bb.y + 4) < 2), `the menu is beside its button: ${JSON.stringify({ mb, bb })}`);
  await screenshot(page, 'list-menu', 'desktop');
  await page.keyboard.press('Escape');
  await menu.waitFor({ state: 'hidden' });
  await row(page, 'in-proj-b').getByTestId('session-agent').click();
  await page.waitForURL('**/s/in-proj-b');
  g.check();
});
