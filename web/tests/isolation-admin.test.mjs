// Issue 15, the admin's side of isolation on the users page: a non-admin's workspace roots and
// session limit, edited from the page and read back from the API (a bad root shows the
// server's message); and the sessions still running outside the sandbox, restarted into it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startDaemon, launchBrowser, openPage, screenshot, pageFetch, apiLogin, until, ADMIN, VIEWPORTS } from './harness.mjs';

const PASS = 'a passphrase of theirs';

let browser;
let d;
before(async () => {
  [browser, d] = await Promise.all([launchBrowser(), startDaemon({ admin: true })]);
});
after(async () => {
  await browser?.close();
  await d?.stop();
});

/** GET as the admin (a fresh request context signed in). */
async function adminGet(url) {
  const { context } = await openPage(browser, 'desktop', d, { login: ADMIN });
  try {
    const r = await context.request.get(`${d.url}${url}`);
    assert.equal(r.status(), 200, `GET ${url}`);
    return await r.json();
  } finally {
    await context.close();
  }
}
const userOf = async (name) => (await adminGet('/api/admin/users')).find((u) => u.username === name);
const sessionOf = async (name) => (await adminGet('/api/sessions')).find((s) => s.name === name);

/** Every visible control in loc (buttons, inputs, summaries; not checkboxes, whose label is the target) is at least 44x44 CSS px. */
async function tapTargets(loc, what) {
  const small = await loc.locator('button, input, textarea, summary').evaluateAll((els) => els
    .filter((e) => e.offsetParent && e.type !== 'checkbox')
    .map((e) => { const r = e.getBoundingClientRect(); return { t: e.dataset.testid || e.textContent.trim().slice(0, 30), w: r.width, h: r.height }; })
    .filter((r) => r.h < 44 || r.w < 44));
  assert.deepEqual(small, [], `${what}: tap targets under 44 px`);
}

const noSideScroll = (page) => page.evaluate(() => document.documentElement.scrollWidth <= innerWidth);

