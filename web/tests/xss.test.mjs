// The payload `</script><img src=x onerror=alert(1)>` as a display name, a token name, agent
// output and a filter never runs (no window dialog, no error, no request for its image, no <img>
// made from it); as a session name it is refused with a field error.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, launchBrowser, openPage, screenshot, openTerminal, waitForTerm, startFakeSessions, menu, ADMIN, XSS, VIEWPORTS } from './harness.mjs';

let browser;
let d;
before(async () => {
  [browser, d] = await Promise.all([launchBrowser(), startDaemon({ admin: true })]);
});
after(async () => {
  await browser?.close();
  await d?.stop();
});

/** No element was made from the payload, and it shows as text where expected. */
async function inert(page, where) {
  const imgs = await page.evaluate(() => [...document.querySelectorAll('img')].filter((i) => i.getAttribute('src') === 'x' || i.hasAttribute('onerror')).length);
  assert.equal(imgs, 0, `${where}: an <img> was made from the payload`);
  const scripts = await page.evaluate(() => [...document.scripts].filter((s) => !s.src).length);
  assert.equal(scripts, 0, `${where}: an inline <script> appeared`);
}

for (const vp of Object.keys(VIEWPORTS)) {
  test(`the XSS payload stays text everywhere (${vp})`, async (t) => {
    const { context, page, guard } = await openPage(browser, vp, d, { login: ADMIN });
    t.after(() => context.close());

    // A display name: saved, shown in the menu, after a reload, and on the users page.
    await page.goto('/');
    await menu(page, 'nav-account');
    await page.getByTestId('profile-name').fill(XSS);
    await page.getByTestId('profile-save').click();
    await page.waitForFunction((x) => document.getElementById('who').textContent.includes(x), XSS);
    await page.reload();
    await page.getByTestId('profile-name').waitFor();
    assert.equal(await page.getByTestId('profile-name').inputValue(), XSS);
    assert.equal(await page.locator('#who').textContent(), `${XSS} (${ADMIN.username})`);
    await inert(page, 'account page');
    await page.goto('/admin/users');
    await page.locator(`[data-testid=user-row][data-username="${ADMIN.username}"]`).getByText(XSS, { exact: false }).waitFor();
    await inert(page, 'users page');
    await screenshot(page, 'xss-name', vp);

    // A token name: in the "created" card, the list, the rename and revoke dialogs.
    await page.goto('/tokens');
    await page.getByTestId('token-name').fill(XSS);
    const created = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/tokens' && r.request().method() === 'POST');
    await page.getByTestId('token-create').click();
    await page.getByTestId('token-value').waitFor();
    const { token } = await (await created).json();
    assert.equal(token.name, XSS);
    const row = page.locator(`[data-testid=token-row][data-id="${token.id}"]`);
    await row.waitFor();
    assert.equal(await row.getByTestId('token-row-name').textContent(), XSS);
    assert.ok((await page.getByRole('region', { name: 'New token' }).textContent()).includes(`Token “${XSS}” created`));
    await row.getByTestId('token-rename').click();
    assert.equal(await page.getByTestId('rename-input').inputValue(), XSS);
    await page.keyboard.press('Escape');
    await page.getByTestId('rename-input').waitFor({ state: 'detached' });
    await row.getByTestId('token-revoke').click();
    await page.getByTestId('confirm-dialog').waitFor();
    assert.ok((await page.getByTestId('confirm-text').textContent()).includes(XSS));
    await page.getByTestId('confirm-cancel').click();
    await page.getByTestId('confirm-dialog').waitFor({ state: 'hidden' });
    await inert(page, 'tokens page');
    await screenshot(page, 'xss-token', vp);

    // Agent output: typed into the fake agent, echoed and printed as `PROMPT[1]: …`.
    const name = `xss-${vp}`;
    await startFakeSessions(d, [name]);
    await openTerminal(page, name);
    await page.getByTestId('terminal').click();
    await page.keyboard.type(XSS);
    await page.keyboard.press('Enter');
    await waitForTerm(page, `PROMPT[1]: ${XSS}`);
    const capture = await d.cliOk(['session', 'capture', name]);
    assert.ok(capture.includes(`PROMPT[1]: ${XSS}`), `the agent got the payload as typed:\n${capture}`);
    await inert(page, 'terminal page');
    await screenshot(page, 'xss-output', vp);

    // The sessions filter: nothing matches, and the "no match" line shows the payload as text.
    await page.goto('/');
    await page.locator(`[data-testid=session-row][data-name="${name}"]`).waitFor();
    await page.getByTestId('filter').fill(XSS);
    await page.getByText(`No session matches “${XSS}”.`).waitFor();
    assert.equal(await page.locator('[data-testid=session-row]:visible').count(), 0);
    await inert(page, 'sessions page');
    await screenshot(page, 'xss-filter', vp);

    // As a session name: refused by the daemon, shown as the name field's error.
    guard.allow(/status of 400 .*\/api\/sessions\b/);
    await page.goto('/new');
    await page.getByTestId('agent-picker').selectOption('fake');
    await page.getByTestId('field-name').fill(XSS);
    await page.getByTestId('field-cwd').fill(d.work);
    await page.getByTestId('form-submit').click();
    const err = page.getByTestId('error-name');
    await err.waitFor();
    assert.match(await err.textContent(), /invalid session name/i);
    assert.equal(await page.getByTestId('field-name').getAttribute('aria-invalid'), 'true');
    assert.equal(new URL(page.url()).pathname, '/new', 'still on the form');
    const list = JSON.parse(await d.cliOk(['--json', 'session', 'list']));
    assert.ok(!JSON.stringify(list).includes('onerror'), 'no session was made with the payload as its name');
    await inert(page, 'new session form');
    await screenshot(page, 'xss-session-name', vp);

    // The audit log (which records the token and profile changes) shows it as text too.
    await page.goto('/admin/audit');
    await page.getByTestId('audit-row').first().waitFor();
    await inert(page, 'audit page');
    guard.check();
  });
}
