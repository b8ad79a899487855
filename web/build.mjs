// Builds the web UI that the daemon embeds: web/static/ → <out>/ (default web/dist/), with the
// same file names and URLs. Run by crates/llmux-server/build.rs (into Cargo's OUT_DIR) when
// esbuild is installed (`npm ci --prefix web`); run by hand: `node web/build.mjs [out]`.
//
// - Every script and stylesheet that an HTML page loads from /static/ is an entry point:
//   bundled (its imports inlined, dynamic `import()`s of page modules included) and minified
//   by esbuild, written where the original was (so /static/js/app.js is still the app).
// - Every page module in pages/ is an on-demand bundle of its own: the app loads it by
//   absolute URL when its page opens, so it is not in app.js (web/static/pages/README.md).
// - HTML pages are copied with their `modulepreload` links to now-bundled modules removed.
// - The service worker (sw.js) is minified on its own (no bundling: it imports nothing).
// - Everything else (the manifest, icons, and any JS/CSS no entry reached) is copied as it is.
//
// Prints one line per output and a total; exits non-zero (with esbuild's message) on error.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.join(here, 'static');
const OUT = path.resolve(process.argv[2] || path.join(here, 'dist'));

/** Every file under dir, as paths relative to it with '/' separators. */
function walk(dir, rel = '') {
  return fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const r = rel ? `${rel}/${e.name}` : e.name;
    return e.isDirectory() ? walk(dir, r) : [r];
  });
}

const all = walk(SRC).sort();
const pages = all.filter((f) => f.endsWith('.html'));

// Entry points: `<script … src="/static/X.js">` and `<link … href="/static/X.css">` in the pages.
const entries = new Set();
for (const page of pages) {
  const html = fs.readFileSync(path.join(SRC, page), 'utf8');
  for (const m of html.matchAll(/<script\b[^>]*\bsrc="\/static\/([^"?#]+\.js)"/g)) entries.add(m[1]);
  for (const m of html.matchAll(/<link\b[^>]*\brel="stylesheet"[^>]*\bhref="\/static\/([^"?#]+\.css)"/g)) entries.add(m[1]);
}
for (const f of all) if (/^pages\/[^/]+\.js$/.test(f)) entries.add(f);
for (const e of entries) {
  if (!all.includes(e)) throw new Error(`a page loads /static/${e}, which is not in web/static/`);
}

const result = await esbuild.build({
  absWorkingDir: SRC,
  entryPoints: [...entries].map((e) => ({ in: `./${e}`, out: e.replace(/\.(js|css)$/, '') })),
  outdir: OUT,
  outbase: SRC,
  bundle: true,
  splitting: false, // one script per page: no chunk waterfall
  format: 'esm',
  minify: true,
  target: ['es2022', 'chrome111', 'firefox111', 'safari16.4'],
  charset: 'utf8',
  legalComments: 'none',
  // Absolute URLs in CSS (icons) and scripts loaded at run time (xterm.js) stay as they are.
  external: ['/static/*', '/vendor/*'],
  metafile: true,
  write: false,
  logLevel: 'warning',
});

fs.rmSync(OUT, { recursive: true, force: true });
const written = [];
const write = (rel, data) => {
  const file = path.join(OUT, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
  written.push([rel, data.length]);
};

for (const f of result.outputFiles) write(path.relative(OUT, f.path).split(path.sep).join('/'), f.contents);

// Sources now inside a bundle are not served on their own.
const bundled = new Set(Object.keys(result.metafile.inputs).map((p) => path.relative(SRC, path.resolve(SRC, p)).split(path.sep).join('/')));

for (const f of all) {
  if (bundled.has(f) || entries.has(f)) continue;
  let data = fs.readFileSync(path.join(SRC, f));
  if (f === 'sw.js') {
    data = Buffer.from((await esbuild.transform(data.toString('utf8'), { loader: 'js', minify: true, target: 'es2022', charset: 'utf8', legalComments: 'none' })).code);
  } else if (f.endsWith('.html')) {
    // Drop preloads of modules that are now inside a bundle (they would 404).
    data = Buffer.from(data.toString('utf8').replace(
      /[ \t]*<link\b[^>]*\brel="modulepreload"[^>]*\bhref="\/static\/([^"?#]+)"[^>]*>[ \t]*\r?\n?/g,
      (line, href) => (bundled.has(path.posix.normalize(href)) && !entries.has(path.posix.normalize(href)) ? '' : line),
    ).replace(/[ \t]*<!-- "\/\.\/" keeps these URLs unversioned[^>]*-->[ \t]*\r?\n?/, ''));
  }
  write(f, data);
}

let total = 0;
for (const [rel, n] of written) {
  if (/\.(js|css)$/.test(rel)) total += n;
}
if (process.env.LLMUX_WEB_BUILD_QUIET !== '1') {
  for (const [rel, n] of written.filter(([r]) => /\.(js|css)$/.test(r))) console.log(`${rel}\t${n}`);
  console.log(`first-party JS+CSS: ${total} bytes in ${OUT}`);
}
