// Sessions of the local operator (started with the CLI over the Unix socket, owner "") notify
// every admin as if the admin owned them: an admin signed in in the browser gets the toast and
// the "(N)" title count when one goes `waiting` (issue 13, CLI item 3). Before, the page kept
// only events of the signed-in user's own sessions and dropped the operator's.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withAdminDaemon, openPage, screenshot, ADMIN, VIEWPORTS } from './harness.mjs';

let browser;
let d;
withAdminDaemon((b, daemon) => { browser = b; d = daemon; });

for (const vp of Object.keys(VIEWPORTS)) {
  test(`an operator session going waiting: toast and title count for the admin (${vp})`, async (t) => {
    const name = `op-${vp}`;
    const { context, page } = await openPage(browser, vp, d, { login: ADMIN });
    t.after(() => context.close());
    await page.goto('/');
    await page.getByTestId('new-session').waitFor();
    const row = `[data-testid=session-row][data-name="${name}"]`;

    // Started on the box; the admin's list shows it by its bare name, nothing waiting yet.
    await d.cliOk(['session', 'start', 'fakeq', '--name', name, '--cwd', d.work]);
    await page.waitForFunction((s) => document.querySelector(s)?.dataset.state === 'idle',
      `${row} [data-testid=session-state]`, { timeout: 15000, polling: 50 });
    assert.doesNotMatch(await page.title(), /^\(\d+\) /);

    // The operator's prompt asks a permission question: a toast naming it and "(1)" in the title.
    await d.cliOk(['session', 'prompt', name, 'please run `touch op.txt`']);
    const toast = page.locator(`[data-testid=state-toast][data-name="${name}"][data-state=waiting]`);
    await toast.waitFor({ timeout: 15000 });
    assert.match(await toast.textContent(), new RegExp(`${name} needs you: .*touch`));
    assert.equal(await toast.locator('a').getAttribute('href'), `/c/${name}`);
    await page.waitForFunction(() => document.title.startsWith('(1) '), null, { polling: 50 });
    await screenshot(page, 'operator-waiting', vp);

    // Answered from the box: the title count goes.
    await d.cliOk(['session', 'answer', name, '1']);
    await page.waitForFunction(() => !/^\(\d+\) /.test(document.title), null, { timeout: 15000, polling: 50 });
  });
}
