import { createHash } from 'node:crypto'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

/*
 * The page as static files, built in memory with esbuild (bundle, minify, ES2020, ESM):
 * src/page/main.ts with uPlot and the styles → /app.js and /app.css, and /index.html that
 * loads them. Cache policy (for the server that serves the map): /index.html with
 * `Cache-Control: no-cache`; it names /app.js and /app.css with `?v=<content hash>`, so the
 * assets may be cached for long and a new build is still picked up at once. No inline script
 * or style anywhere: the page runs under CSP `default-src 'self'`.
 */

export interface HanUiFile { readonly body: Uint8Array; readonly type: string }

const PAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'page')

const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
}

/** The tab icon (a meter dial); served from the map so browsers do not ask for a missing /favicon.ico. */
const FAVICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#0b5cad"/><path d="M6 22a10 10 0 0 1 20 0" fill="none" stroke="#fff" stroke-width="3"/><path d="M16 22l6-7" stroke="#fff" stroke-width="3" stroke-linecap="round"/></svg>\n'

export function hashOf(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('hex').slice(0, 16)
}

export async function buildHanUi(): Promise<ReadonlyMap<string, HanUiFile>> {
  const result = await build({
    entryPoints: { app: join(PAGE_DIR, 'main.ts') },
    bundle: true, minify: true, target: 'es2020', format: 'esm', platform: 'browser',
    write: false, outdir: '/out', legalComments: 'eof', logLevel: 'silent',
    loader: { '.css': 'css' },
  })
  const files = new Map<string, HanUiFile>()
  for (const out of result.outputFiles) {
    const name = out.path.slice(out.path.lastIndexOf('/'))
    const ext = name.slice(name.lastIndexOf('.'))
    files.set(name, { body: out.contents, type: TYPES[ext] ?? 'application/octet-stream' })
  }
  const js = files.get('/app.js')
  const css = files.get('/app.css')
  if (!js || !css) throw new Error('han-ui build produced no app.js/app.css')
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>Smart meter</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/app.css?v=${hashOf(css.body)}">
<script type="module" src="/app.js?v=${hashOf(js.body)}"></script>
</head>
<body>
<div id="app"><noscript>This page needs JavaScript. / Diese Seite braucht JavaScript.</noscript></div>
</body>
</html>
`
  files.set('/favicon.svg', { body: new TextEncoder().encode(FAVICON), type: TYPES['.svg'] ?? 'image/svg+xml' })
  files.set('/index.html', { body: new TextEncoder().encode(html), type: TYPES['.html'] ?? 'text/html' })
  return files
}
