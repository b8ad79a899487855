// Files and voice from a phone (issue 19): the chat composer's picker and a pasted image land
// in the session's .llmux/uploads/ and are named in the prompt being written; a refused type
// says why; the terminal page types an uploaded file's name at the cursor; the microphone
// button is there only where the browser has speech recognition, and dictated words land in
// the composer to edit.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startDaemon, launchBrowser, openPage, openTerminal, waitForTerm, screenshot, startFakeSessions, until, ADMIN } from './harness.mjs';

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

let browser;
let d;
before(async () => {
  [browser, d] = await Promise.all([launchBrowser(), startDaemon({ admin: true })]);
  await startFakeSessions(d, ['pics', 'term']);
});
after(async () => {
  await browser?.close();
  await d?.stop();
});

const uploaded = (name) => path.join(d.work, '.llmux', 'uploads', name);

test('chat composer: picker and paste upload, the names go into the prompt (phone)', async () => {
  const { context, page, guard } = await openPage(browser, 'phone', d, { login: ADMIN });
  try {
    await page.goto('/c/pics');
    const input = page.getByTestId('chat-input');
    await input.waitFor();

    // The picker (a phone offers its camera here too).
    await page.getByTestId('upload-input').setInputFiles({ name: 'shot.png', mimeType: 'image/png', buffer: PNG });
    await until(async () => (await input.inputValue()).includes('.llmux/uploads/shot.png'), { what: 'the picked file named in the composer' });
    assert.deepEqual(fs.readFileSync(uploaded('shot.png')), PNG);

    // A pasted image (a screenshot from the clipboard) goes the same way; text is kept.
    await input.fill('compare with');
    await input.evaluate((el, bytes) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], 'image.png', { type: 'image/png' }));
      el.setSelectionRange(el.value.length, el.value.length);
      el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    }, [...PNG]);
    await until(async () => (await input.inputValue()) === 'compare with .llmux/uploads/image.png ', { what: 'the pasted image named after the text' });
    assert.ok(fs.existsSync(uploaded('image.png')));
    await screenshot(page, 'uploads-chat', 'phone');

    // Sent as one prompt: the agent gets the text and the name.
    await input.press('Enter');
    await until(() => d.cliOk(['session', 'capture', 'pics']).then((t) => t.includes('PROMPT[1]: compare with .llmux/uploads/image.png')), { what: 'the prompt in the agent' });

    // A type the daemon refuses: its words in a toast, nothing written.
    guard.allow(/status of 400/);
    await page.getByTestId('upload-input').setInputFiles({ name: 'tool.exe', mimeType: 'application/octet-stream', buffer: Buffer.from('MZ') });
    await page.getByText('.exe files are not accepted').waitFor();
    assert.ok(!fs.existsSync(uploaded('tool.exe')));
    guard.check();
  } finally {
    await context.close();
  }
});

test('terminal page: an uploaded file is typed at the cursor (phone)', async () => {
  const { context, page } = await openPage(browser, 'phone', d, { login: ADMIN });
  try {
    await openTerminal(page, 'term');
    await page.getByTestId('term-upload-input').setInputFiles({ name: 'log.txt', mimeType: 'text/plain', buffer: Buffer.from('boom\n') });
    await waitForTerm(page, '.llmux/uploads/log.txt');
    assert.equal(fs.readFileSync(uploaded('log.txt'), 'utf8'), 'boom\n');
  } finally {
    await context.close();
  }
});

test('dictation: the microphone is offered only with speech recognition; words land in the composer', async () => {
  // A stand-in for the browser's recognizer: it "hears" a sentence when started.
  const withSpeech = await openPage(browser, 'phone', d, { login: ADMIN });
  const noSpeech = await openPage(browser, 'phone', d, { login: ADMIN });
  try {
    await withSpeech.context.addInitScript(() => {
      window.SpeechRecognition = class {
        start() {
          setTimeout(() => {
            this.onresult?.({ results: [[{ transcript: 'fix the flaky test' }]] });
            this.onend?.();
          }, 10);
        }
        stop() { this.onend?.(); }
      };
    });
    await noSpeech.context.addInitScript(() => { delete window.SpeechRecognition; delete window.webkitSpeechRecognition; });
    const { page } = withSpeech;
    await page.goto('/c/pics');
    await page.getByTestId('chat-input').fill('please');
    await page.getByTestId('mic').click();
    await until(async () => (await page.getByTestId('chat-input').inputValue()) === 'please fix the flaky test ', { what: 'the dictated words in the composer' });

    await noSpeech.page.goto('/c/pics');
    await noSpeech.page.getByTestId('chat-input').waitFor();
    assert.equal(await noSpeech.page.getByTestId('mic').count(), 0, 'no microphone button without speech recognition');
  } finally {
    await withSpeech.context.close();
    await noSpeech.context.close();
  }
});
