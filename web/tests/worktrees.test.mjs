// Worktrees (issue 18) in the web UI: the new-session form's "Git worktree" field starts a
// session in a new worktree of the repository; the list shows its branch; removing it with
// uncommitted changes asks what becomes of the branch (keep it here), and nothing goes unasked;
// an existing session moves into one from its edit form.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { withAdminDaemon, openPage, screenshot, ADMIN, VIEWPORTS } from './harness.mjs';

let browser;
let d;
withAdminDaemon((b, daemon) => { browser = b; d = daemon; });

const git = (cwd, ...args) => execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@example.com', ...args], { cwd, encoding: 'utf8' }).trim();

function repo(dir) {
  fs.mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(dir, 'README'), 'one\n');
  git(dir, 'add', 'README');
  git(dir, 'commit', '-qm', 'one');
  return dir;
}

for (const vp of Object.keys(VIEWPORTS)) {
  test(`start in a worktree from the form, see its branch, remove it keeping the branch (${vp})`, async (t) => {
    const { context, page } = await openPage(browser, vp, d, { login: ADMIN });
    t.after(() => context.close());
    const dir = repo(path.join(d.work, `repo-${vp}`));
    const name = `wt-${vp}`;

    await page.goto('/new');
    await page.getByTestId('agent-picker').selectOption('fake');
    await page.getByTestId('field-name').fill(name);
    await page.getByTestId('field-cwd').fill(dir);
    await page.getByTestId('field-worktree').fill(`b-${vp}`);
    await page.getByTestId('form-submit').click();
    await page.waitForURL((u) => u.pathname === `/s/${name}`);
    const made = await (await page.request.get(`${d.url}/api/sessions/${name}`)).json();
    assert.equal(made.worktree.branch, `b-${vp}`);
    assert.equal(made.worktree.base, 'main');
    assert.equal(made.cwd, made.worktree.path);
    assert.ok(made.cwd.startsWith(path.join(dir, '.worktrees/')), made.cwd);

    // The list: repository and branch where the cwd was; dirty shows once read.
    fs.writeFileSync(path.join(made.cwd, 'work.txt'), 'precious');
    await page.goto('/');
    const row = page.locator(`[data-testid=session-row][data-name="${name}"]`);
    await row.waitFor();
    await page.waitForFunction((n) => /⎇ b-\S+ \+0 −0 ●/.test(document.querySelector(`[data-testid=session-row][data-name="${n}"]`)?.textContent || ''), name, { polling: 100, timeout: 20000 });
    await screenshot(page, 'worktree-row', vp);
    // On a phone too, where the folder column is hidden, the branch shows beside the state.
    const place = row.getByTestId('session-cwd');
    assert.ok(await place.isVisible(), 'the branch is on screen');
    assert.match(await place.innerText(), new RegExp(`⎇ b-${vp} \\+0 −0 ●`));
    assert.ok(await place.evaluate((e) => e.lastChild.scrollWidth <= e.lastChild.clientWidth), 'the branch is not cut');

    // Remove: confirmed, refused by the daemon (uncommitted changes), then the branch choice.
    await row.getByTestId('session-menu').click();
    await page.getByTestId('session-menu-dialog').getByTestId('session-kill').click();
    await page.getByTestId('confirm-ok').click();
    const text = page.getByTestId('confirm-text');
    await page.waitForFunction(() => /uncommitted changes/.test(document.querySelector('[data-testid=confirm-text]')?.textContent || ''));
    assert.match(await text.textContent(), /keep its branch/);
    await screenshot(page, 'worktree-remove-choice', vp);
    await page.getByTestId('confirm-ok').click();
    await row.waitFor({ state: 'detached' });
    assert.ok(!fs.existsSync(made.cwd), 'the worktree is gone');
    assert.ok(git(dir, 'branch', '--format=%(refname:short)').split('\n').includes(`b-${vp}`), 'the branch is kept');
  });
}

test('an existing session moves into a new worktree from its edit form (phone)', async (t) => {
  const { context, page } = await openPage(browser, 'phone', d, { login: ADMIN });
  t.after(() => context.close());
  const dir = repo(path.join(d.work, 'repo-edit'));
  const name = 'wt-edit';
  await d.cliOk(['session', 'start', 'fake', '--name', name, '--cwd', dir]);

  await page.goto(`/edit/${name}`);
  await page.getByTestId('field-worktree').fill('later');
  await page.getByTestId('field-init').fill('hello');
  await page.getByTestId('form-submit').click();
  await page.waitForURL((u) => u.pathname === '/');
  const s = await (await page.request.get(`${d.url}/api/sessions/${name}`)).json();
  assert.equal(s.worktree?.branch, 'later', JSON.stringify(s));
  assert.equal(s.cwd, path.join(dir, '.worktrees', name));
  assert.deepEqual(s.initPrompts, ['hello'], 'the other change went first, on its own');

  // a session with a worktree has no such field
  await page.goto(`/edit/${name}`);
  await page.getByTestId('field-name').waitFor();
  assert.equal(await page.getByTestId('field-worktree').count(), 0);
});
