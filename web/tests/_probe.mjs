import { startDaemon, launchBrowser, openPage, startFakeSessions, ADMIN } from './harness.mjs';
const N = 100;
const [browser, d] = await Promise.all([launchBrowser(), startDaemon({ admin: true })]);
try {
  await startFakeSessions(d, Array.from({ length: N }, (_, i) => `s-${String(i + 1).padStart(3, '0')}`));
  for (const vp of (process.env.VPS || 'phone,desktop').split(',')) {
    const { context, page } = await openPage(browser, vp, d, { login: ADMIN });
    await context.addInitScript((n) => {
      window.__perf = { long: [] };
      new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__perf.long.push(`${Math.round(e.startTime)}+${Math.round(e.duration)}`); }).observe({ type: 'longtask', buffered: true });
      new MutationObserver((_, mo) => {
        if (document.querySelectorAll('[data-testid=session-row]').length >= n) { window.__perf.rows = performance.now(); mo.disconnect(); }
      }).observe(document, { childList: true, subtree: true });
    }, N);
    for (const label of ['first', 'reload', 'reload2']) {
      await page.goto('/', { waitUntil: 'commit' });
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid=session-row]').length >= n, N, { polling: 'raf' });
      await page.waitForTimeout(300);
      const p = await page.evaluate(() => {
        const r = performance.getEntriesByType('resource').map((e) => `${new URL(e.name).pathname} ${Math.round(e.startTime)}-${Math.round(e.responseEnd)}${e.workerStart ? ' sw' + Math.round(e.workerStart) : ''}`);
        const nav = performance.getEntriesByType('navigation')[0];
        const paint = performance.getEntriesByType('paint').map((e) => `${e.name} ${Math.round(e.startTime)}`);
        return { nav: `resp ${Math.round(nav.responseStart)}-${Math.round(nav.responseEnd)} worker ${Math.round(nav.workerStart)} dcl ${Math.round(nav.domContentLoadedEventEnd)} load ${Math.round(nav.loadEventEnd)}`, r, paint, marks: performance.getEntriesByType('mark').map((m) => `${m.name} ${Math.round(m.startTime)}`), ...window.__perf };
      });
      console.log(vp, label, JSON.stringify(p, null, 0));
    }
    await context.close();
  }
} finally { await browser.close(); await d.stop(); }
