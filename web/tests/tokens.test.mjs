// Flow 7: mint a token (value shown once, with a pairing QR code), rename it, revoke it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, launchBrowser, openPage, screenshot, menu, ADMIN, VIEWPORTS } from './harness.mjs';

let browser;
let d;
before(async () => {
  [browser, d] = await Promise.all([launchBrowser(), startDaemon({ admin: true })]);
});
after(async () => {
  await browser?.close();
  await d?.stop();
});

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
    const pairingResponse = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/pairing');
    await page.getByTestId('token-create').click();
    const valueEl = page.getByTestId('token-value');
    await valueEl.waitFor();
    const value = (await valueEl.textContent()).trim();
    assert.ok(value.length >= 20, `a token value is shown: ${JSON.stringify(value)}`);
    const pairing = await (await pairingResponse).json().catch(() => ({}));

    // The pairing QR code: an <img> of a data: URL that the browser decoded.
    await t.test('pairing QR code shown with the new token', async () => {
      assert.ok(pairing.qrSvg, `POST /api/pairing answers with qrSvg (keys: ${Object.keys(pairing).join(', ')})`);
      assert.ok(pairing.url && pairing.url.includes('/pair#code='), `an absolute pairing URL: ${pairing.url}`);
      const qr = page.getByTestId('token-qr');
      await qr.waitFor({ timeout: 5000 });
      assert.match(await qr.getAttribute('src'), /^data:image\/svg\+xml;base64,/);
      await page.waitForFunction(() => { const i = document.querySelector('[data-testid=token-qr]'); return i.complete && i.naturalWidth > 0; });
    });
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
