import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildHanUi } from '@smgw/han-ui'
import { checkAccessibility, overflowsHorizontally } from './a11y.js'
import { browserTestsEnabled, launchChromium, withScreenshotOnFailure, type Browser } from './chromium.js'

/*
 * The built page in real Chromium, served by a tiny static server with the CSP the HAN
 * service sets; the API answers 401 NOT_LOGGED_IN, so the page shows its login form.
 */

const CSP = "default-src 'self'; frame-ancestors 'none'"

async function serveStatic(): Promise<{ server: Server; url: string }> {
  const files = await buildHanUi()
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    if (path.startsWith('/api/')) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'NOT_LOGGED_IN', message: 'not logged in' }))
      return
    }
    const file = files.get(path === '/' ? '/index.html' : path)
    if (!file) { res.writeHead(404).end(); return }
    res.writeHead(200, { 'content-type': file.type, 'content-security-policy': CSP, 'cache-control': 'no-cache' }).end(file.body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` }
}

describe.runIf(browserTestsEnabled())('the built page in Chromium (static server)', () => {
  let server: Server
  let url: string
  let browser: Browser
  beforeAll(async () => {
    ({ server, url } = await serveStatic())
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser.close()
    await new Promise((resolve) => server.close(resolve))
  })

  it('renders the login form with labelled fields, no console errors and no CSP violations', async () => {
    const page = await browser.context.newPage()
    const errors: string[] = []
    page.on('console', (m) => { if (m.type() === 'error' && !m.text().includes('401')) errors.push(m.text()) })
    page.on('pageerror', (e) => errors.push(e.message))
    await withScreenshotOnFailure(page, 'login', async () => {
      await page.goto(url)
      await page.getByLabel('User name').waitFor()
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Sign in')
      expect(await page.getByLabel('Password').getAttribute('type')).toBe('password')
      expect(await page.getAttribute('html', 'lang')).toBe('en')
      expect(await checkAccessibility(page)).toEqual([])
      expect(errors).toEqual([])
    })
    await page.close()
  })

  it('the accessibility checks find what they look for (a page with every fault)', async () => {
    const page = await browser.context.newPage()
    await page.setContent('<html><body><h2>first</h2><h4>skipped</h4><input id="x"><img src="data:,"><button></button><p style="color:#bbb;background:#fff">pale</p></body></html>')
    const problems = await checkAccessibility(page)
    expect(problems.join('\n')).toMatch(/html has no lang/)
    expect(problems.join('\n')).toMatch(/first heading is h2/)
    expect(problems.join('\n')).toMatch(/heading skips from h2 to h4/)
    expect(problems.join('\n')).toMatch(/control without label: input#x/)
    expect(problems.join('\n')).toMatch(/image without alt/)
    expect(problems.join('\n')).toMatch(/contrast 1\.\d+ < 4\.5: p "pale"/)
    await page.close()
  })

  it('switches to German and back, and keeps the choice', async () => {
    const page = await browser.context.newPage()
    await withScreenshotOnFailure(page, 'language', async () => {
      await page.goto(url)
      await page.getByLabel('Language').selectOption('de')
      await page.getByLabel('Benutzername').waitFor()
      expect(await page.getAttribute('html', 'lang')).toBe('de')
      expect(await page.getByRole('button', { name: 'Anmelden' }).count()).toBe(1)
      expect(await checkAccessibility(page)).toEqual([])
      await page.reload()
      await page.getByLabel('Benutzername').waitFor()
      await page.getByLabel('Sprache').selectOption('en')
      await page.getByLabel('User name').waitFor()
      expect(await page.getAttribute('html', 'lang')).toBe('en')
    })
    await page.close()
  })

  it('takes its language from the browser (German Chromium → German page)', async () => {
    const german = await launchChromium({ locale: 'de-DE' })
    try {
      const page = await german.context.newPage()
      await withScreenshotOnFailure(page, 'browser-language', async () => {
        await page.goto(url)
        await page.getByLabel('Benutzername').waitFor()
        expect(await page.getAttribute('html', 'lang')).toBe('de')
      })
    } finally { await german.close() }
  })

  it('fits a 360 px phone and can be used with the keyboard alone', async () => {
    const page = await browser.context.newPage()
    await page.setViewportSize({ width: 360, height: 740 })
    await withScreenshotOnFailure(page, 'phone', async () => {
      await page.goto(url)
      await page.getByLabel('User name').waitFor()
      expect(await overflowsHorizontally(page)).toBe(false)
      // Tab from the top reaches the language switch, the user name, the password and the button in order.
      const order: string[] = []
      for (let i = 0; i < 4; i++) {
        await page.keyboard.press('Tab')
        order.push(await page.evaluate<string>('document.activeElement.id || document.activeElement.textContent'))
      }
      expect(order).toEqual(['lang', 'username', 'password', 'Sign in'])
    })
    await page.close()
  })
})
