// Flow 7: mint a token (value shown once, no pairing QR: that is "Pair a device", see
// pairing.test.mjs), rename it, revoke it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withAdminDaemon, openPage, screenshot, menu, ADMIN, VIEWPORTS } from './harness.mjs';

let browser;
let d;
withAdminDaemon((b, daemon) => { browser = b; d = daemon; });

const withToken = (value, path, init = {}) => fetch(`${d.url}${path}`, { ...init, headers: { Authorization: `Bearer ${value}`, 'Content-Type': 'application/json', ...(init.headers || {}) } });

for (const vp of Object.keys(VIEWPORTS)) {
  test(`mint, rename and revoke a token (${vp})`, async (t) => {
    const { context, page, guard } = await openPage(browser, vp, d, { login: ADMIN });
    t.after(() => context.close());
    const name = `ci-${vp}`;
    await page.goto('/');
    await menu(page, 'nav-tokens');
    await page.waitForURL((u) => u.pathname === '/tokens');

    await page.getByTestId('token-name').fill(name);
    await page.getByTestId('token-scope').selectOption('read-only');
    const pairings = [];
    page.on('request', (r) => { if (new URL(r.url()).pathname === '/api/pairing') pairings.push(r.url()); });
    await page.getByTestId('token-create').click();
    const valueEl = page.getByTestId('token-value');
    await valueEl.waitFor();
    const value = (await valueEl.textContent()).trim();
    assert.ok(value.length >= 20, `a token value is shown: ${JSON.stringify(value)}`);

    // The "created" card holds the token only: pairing is its own action ("Pair a device").
    const card = page.getByRole('region', { name: 'New token' });
    assert.equal(await card.locator('img').count(), 0, 'no QR code in the token card');
    assert.doesNotMatch(await card.textContent(), /pair|scan/i);
    assert.deepEqual(pairings, [], 'minting a token makes no pairing code');
    assert.equal(await page.getByTestId('pair-device').isVisible(), true, 'Pair a device is on the page');
    const tokenRow = page.locator('[data-testid=token-row]').filter({ has: page.getByTestId('token-row-name').getByText(name, { exact: true }) });
    await tokenRow.waitFor();
    await screenshot(page, 'token-created', vp);

    // The value works, with its scope: read-only reads but cannot start a session.
    assert.equal((await withToken(value, '/api/sessions')).status, 200);
    assert.equal((await withToken(value, '/api/sessions', { method: 'POST', body: JSON.stringify({ agent: 'fake' }) })).status, 403);

    // Shown once: not on the page after a reload, nor in the list.
    await page.reload();
    await tokenRow.waitFor();
    assert.equal(await page.getByTestId('token-value').count(), 0, 'the value is not shown again');
    assert.ok(!(await page.content()).includes(value), 'the value is nowhere in the page');

    // Rename.
    const id = await tokenRow.getAttribute('data-id');
    await tokenRow.getByTestId('token-rename').click();
    await page.getByTestId('rename-input').fill(`${name}-renamed`);
    await page.getByTestId('rename-ok').click();
    const renamed = page.locator(`[data-testid=token-row][data-id="${id}"] [data-testid=token-row-name]`);
    await page.waitForFunction(([i, want]) => document.querySelector(`[data-testid=token-row][data-id="${i}"] [data-testid=token-row-name]`)?.textContent === want, [id, `${name}-renamed`]);
    assert.equal(await renamed.textContent(), `${name}-renamed`);

    // Revoke, after confirming: the row goes, and the value stops working.
    await page.locator(`[data-testid=token-row][data-id="${id}"]`).getByTestId('token-revoke').click();
    await page.getByTestId('confirm-dialog').waitFor();
    assert.match(await page.getByTestId('confirm-text').textContent(), new RegExp(`${name}-renamed`));
    await page.getByTestId('confirm-ok').click();
    await page.locator(`[data-testid=token-row][data-id="${id}"]`).waitFor({ state: 'detached' });
    assert.equal((await withToken(value, '/api/sessions')).status, 401, 'a revoked token is refused');
    await screenshot(page, 'token-revoked', vp);
    guard.check();
  });
}
