// Flow 8: a non-admin (bob, created with the CLI over the socket) sees only his own sessions —
// not the admin's nor the operator's, also live — and none of the admin pages.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, launchBrowser, openPage, screenshot, pageFetch, startFakeSessions, menu, openMenu, waitForTerm, ADMIN, VIEWPORTS } from './harness.mjs';

const BOB = { username: 'bob', passphrase: 'bob has a passphrase' };
const ADMIN_PAGES = ['nav-admin-users', 'nav-admin-settings', 'nav-admin-logs', 'nav-admin-audit'];

let browser;
let d;
before(async () => {
  [browser, d] = await Promise.all([launchBrowser(), startDaemon({ admin: true })]);
  await d.cliOk(['user', 'create', BOB.username, '--name', 'Bob', '--passphrase', BOB.passphrase]);
  // bob's sessions run confined to the roots granted to him: the work dir.
  await d.cliOk(['user', 'edit', BOB.username, '--root', d.work]);
  // A session of the admin's (made with the admin's cookie) and one of the local operator's.
  const { context, page } = await openPage(browser, 'desktop', d, { login: ADMIN });
  await page.goto('/about');
  const r = await pageFetch(page, '/api/sessions', { method: 'POST', body: { agent: 'fake', name: 'admin-secret', cwd: d.work } });
  assert.equal(r.status, 201, JSON.stringify(r));
  await context.close();
  await startFakeSessions(d, ['op-secret']);
});
after(async () => {
  await browser?.close();
  await d?.stop();
});

for (const vp of Object.keys(VIEWPORTS)) {
  test(`a non-admin sees neither others' sessions nor the admin pages (${vp})`, async (t) => {
    const { context, page, guard } = await openPage(browser, vp, d, { login: BOB });
    t.after(() => context.close());
    const mine = `bob-${vp}`;
    await page.goto('/');
    await page.locator('[data-testid=empty-state]:visible, [data-testid=session-row]').first().waitFor();
    const made = await pageFetch(page, '/api/sessions', { method: 'POST', body: { agent: 'fake', name: mine, cwd: d.work } });
    assert.equal(made.status, 201, JSON.stringify(made));
    await page.locator(`[data-testid=session-row][data-name="${mine}"]`).waitFor();

    // Sessions the admin starts now do not reach bob's live list either: bob's next session
    // arrives (the stream is in order) and the admin's never does.
    await startFakeSessions(d, [`admin-later-${vp}`]);
    const next = await pageFetch(page, '/api/sessions', { method: 'POST', body: { agent: 'fake', name: `${mine}-2`, cwd: d.work } });
    assert.equal(next.status, 201, JSON.stringify(next));
    await page.locator(`[data-testid=session-row][data-name="${mine}-2"]`).waitFor();
    const names = await page.getByTestId('session-row').evaluateAll((rows) => rows.map((r) => r.dataset.name));
    assert.ok(names.every((n) => n.startsWith('bob-')), `bob sees only his sessions: ${names.join(', ')}`);
    for (const other of ['admin-secret', 'op-secret', `admin-later-${vp}`]) {
      assert.equal(await page.locator(`[data-testid=session-row][data-name="${other}"]`).count(), 0, `${other} is not listed`);
      const r = await context.request.get(`${d.url}/api/sessions/${other}`);
      assert.ok([403, 404].includes(r.status()), `GET /api/sessions/${other} as bob: ${r.status()}`);
    }
    await screenshot(page, 'nonadmin-sessions', vp);

    // No admin entries in the menu.
    await openMenu(page);
    for (const tid of ADMIN_PAGES) {
      const el = page.getByTestId(tid);
      assert.ok((await el.count()) === 0 || !(await el.isVisible()), `${tid} is absent or hidden`);
    }
    assert.match(await page.locator('#who').textContent(), /Bob \(bob\)/);
    await screenshot(page, 'nonadmin-menu', vp);
    await menu(page, 'nav-account'); // closes the drawer on phones
    await page.getByTestId('profile-name').waitFor();

    // /admin/users: no user list in the page, 403 from the API.
    await page.goto('/admin/users');
    await page.getByText('This page is for admins only.').waitFor();
    assert.equal(await page.locator('[data-testid=user-row], [data-testid=user-create]').count(), 0, 'no user list or form');
    const api = await context.request.get(`${d.url}/api/admin/users`);
    assert.equal(api.status(), 403, 'GET /api/admin/users as bob');
    for (const path of ['/api/settings', '/api/logs', '/api/audit']) {
      const r = await context.request.get(`${d.url}${path}`);
      assert.equal(r.status(), 403, `GET ${path} as bob`);
    }
    await screenshot(page, 'nonadmin-admin-users', vp);

    // His own terminal works; the admin's is not reachable.
    await page.goto(`/s/${mine}`);
    await waitForTerm(page, 'ENV FAKE_VAR='); // a short line: long ones may be re-wrapped by tmux
    guard.allow(/\/(ws|api\/sessions)\/admin-secret\b.*\b404\b|\b404\b.*\/(ws|api\/sessions)\/admin-secret\b/); // expected: not found for bob
    await page.goto('/s/admin-secret');
    await page.getByTestId('no-session').waitFor();
    assert.match(await page.getByTestId('no-session').textContent(), /No such session/);
    assert.ok(!(await page.evaluate(() => document.body.innerText)).includes('session=admin-secret'));
    guard.check();
  });
}