for (const vp of Object.keys(VIEWPORTS)) {
  test(`the admin sets a user's workspace roots and session limit (${vp})`, async (t) => {
    const name = `carol-${vp}`;
    await d.cliOk(['user', 'create', name, '--name', 'Carol', '--passphrase', PASS]);
    const extra = path.join(d.dir, `extra-${vp}`);
    fs.mkdirSync(extra);
    const defaultRoot = path.join(fs.realpathSync(d.state), 'workspaces', name);

    const { context, page, guard } = await openPage(browser, vp, d, { login: ADMIN });
    t.after(() => context.close());
    await page.goto('/admin/users');
    const row = page.locator(`[data-testid=user-row][data-username="${name}"]`);
    await row.waitFor();
    // The admin is not confined, and says so; the non-admin shows where they work.
    const mine = page.locator(`[data-testid=user-row][data-username="${ADMIN.username}"]`);
    assert.match(await mine.textContent(), /Runs as the daemon's user \(not confined\)AdminReset passphraseDelete$/);
    assert.equal(await mine.locator('details').count(), 0, 'no sandbox settings for an admin');
    const summary = row.locator('summary');
    assert.equal((await summary.textContent()).trim(), `Workspace: ${defaultRoot} · no session limit`);
    // No session runs outside the sandbox: the section is not shown.
    assert.equal(await page.getByText('Sessions running outside the sandbox').isVisible(), false);

    await summary.click();
    const roots = row.getByTestId('user-roots');
    const max = row.getByTestId('user-max');
    assert.equal(await roots.inputValue(), defaultRoot);
    assert.equal(await max.inputValue(), '');
    assert.ok(await noSideScroll(page), 'no sideways scroll with the settings open');
    if (vp === 'phone') await tapTargets(row, `${name}'s row`); // a mouse's small buttons are 36 px on a desktop
    await screenshot(page, 'isolation-admin-user', vp);

    // Two roots (blank lines and spaces ignored) and a limit of 3: saved, read back.
    await roots.fill(`  ${d.work}\n\n${extra}/ \n`);
    await max.fill('3');
    await row.getByTestId('user-iso-save').click();
    const want = [fs.realpathSync(d.work), fs.realpathSync(extra)];
    await until(async () => {
      const u = await userOf(name);
      return JSON.stringify(u.roots) === JSON.stringify(want) && u.maxSessions === 3;
    }, { what: `${name} has roots ${want} and at most 3 sessions` });
    await until(async () => (await summary.textContent()).trim() === `Workspace: ${want.join(', ')} · at most 3 sessions`,
      { what: 'the row shows the new settings' });

    // A root that does not exist: the server's message, in the form; nothing changed.
    guard.allow(/status of 400/);
    await summary.click();
    await roots.fill('/no/such/dir-llmux');
    await row.getByTestId('user-iso-save').click();
    const err = row.getByTestId('user-iso-error');
    await err.waitFor();
    assert.match(await err.textContent(), /workspace root "\/no\/such\/dir-llmux" does not exist/);
    assert.ok(await noSideScroll(page), 'no sideways scroll with the error shown');
    await screenshot(page, 'isolation-admin-bad-root', vp);
    const same = await userOf(name);
    assert.deepEqual([same.roots, same.maxSessions], [want, 3], 'a refused change changes nothing');
    // A limit out of range: the server's message too.
    await roots.fill(d.work);
    await max.fill('0');
    await row.getByTestId('user-iso-save').click();
    await until(async () => /^maxSessions must be 1-1000 \(or null for no limit\), not 0$/.test(await err.textContent()),
      { what: 'the limit is refused with the server\'s message' });
    assert.equal((await userOf(name)).maxSessions, 3);

    // Empty limit: no limit. Then back to the default workspace.
    await max.fill('');
    await row.getByTestId('user-iso-save').click();
    await until(async () => { const u = await userOf(name); return u.maxSessions === null && u.roots.length === 1 && u.roots[0] === want[0]; },
      { what: `${name} has no limit and only the work dir` });
    await summary.click();
    await row.getByTestId('user-iso-default').click();
    await until(async () => JSON.stringify((await userOf(name)).roots) === JSON.stringify([defaultRoot]), { what: `${name} is back to the default workspace` });
    await until(async () => (await summary.textContent()).trim() === `Workspace: ${defaultRoot} · no session limit`, { what: 'the row shows the default' });
    guard.check();
  });
}

test('sessions running outside the sandbox are listed and restarted into it', async (t) => {
  // An admin's context: users made, sessions listed.
  const { context, page, guard } = await openPage(browser, 'phone', d, { login: ADMIN });
  t.after(() => context.close());
  await page.goto('/about');
  const made = await pageFetch(page, '/api/admin/users', { method: 'POST', body: { username: 'dave', passphrase: PASS, admin: true } });
  assert.equal(made.status, 201, JSON.stringify(made));
  // The admin's own session: running, not confined, and rightly so: never listed.
  const adm = await pageFetch(page, '/api/sessions', { method: 'POST', body: { agent: 'fake', name: 'admin-own', cwd: d.work } });
  assert.equal(adm.status, 201, JSON.stringify(adm));

  // dave, while an admin, starts two sessions (as an admin: not confined)...
  const dave = await browser.newContext({ baseURL: d.url });
  t.after(() => dave.close());
  await apiLogin(dave, d, { username: 'dave', passphrase: PASS });
  for (const name of ['dave-a', 'dave-b']) {
    const r = await dave.request.post(`${d.url}/api/sessions`, { data: { agent: 'fake', name, cwd: d.work }, headers: { Origin: d.url } });
    assert.equal(r.status(), 201, `${name}: ${await r.text()}`);
  }
  // ...then is demoted (and granted the work dir his sessions run in): they now run outside
  // the sandbox of a user who is not an admin, until restarted.
  const demoted = await pageFetch(page, '/api/admin/users/dave', { method: 'PATCH', body: { admin: false, roots: [d.work] } });
  assert.equal(demoted.status, 200, JSON.stringify(demoted));
  // The admin sees them as NAME@OWNER.
  for (const name of ['dave-a@dave', 'dave-b@dave']) {
    const s = await sessionOf(name);
    assert.deepEqual([s.owner, s.status, s.confined], ['dave', 'running', false], name);
  }

  await page.goto('/admin/users');
  const rows = page.getByTestId('unconfined-row');
  await page.getByRole('heading', { name: 'Sessions running outside the sandbox' }).waitFor();
  await until(async () => (await rows.count()) === 2, { what: 'two unconfined rows' });
  assert.deepEqual(await rows.evaluateAll((els) => els.map((e) => [e.dataset.name, e.textContent]).sort()),
    [['dave-a@dave', 'dave-a of daveRestart'], ['dave-b@dave', 'dave-b of daveRestart']], 'dave\'s two sessions, not the admin\'s');
  assert.ok(await noSideScroll(page), 'no sideways scroll');
  await tapTargets(page.getByTestId('unconfined-row').first(), 'unconfined row');
  await screenshot(page, 'isolation-admin-unconfined', 'phone');
  const desk = await openPage(browser, 'desktop', d, { login: ADMIN });
  t.after(() => desk.context.close());
  await desk.page.goto('/admin/users');
  await until(async () => (await desk.page.getByTestId('unconfined-row').count()) === 2, { what: 'two rows on the desktop' });
  await screenshot(desk.page, 'isolation-admin-unconfined', 'desktop');

  // Restart one: its row goes (live), the API says it runs confined; the other stays.
  await page.locator('[data-testid=unconfined-row][data-name="dave-a@dave"]').getByTestId('unconfined-restart').click();
  await page.locator('[data-testid=unconfined-row][data-name="dave-a@dave"]').waitFor({ state: 'detached' });
  const a = await sessionOf('dave-a@dave');
  assert.deepEqual([a.status, a.confined], ['running', true], 'dave-a runs confined after the restart');
  assert.equal(await rows.count(), 1);
  // The other, from the desktop page; then the section is gone from both.
  await desk.page.locator('[data-testid=unconfined-row][data-name="dave-b@dave"]').getByTestId('unconfined-restart').click();
  for (const p of [page, desk.page]) {
    await p.getByRole('heading', { name: 'Sessions running outside the sandbox' }).waitFor({ state: 'hidden' });
    assert.equal(await p.getByTestId('unconfined-row').count(), 0);
  }
  assert.equal((await sessionOf('dave-b@dave')).confined, true, 'dave-b runs confined after the restart');
  assert.equal((await sessionOf('admin-own')).confined, false, 'the admin\'s session is as it was');
  await screenshot(page, 'isolation-admin-none', 'phone');
  guard.check();
  desk.guard.check();
});
