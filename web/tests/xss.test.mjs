// The payload `</script><img src=x onerror=alert(1)>` as a display name, a token name, agent
// output and a filter never runs (no window dialog, no error, no request for its image, no <img>
// made from it); as a session name it is refused with a field error. An agent's reply in its
// transcript, rendered from markdown on the server, keeps none of the agent's own markup.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { withAdminDaemon, openPage, screenshot, openTerminal, waitForTerm, startFakeSessions, menu, pageFetch, until, ADMIN, XSS, VIEWPORTS } from './harness.mjs';

let browser;
let d;
withAdminDaemon((b, daemon) => { browser = b; d = daemon; });

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

/** An agent's reply: script, handlers, javascript: and relative links, raw HTML blocks, an image. */
const ATTACK = [
  '# Report', '', XSS, '', '<script>alert("script")</script>', '',
  '<img src=x onerror=alert("img")>', '',
  '[click me](javascript:alert("link")) [home](/api/tokens) [docs](https://example.com/ok)', '',
  '<div onmouseover="alert(\'div\')" style="position:fixed;inset:0">raw <b>block</b></div>', '',
  'inline <a href="javascript:alert(\'raw\')">raw link</a> <iframe src="javascript:alert(\'frame\')"></iframe>', '',
  '![pixel](x) ![remote](https://example.com/pixel.png)', '',
  '<svg><script>alert("svg")</script></svg>', '',
  '<details open ontoggle=alert("toggle")>x</details>', '',
].join('\n');

for (const vp of Object.keys(VIEWPORTS)) {
  test(`an agent's markup in its transcript never runs or survives (${vp})`, async (t) => {
    const name = `md-${vp}`;
    const home = path.join(d.dir, `mdhome-${vp}`);
    const cwd = path.join(d.work, name);
    fs.mkdirSync(cwd, { recursive: true });
    const id = vp === 'phone' ? '22222222-2222-4333-8444-555555555555' : '22222222-2222-4333-8444-666666666666';
    const chats = path.join(home, '.qwen/projects', cwd.replace(/[^A-Za-z0-9]/g, '-'), 'chats');
    fs.mkdirSync(chats, { recursive: true });
    const ts = new Date().toISOString();
    const line = (n, type, role, text, parent) => JSON.stringify({ uuid: `u${n}`, parentUuid: parent, sessionId: id, timestamp: ts, type, cwd, version: '0.15.10', message: { role, parts: [{ text }] } });
    fs.writeFileSync(path.join(chats, `${id}.jsonl`), `${line(1, 'user', 'user', 'report', null)}\n${line(2, 'assistant', 'model', ATTACK, 'u1')}\n`);

    const { context, page, guard } = await openPage(browser, vp, d, { login: ADMIN });
    t.after(() => context.close());
    // Anything fetched from the reply is a leak (images, frames): record every request.
    const fetched = [];
    page.on('request', (r) => { if (!r.url().startsWith(d.url) || new URL(r.url()).pathname === '/x') fetched.push(r.url()); });
    await page.goto('/');
    const r = await pageFetch(page, '/api/sessions', { method: 'POST', body: { agent: 'qwen', name, cwd, env: { HOME: home }, resumeFrom: id } });
    assert.ok(r.status === 200 || r.status === 201, JSON.stringify(r.data));
    await page.goto(`/c/${name}`);
    const md = page.locator('[data-testid=chat-turn][data-role=assistant] .md');
    await md.waitFor();
    // Rendered (a heading) and the payloads shown as the text they are.
    assert.equal(await md.locator('h1').textContent(), 'Report');
    const text = await md.textContent();
    for (const shown of [XSS, '<script>alert("script")</script>', '<img src=x onerror=alert("img")>', '<iframe src=']) {
      assert.ok(text.includes(shown), `shown as text: ${shown}`);
    }
    // Nothing of the agent's markup is an element: only the renderer's own tags, no handler,
    // no style, no link but https, and every link opens a new tab without a referrer.
    const report = await md.evaluate((root) => {
      const els = [...root.querySelectorAll('*')];
      return {
        tags: [...new Set(els.map((e) => e.localName))].sort(),
        attrs: [...new Set(els.flatMap((e) => [...e.attributes].map((a) => `${e.localName}[${a.name}]`)))].sort(),
        links: [...root.querySelectorAll('a')].map((a) => ({ href: a.getAttribute('href'), target: a.target, rel: a.rel, text: a.textContent })),
      };
    });
    assert.deepEqual(report.tags, ['a', 'h1', 'p'], JSON.stringify(report));
    assert.deepEqual(report.attrs, ['a[href]', 'a[rel]', 'a[target]'], JSON.stringify(report));
    assert.deepEqual(report.links.map((l) => [l.text, l.href]), [
      ['click me', null], ['home', null], ['docs', 'https://example.com/ok'], ['pixel', null], ['remote', 'https://example.com/pixel.png'],
    ]);
    for (const l of report.links) {
      assert.equal(l.target, '_blank');
      assert.equal(l.rel, 'noopener noreferrer nofollow');
    }
    await inert(page, 'chat page');
    assert.equal(await page.locator('main iframe, main svg script, main details[ontoggle]').count(), 0);
    // Clicking the neutered link and hovering the raw block do nothing.
    await md.getByText('click me').click();
    await md.getByText('raw <b>block</b>', { exact: false }).hover();
    await until(async () => (await page.evaluate(() => document.readyState)) === 'complete', { what: 'page settled' });
    assert.equal(new URL(page.url()).pathname, `/c/${name}`, 'still on the chat page');
    assert.deepEqual(fetched, [], 'nothing fetched from the reply');
    await screenshot(page, 'xss-markdown', vp);
    guard.check();
  });
}
