// The hosts page (issue 17), at phone size: an admin adds a second daemon by URL with a hub
// token minted there and labels, sees it up with its version and sessions, tests it, maps its
// users, sees its session in the hub's list as host:name, and removes it; a wrong token shows
// the host down with the host's refusal; a non-admin gets no hosts page. A session is started
// on a host from the new-session form, and a host that goes away shows its sessions as
// unreachable; a non-admin the host maps is offered it too.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, launchBrowser, openPage, screenshot, until, ADMIN } from './harness.mjs';

let browser;
let hub;
let host;
before(async () => {
  [browser, hub, host] = await Promise.all([launchBrowser(), startDaemon({ admin: true }), startDaemon({ admin: true })]);
  await host.cliOk(['session', 'start', 'fake', '--name', 'far', '--cwd', host.work]);
  await hub.cliOk(['user', 'create', 'bob', '--passphrase', 'bob-passphrase-long']);
});
after(async () => {
  await browser?.close();
  await Promise.all([hub?.stop(), host?.stop()]);
});

test('an admin adds, tests and removes a host; its session shows on the hub (phone)', async () => {
  const minted = JSON.parse(await host.cliOk(['--json', 'token', 'create', '--user', ADMIN.username, '--name', 'hub', '--scope', 'hub']));
  const { context, page, guard } = await openPage(browser, 'phone', hub, { login: ADMIN });
  try {
    await page.goto('/admin/hosts');
    await page.getByText('No hosts yet').waitFor();

    // A wrong token: the host is kept but shown down, with the host's refusal.
    await page.getByTestId('host-name').fill('box');
    await page.getByTestId('host-url').fill(host.url);
    await page.getByTestId('host-token').fill('llmux_nope_nope');
    await page.getByTestId('host-add').click();
    const bad = page.locator('[data-testid=host-row][data-name=box]');
    await bad.waitFor();
    await until(async () => {
      await page.getByTestId('hosts-refresh').click();
      return (await bad.getByTestId('host-status').textContent()) === 'down';
    }, { what: 'the host down with a wrong token', timeout: 15000 });
    const why = await bad.textContent();
    assert.match(why, /401|credential|token|sign/i, why);
    await bad.getByTestId('host-remove').click();
    await page.getByRole('button', { name: 'Remove' }).last().click();
    await page.getByText('No hosts yet').waitFor();

    await page.getByTestId('host-name').fill('box');
    await page.getByTestId('host-url').fill(host.url);
    // The real token: the host comes up with its version and its session.
    await page.getByTestId('host-token').fill(minted.value);
    await page.getByTestId('host-labels').fill('gpu, fast-disk');
    await page.getByTestId('host-add').click();
    const row = page.locator('[data-testid=host-row][data-name=box]');
    await row.waitFor();
    await until(async () => {
      await page.getByTestId('hosts-refresh').click();
      return (await row.getByTestId('host-status').textContent()) === 'up' && /1 session/.test(await row.textContent());
    }, { what: 'the host up with its session', timeout: 15000 });
    assert.match(await row.textContent(), /llmux \d/);
    assert.match(await row.textContent(), /labels fast-disk, gpu/);
    assert.equal(await row.getByTestId('host-upgrade').count(), 0, 'only SSH hosts are upgraded from here');
    assert.ok(!(await page.content()).includes(minted.value), 'the token is never shown');
    await screenshot(page, 'hosts', 'phone');

    await row.getByTestId('host-test').click();
    await page.getByText(/box answered in \d+ ms/).waitFor();

    // Its user mapping: bob by his own name, and everyone by the same name.
    await row.getByTestId('host-users').click();
    await page.getByTestId('host-users-input').fill('bob, *');
    await page.getByTestId('host-users-ok').click();
    await until(async () => /users: same names, bob→bob/.test(await row.textContent()),
      { what: 'the mapping shown', timeout: 10000 });
    const listed = JSON.parse(await hub.cliOk(['--json', 'host', 'list']));
    assert.deepEqual(listed[0].users, { sameNames: true, map: { bob: 'bob' } });

    // The hub's list has the remote session as host:name.
    await page.goto('/');
    await page.locator('[data-testid=session-row]', { hasText: 'box:far' }).waitFor();

    await page.goto('/admin/hosts');
    await page.locator('[data-testid=host-row][data-name=box]').getByTestId('host-remove').click();
    await page.getByRole('button', { name: 'Remove' }).last().click();
    await page.getByText('No hosts yet').waitFor();
    guard.check();
  } finally {
    await context.close();
  }
});

test('a non-admin has no hosts page', async () => {
  const { context, page } = await openPage(browser, 'phone', hub, { login: { username: 'bob', passphrase: 'bob-passphrase-long' } });
  try {
    await page.goto('/admin/hosts');
    await page.getByText('This page is for admins only.').waitFor();
    assert.equal(await page.getByTestId('host-add').count(), 0);
  } finally {
    await context.close();
  }
});

test('a session started on a host from the form; a host gone shows its sessions unreachable (phone)', async () => {
  const minted = JSON.parse(await host.cliOk(['--json', 'token', 'create', '--user', ADMIN.username, '--name', 'hub2', '--scope', 'hub']));
  await hub.cliOk(['host', 'add', 'box', '--url', host.url, '--host-token', minted.value]);
  const { context, page, guard } = await openPage(browser, 'phone', hub, { login: ADMIN });
  try {
    await page.goto('/new');
    // The form offers this machine and the host.
    await page.getByTestId('field-host').waitFor();
    const choices = await page.getByTestId('field-host').locator('option').allTextContents();
    assert.deepEqual(choices, ['This machine', 'box']);
    await page.getByTestId('agent-picker').selectOption('fake');
    await page.getByTestId('field-host').selectOption('box');
    await page.getByTestId('field-name').fill('near');
    await page.getByTestId('field-cwd').fill(host.work);
    await page.getByTestId('form-submit').click();
    await page.waitForURL(/\/s\/box(:|%3A)near$/);
    assert.match(await host.cliOk(['session', 'list']), /\bnear\b/, 'the session runs on the host');

    // A non-admin the host's mapping names gets the Host field too (whoami lists the host).
    await hub.cliOk(['host', 'edit', 'box', '--map-user', 'bob']);
    const bob = await openPage(browser, 'phone', hub, { login: { username: 'bob', passphrase: 'bob-passphrase-long' } });
    try {
      await bob.page.goto('/new');
      await bob.page.getByTestId('field-host').waitFor();
      assert.deepEqual(await bob.page.getByTestId('field-host').locator('option').allTextContents(), ['This machine', 'box']);
    } finally {
      await bob.context.close();
    }

    // The host goes away: its sessions stay listed, as unreachable, never as exited.
    await page.goto('/');
    const far = page.locator('[data-testid=session-row][data-name="box:far"]');
    await far.waitFor();
    await host.stop();
    await until(async () => (await far.getByTestId('session-state').getAttribute('data-state')) === 'unreachable', { what: 'box:far unreachable', timeout: 15000 });
    assert.match(await far.getByTestId('session-state').getAttribute('title'), /box cannot be reached/);
    await page.getByTestId('filter').fill('box');
    await until(async () => (await page.locator('[data-testid=session-row]:not([hidden])').count()) === 2, { what: 'the filter by host' });
    await screenshot(page, 'host-unreachable', 'phone');
    guard.check();
  } finally {
    await context.close();
  }
});
