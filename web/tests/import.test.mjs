// Issue 16 §3: an account and a token brought over from llmux 0.41 by `llmux import
// llmux-0.41`: the old passphrase signs in through the page, and the Tokens page marks the
// old token as imported.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { startDaemon, launchBrowser, openPage, screenshot, menu, ADMIN, BIN, VIEWPORTS } from './harness.mjs';

let browser;
let d;
const OLD_ID = 'oldLaptopToken01';

/** users.json and tokens.json as llmux 0.41 writes them (scrypt with a small N: fast). */
function oldInstall(dir) {
  const salt = crypto.randomBytes(16);
  const hash = crypto.scryptSync(ADMIN.passphrase, salt, 64, { N: 1024, r: 8, p: 1 });
  const users = [{ username: ADMIN.username, name: 'Old Admin', passphraseHash: `scrypt$1024$${salt.toString('base64')}$${hash.toString('base64')}`, admin: true, createdAt: '2026-01-02T03:04:05.000Z' }];
  const secret = crypto.randomBytes(32).toString('base64url');
  const tokens = [{ tokenId: OLD_ID, secretHash: crypto.createHash('sha256').update(secret).digest('base64'), username: ADMIN.username, name: 'old laptop', createdAt: '2026-01-02T03:04:05.000Z' }];
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'users.json'), JSON.stringify(users));
  fs.writeFileSync(path.join(dir, 'tokens.json'), JSON.stringify(tokens));
  return `sas_${OLD_ID}.${secret}`;
}

let oldToken;
before(async () => {
  browser = await launchBrowser();
  d = await startDaemon({
    prepare: ({ dir, state, env }) => {
      const from = path.join(dir, 'old');
      oldToken = oldInstall(from);
      execFileSync(BIN, ['--state-dir', state, 'import', 'llmux-0.41', '--from', from, '--config-to', path.join(dir, 'c.yaml')], { env });
    },
  });
});
after(async () => { await browser?.close(); await d?.stop(); });

for (const vp of Object.keys(VIEWPORTS)) {
  test(`an imported account signs in and its old token is marked imported (${vp})`, async (t) => {
    const { context, page } = await openPage(browser, vp, d, { login: ADMIN });
    t.after(() => context.close());
    await page.goto('/');
    await menu(page, 'nav-tokens');
    await page.waitForURL((u) => u.pathname === '/tokens');
    const row = page.locator(`[data-testid=token-row][data-id="sas_${OLD_ID}"]`);
    await row.waitFor();
    // (The marker rides on the scope badge: the page's byte budget has no room for more.)
    const badge = row.locator('.badge').first();
    assert.equal(await badge.textContent(), 'admin · imported');
    assert.ok(await badge.isVisible());
    const plain = await (await fetch(`${d.url}/api/tokens`, { headers: { Authorization: `Bearer ${oldToken}` } })).json();
    assert.equal(plain.tokens[0].importedFrom, 'llmux 0.41');
    await row.scrollIntoViewIfNeeded();
    await screenshot(page, 'token-imported', vp);
    // the old token still works as it is
    const res = await fetch(`${d.url}/api/tokens`, { headers: { Authorization: `Bearer ${oldToken}` } });
    assert.equal(res.status, 200);
  });
}
