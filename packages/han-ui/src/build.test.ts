import { describe, expect, it } from 'vitest'
import { buildHanUi, hashOf } from './build.js'

describe('buildHanUi', () => {
  it('builds index.html, app.js and app.css with content types', async () => {
    const files = await buildHanUi()
    expect([...files.keys()].sort()).toEqual(['/app.css', '/app.js', '/favicon.svg', '/index.html'])
    expect(files.get('/index.html')?.type).toBe('text/html; charset=utf-8')
    expect(files.get('/app.js')?.type).toBe('text/javascript; charset=utf-8')
    expect(files.get('/app.css')?.type).toBe('text/css; charset=utf-8')
    expect(files.get('/favicon.svg')?.type).toBe('image/svg+xml')
  })

  it('index.html names the assets with their content hash and has no inline script or style (CSP default-src self)', async () => {
    const files = await buildHanUi()
    const html = new TextDecoder().decode(files.get('/index.html')?.body)
    expect(html).toContain(`/app.js?v=${hashOf(files.get('/app.js')?.body ?? new Uint8Array())}`)
    expect(html).toContain(`/app.css?v=${hashOf(files.get('/app.css')?.body ?? new Uint8Array())}`)
    expect(html).toMatch(/<html lang="/)
    expect(html).not.toMatch(/<script>|<style|style="/)
    // uPlot is bundled in (no third-party origin at run time)
    const js = new TextDecoder().decode(files.get('/app.js')?.body)
    expect(js).not.toMatch(/https?:\/\/(?!www\.w3\.org)/)
    expect(new TextDecoder().decode(files.get('/app.css')?.body)).toContain('.uplot')
  })

  it('is deterministic: two builds give the same bytes', async () => {
    const [a, b] = await Promise.all([buildHanUi(), buildHanUi()])
    expect(hashOf(a.get('/app.js')?.body ?? new Uint8Array())).toBe(hashOf(b.get('/app.js')?.body ?? new Uint8Array()))
  })
})
