// Issue 18: the review page, phone first: the files with their counts, a unified diff per file,
// word-level marks on changed lines, context that expands, generated files collapsed until
// asked for; measured on a 5,000-line diff at phone and desktop sizes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { withAdminDaemon, openPage, screenshot, until, ADMIN } from './harness.mjs';

let browser;
let d;
withAdminDaemon((b, daemon) => { browser = b; d = daemon; });

const git = (cwd, ...args) => execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@e', '-c', 'init.defaultBranch=main', ...args], {
  cwd, env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' }, stdio: ['ignore', 'pipe', 'pipe'],
}).toString();

/** A repository whose `feature` branch changes 5,000 diff lines (and more kinds of change). */
function bigRepo(name) {
  const dir = path.join(d.work, name);
  fs.mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  const lines = (n, f) => Array.from({ length: n }, (_, i) => f(i)).join('\n') + '\n';
  for (const f of ['a.js', 'b.js']) fs.writeFileSync(path.join(dir, f), lines(2000, (i) => `const value${i} = compute(${i}, "x");`));
  fs.writeFileSync(path.join(dir, 'package-lock.json'), lines(50, (i) => `"dep${i}": "1.0.${i}",`));
  fs.writeFileSync(path.join(dir, 'small.txt'), lines(40, (i) => `line ${i}`));
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'base');
  git(dir, 'checkout', '-qb', 'feature');
  // every 4th line of a.js and b.js changed by one word: 500 deletions + 500 additions each,
  // with their context: about 5,000 lines in all
  for (const f of ['a.js', 'b.js']) fs.writeFileSync(path.join(dir, f), lines(2000, (i) => (i % 4 === 0 ? `const value${i} = recompute(${i}, "x");` : `const value${i} = compute(${i}, "x");`)));
  fs.writeFileSync(path.join(dir, 'package-lock.json'), lines(50, (i) => `"dep${i}": "2.0.${i}",`));
  fs.writeFileSync(path.join(dir, 'small.txt'), lines(40, (i) => (i === 30 ? 'line thirty changed' : `line ${i}`)));
  fs.writeFileSync(path.join(dir, 'notes <b>.md'), '# New\n<script>alert(1)</script>\n');
  return dir;
}

