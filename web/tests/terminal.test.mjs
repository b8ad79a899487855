// Flows 2–5: spawn the fake agent from the form, type into its terminal and see the echo, send
// Ctrl-C from the toolbar, rotate/resize and check the agent sees the new size.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withAdminDaemon, openPage, screenshot, waitForTerm, termText, ADMIN, VIEWPORTS } from './harness.mjs';

let browser;
let d;
withAdminDaemon((b, daemon) => { browser = b; d = daemon; });

/** The terminal's size and the last `SIZE CxR` line the fake agent printed. */
const sizes = (page) => page.evaluate(() => {
  const t = window.__llmuxTerm;
  const b = t.buffer.active;
  let last = null;
  for (let i = 0; i < b.length; i++) {
    const m = /SIZE (\d+)x(\d+)/.exec(b.getLine(i)?.translateToString(true) || '');
    if (m) last = `${m[1]}x${m[2]}`;
  }
  return { term: `${t.cols}x${t.rows}`, cols: t.cols, rows: t.rows, agent: last };
});

/** Waits until the last `SIZE CxR` the agent printed is the terminal's size; returns sizes(). */
async function agentSeesTermSize(page) {
  try {
    await page.waitForFunction(() => {
      const t = window.__llmuxTerm;
      const b = t.buffer.active;
      let last = null;
      for (let i = 0; i < b.length; i++) {
        const m = /SIZE (\d+x\d+)/.exec(b.getLine(i)?.translateToString(true) || '');
        if (m) last = m[1];
      }
      return last === `${t.cols}x${t.rows}`;
    }, null, { polling: 50 });
  } catch (e) {
    throw new Error(`the agent never reported the terminal's size: ${JSON.stringify(await sizes(page))}: ${e.message}`);
  }
  return sizes(page);
}

const ROTATED = { phone: { width: 915, height: 412 }, desktop: { width: 1280, height: 720 } };

for (const vp of Object.keys(VIEWPORTS)) {
  test(`spawn from the form, type, Ctrl-C, resize (${vp})`, async (t) => {
    const { context, page, guard } = await openPage(browser, vp, d, { login: ADMIN });
    t.after(() => context.close());
    const name = `web-${vp}`;

    // 2. The form: agent, name, working directory → the new session's terminal.
    await page.goto('/');
    await page.locator('[data-testid=empty-state]:visible, [data-testid=session-row]').first().waitFor();
    await page.getByTestId('new-session').click();
    await page.waitForURL((u) => u.pathname === '/new');
    await page.getByTestId('agent-picker').selectOption('fake');
    await page.getByTestId('field-name').fill(name);
    await page.getByTestId('field-cwd').fill(d.work);
    await page.getByTestId('form-submit').click();
    await page.waitForURL((u) => u.pathname === `/s/${name}`);
    await page.locator('[data-testid=status-dot][data-state=live]').waitFor();
    // The agent's long first line can be re-wrapped by tmux when the phone's narrower client
    // attaches, so look for a short line on screen and check the session itself on the server.
    await waitForTerm(page, 'ENV FAKE_VAR=');
    const made = await (await page.request.get(`${d.url}/api/sessions/${name}`)).json();
    assert.equal(made.agent, 'fake');
    assert.equal(made.cwd, d.work);
    assert.equal(made.status, 'running');
    await screenshot(page, 'spawn', vp);

    // 3. Type into the terminal: the agent echoes and reports the prompt.
    await page.getByTestId('terminal').click();
    await page.keyboard.type('hello');
    await page.keyboard.press('Enter');
    await waitForTerm(page, 'PROMPT[1]: hello');
    await screenshot(page, 'terminal', vp);

    // 4. Ctrl-C from the toolbar interrupts what was typed; the next prompt starts afresh.
    await page.keyboard.type('discard me');
    await waitForTerm(page, 'discard me');
    await page.getByTestId('key-ctrlc').click();
    await waitForTerm(page, '^C');
    await page.keyboard.type('after');
    await page.keyboard.press('Enter');
    await waitForTerm(page, 'PROMPT[2]: after');
    assert.ok(!(await termText(page)).includes('PROMPT[2]: discard me'), 'Ctrl-C cleared the typed line');
    await screenshot(page, 'ctrlc', vp);

    // 5. Rotate (phone) or resize (desktop): the agent gets SIGWINCH with the terminal's new size.
    const before = await agentSeesTermSize(page);
    await page.setViewportSize(ROTATED[vp]);
    await page.waitForFunction((old) => window.__llmuxTerm.cols !== old, before.cols);
    const now = await agentSeesTermSize(page);
    assert.notEqual(now.term, before.term, 'the terminal changed size');
    console.log(`${vp}: terminal ${before.term} → ${now.term}; the agent saw SIZE ${now.agent}`);
    await screenshot(page, 'resize', vp);
    guard.check();
  });
}
