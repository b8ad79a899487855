// Flow 6: the sessions list updates live (server-sent events, no reload) when a session is
// stopped (from the CLI, or with the bulk Stop button of selection mode) — its status reads
// `exited` — and when one is killed with confirmation (from the row's ⋯ menu) — its row
// disappears — here and in a second browser.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withAdminDaemon, openPage, screenshot, startFakeSessions, ADMIN, VIEWPORTS } from './harness.mjs';

let browser;
let d;
withAdminDaemon((b, daemon) => { browser = b; d = daemon; });

const row = (page, name) => page.locator(`[data-testid=session-row][data-name="${name}"]`);
const status = (page, name) => row(page, name).getAttribute('data-status');

/**
 * Waits until the row's status is `want` (auto-retrying, no reload); an exited one's state
 * reads `exited`.
 */
async function expectStatus(page, name, want) {
  await page.waitForFunction(([n, w]) => {
    const r = document.querySelector(`[data-testid=session-row][data-name="${n}"]`);
    return r?.dataset.status === w && (w !== 'exited' || /^exited\b/.test(r.querySelector('[data-testid=session-state] .sbl').textContent));
  }, [name, want], { polling: 'raf' })
    .catch(async (e) => { throw new Error(`${name} never read ${want} (now ${await status(page, name).catch(() => 'no row')}): ${e.message}`); });
}

/** Picks an action of the row's ⋯ menu. */
async function menuAction(page, name, tid) {
  await row(page, name).getByTestId('session-menu').click();
  await page.getByTestId('session-menu-dialog').getByTestId(tid).click();
}

/** Marks the document, so a later check proves the page was never reloaded. */
const mark = (page) => page.evaluate(() => { window.__noReload = true; });
const notReloaded = async (page) => assert.equal(await page.evaluate(() => window.__noReload), true, 'the page was reloaded');

for (const vp of Object.keys(VIEWPORTS)) {
  test(`live stop and kill with confirmation (${vp})`, async (t) => {
    const [a, b, c, e] = ['a', 'b', 'c', 'e'].map((x) => `live-${x}-${vp}`);
    await startFakeSessions(d, [a, b, c]);
    const one = await openPage(browser, vp, d, { login: ADMIN });
    const two = await openPage(browser, 'desktop', d, { login: ADMIN }); // a second browser
    t.after(() => Promise.all([one.context.close(), two.context.close()]));
    const [p1, p2] = [one.page, two.page];
    await Promise.all([p1.goto('/'), p2.goto('/')]);
    for (const p of [p1, p2]) {
      for (const n of [a, b, c]) await expectStatus(p, n, 'running');
      await mark(p);
    }

    // The full start date appears as the age's title once a pointer reaches it (formatted
    // lazily: the first date formatted on a page is slow).
    const age = row(p2, a).getByTestId('session-age');
    assert.equal(await age.getAttribute('title'), null, 'no title formatted before it is wanted');
    await age.hover();
    assert.match(await age.getAttribute('title') || '', /^started .*\d/, 'the title shows the start date');

    // Stopped from the CLI: both pages show `exited` without a reload.
    await d.cliOk(['session', 'stop', a]);
    await Promise.all([expectStatus(p1, a, 'exited'), expectStatus(p2, a, 'exited')]);

    // Stopped with the bulk Stop button (in selection mode) in one page: `exited` in both.
    await p1.getByTestId('select-mode').click();
    await row(p1, b).getByTestId('session-select').check();
    await p1.getByTestId('bulk-stop').click();
    await Promise.all([expectStatus(p1, b, 'exited'), expectStatus(p2, b, 'exited')]);
    await p1.getByTestId('select-mode').click();
    await expectStatus(p1, c, 'running');

    // Kill (in the row's ⋯ menu) asks first; Cancel keeps the session.
    await menuAction(p1, c, 'session-kill');
    const dialog = p1.getByTestId('confirm-dialog');
    await dialog.waitFor();
    assert.match(await p1.getByTestId('confirm-text').textContent(), new RegExp(`\\b${c}\\b`), 'the confirmation names the session');
    await screenshot(p1, 'kill-confirm', vp);
    await p1.getByTestId('confirm-cancel').click();
    await dialog.waitFor({ state: 'hidden' });
    assert.equal((await d.cliOk(['session', 'show', c])).includes(c), true, 'cancel kept the session');
    await expectStatus(p1, c, 'running');

    // OK kills it: the row disappears in both pages, without a reload.
    await menuAction(p1, c, 'session-kill');
    await dialog.waitFor();
    await p1.getByTestId('confirm-ok').click();
    await Promise.all([row(p1, c).waitFor({ state: 'detached' }), row(p2, c).waitFor({ state: 'detached' })]);
    const gone = await d.cli(['session', 'show', c]);
    assert.equal(gone.code, 4, `the killed session's record is gone: ${gone.stdout}${gone.stderr}`);

    // Killed from the other browser (an exited one: "Remove"): gone from the first page.
    await menuAction(p2, a, 'session-kill');
    await p2.getByTestId('confirm-dialog').waitFor();
    assert.match(await p2.getByTestId('confirm-text').textContent(), new RegExp(`\\b${a}\\b`));
    await p2.getByTestId('confirm-ok').click();
    await row(p1, a).waitFor({ state: 'detached' });

    // A session started elsewhere appears live too.
    await startFakeSessions(d, [e]);
    await expectStatus(p1, e, 'running');
    await expectStatus(p1, b, 'exited');
    await notReloaded(p1);
    await notReloaded(p2);
    await screenshot(p1, 'sessions-live', vp);
    one.guard.check('first page');
    two.guard.check('second page');
  });
}