for (const vp of ['phone', 'desktop']) {
  test(`review page on a 5,000-line diff (${vp})`, async (t) => {
    const name = `rev-${vp}`;
    const dir = bigRepo(name);
    await d.cliOk(['session', 'start', 'fake', '--name', name, '--cwd', dir]);
    const { context, page, guard } = await openPage(browser, vp, d, { login: ADMIN });
    t.after(() => context.close());

    // reached from the session's ⋯ menu
    await page.goto('/');
    const row = page.locator(`[data-testid=session-row][data-name="${name}"]`);
    await row.getByTestId('session-menu').click();
    await page.getByTestId('session-review').click();
    await page.waitForURL(`**/r/${name}`);
    const root = page.getByTestId('review-page');
    // the phone at a quarter of this machine's CPU, as a mid-range phone is
    const cdp = await context.newCDPSession(page);
    if (vp === 'phone') await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
    await until(() => root.getAttribute('data-loaded'), { what: 'the diff to load' });
    await until(() => root.getAttribute('data-fill-ms'), { what: 'the first rows' });
    const fetchMs = Number(await root.getAttribute('data-fetch-ms'));
    const renderMs = Number(await root.getAttribute('data-render-ms'));
    const firstFill = Number(await root.getAttribute('data-fill-ms'));
    const firstRows = Number(await root.getAttribute('data-rows'));

    const links = page.getByTestId('review-file-link');
    assert.equal(await links.count(), 5);
    const summary = await page.getByTestId('review-summary').textContent();
    assert.match(summary, /5 files changed, \+1053 −1051 against main on feature/);
    // every row built (as scrolling through the whole diff would), then a scroll to the end,
    // timed in the page
    const all = await page.evaluate(async () => {
      const t0 = performance.now();
      for (const b of document.querySelectorAll('[data-testid=review-file-link]')) b.click();
      const built = performance.now();
      window.scrollTo(0, document.body.scrollHeight);
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      return { build: Math.round(built - t0), scroll: Math.round(performance.now() - built) };
    });
    const rows = await page.locator('.rv-l').count();
    assert.ok(rows >= 5000, `${rows} rows`);
    const fillMs = Number(await root.getAttribute('data-fill-ms'));
    await until(() => root.getAttribute('data-highlighted'), { timeout: 30000, what: 'the highlighting' });
    const highlightMs = Number(await root.getAttribute('data-highlight-ms'));
    // syntax highlighting (highlight.js): JavaScript keywords and strings are marked
    assert.ok(await page.locator('[data-path="a.js"] .rv-l .hljs-keyword').count() > 1000, 'const is a keyword');
    assert.ok(await page.locator('[data-path="a.js"] .rv-l .hljs-string').count() > 1000, '"x" is a string');
    const figures = `${vp}${vp === 'phone' ? ' (CPU ×4 slower)' : ''}: ${rows} diff rows; fetch+parse ${fetchMs} ms, list ${renderMs} ms, first ${firstRows} rows ${firstFill} ms; every row built ${fillMs} ms (the click pass ${all.build} ms), then highlighted in slices: ${highlightMs} ms, scroll to the end ${all.scroll} ms`;
    t.diagnostic(figures);
    console.log(`review page ${figures}`);
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 });
    await page.evaluate(() => window.scrollTo(0, 0));

    // word-level: only the changed word is marked
    const marks = await page.locator('[data-path="a.js"] .rv-l.a mark').first().textContent();
    assert.equal(marks, 'recompute');
    // the file's name and content are text, never markup
    const note = page.locator('[data-testid=review-file][data-path="notes <b>.md"]');
    assert.match(await note.locator('.rv-code').textContent(), /<script>alert\(1\)<\/script>/);
    // the lock file is collapsed until asked for
    const lock = page.locator('[data-testid=review-file][data-path="package-lock.json"]');
    assert.match(await lock.getByTestId('review-collapsed').textContent(), /Generated file: \+50 −50/);
    await lock.getByTestId('review-show-file').click();
    await until(async () => (await lock.locator('.rv-l').count()) === 100, { what: 'the lock file shown' });
    // context expands: small.txt shows lines 28..34 first, the whole file after a tap
    const small = page.locator('[data-testid=review-file][data-path="small.txt"]');
    const before = await small.locator('.rv-l').count();
    await small.getByTestId('review-expand').first().click();
    await until(async () => (await small.locator('.rv-l').count()) === 41, { what: `the whole small.txt (had ${before})` });
    assert.equal(await small.getByTestId('review-expand').count(), 0);

    // a comment on a range: tap one line number, then another; then send it to the agent
    await small.locator('.rv-l[data-n="30"] .n').last().click();
    await small.locator('.rv-l[data-n="32"] .n').last().click();
    assert.equal(await small.locator('.rv-l.sel').count(), 3, 'lines 30–32 of the new side selected');
    await page.getByTestId('review-comment-text').fill('Say why this line changed.');
    await page.getByTestId('review-comment-save').click();
    const comment = page.getByTestId('review-comment');
    await until(async () => (await comment.count()) === 1, { what: 'the comment listed' });
    assert.match(await comment.textContent(), /small\.txt, lines 30–32 · admin · not sent yet/);
    await screenshot(page, 'review-comment', vp);
    await page.getByTestId('review-send').click();
    await until(async () => /sent, open/.test(await comment.textContent()), { what: 'the comment marked sent' });
    const screen = await until(async () => {
      const r = await page.evaluate((n) => fetch(`/api/sessions/${n}/capture?lines=200`).then((x) => x.json()), name);
      const text = r.text.replace(/\n/g, '');
      return text.includes('Say why this line changed.') && text;
    }, { what: 'the comments in the agent' });
    assert.match(screen, /PROMPT\[1\]: Review comments on your changes \(1\)/);
    assert.ok(!screen.includes('PROMPT[2]'), screen);
    await comment.getByTestId('review-comment-resolve').click();
    await until(async () => (await comment.getAttribute('data-status')) === 'resolved', { what: 'resolved' });

    await page.getByTestId('review-file-link').first().click();
    await page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(page, 'review', vp);
    // a range that has nothing
    await page.getByTestId('review-range').selectOption('staged');
    await until(async () => /No changes/.test(await page.getByTestId('review-summary').textContent()), { what: 'the staged range' });
    assert.match(page.url(), /\?range=staged$/);
    guard.check();
  });
}
