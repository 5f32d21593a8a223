// The consumer's page in Debian Chromium against a REAL gateway (issue 8): `createGateway`
// with its HAN service over HTTPS (self-signed P-256 certificate made at first start), an
// SML meter simulator on 127.0.0.1 whose files the gateway reads over TCP and commits; the
// simulator's clock and timers are driven by the test, so "a new reading" is one step.
import { join } from 'node:path'
import { createGateway, createHanAccounts, openStore, parseGatewayConfig, type Gateway } from '@smgw/gateway'
import { buildHanUi } from '@smgw/han-ui'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createTempDir, createTestSig } from '../../packages/gateway/src/testing.js'
import { checkAccessibility, overflowsHorizontally } from './a11y.js'
import { browserTestsEnabled, launchChromium, saveScreenshot, withScreenshotOnFailure, type Browser } from './chromium.js'
import { createDrivenSmlMeter, type DrivenSmlMeter } from './driven-meter.js'
import { gatewayConfigBase } from './han-store.js'
import { signIn } from './han-page.js'

const PASSWORD = 'correct horse battery'

describe.runIf(browserTestsEnabled())('the page against a real gateway (Chromium)', () => {
  let tmp: { dir: string; remove: () => Promise<void> } | undefined
  let meter: DrivenSmlMeter | undefined
  let gateway: Gateway | undefined
  let browser: Browser | undefined
  let url: string
  /** One meter file from the simulator: its clock moves on by the interval and the due timer fires. */
  const sendReading = (): void => { meter!.sendReading() }

  beforeAll(async () => {
    tmp = await createTempDir('smgw-han-browser-')
    const sig = await createTestSig()
    meter = createDrivenSmlMeter()
    const meterSim = meter.simulator
    await meterSim.start()
    const path = join(tmp.dir, 'gateway.db')
    const config = parseGatewayConfig({
      ...gatewayConfigBase(path),
      batch: { maxReadings: 100, maxDelayMs: 0 },
      meters: [
        { id: 'ehz-a', kind: 'sml', transport: { tcp: { host: '127.0.0.1', port: meterSim.port() } }, intervalS: 2, consumer: 'c-a' },
        { id: 'gas-b', kind: 'wmbus', mbusId: '44444444', transport: { udp: { host: '127.0.0.1', port: 0 } }, intervalS: 32, consumer: 'c-b' },
      ],
      han: { port: 0, tariffs: [{ id: 'dyn-1', name: 'Dynamic 24', description: 'hourly prices from the day-ahead market' }] },
    })
    // Accounts first (as `smgw han user add` does on the store), then the gateway.
    const store = openStore(path, { now: () => new Date() })
    const accounts = createHanAccounts(store, new Set(['c-a', 'c-b']))
    await accounts.add({ username: 'alice', role: 'consumer', consumer: 'c-a', password: PASSWORD })
    await accounts.add({ username: 'bob', role: 'consumer', consumer: 'c-b', password: PASSWORD })
    await accounts.add({ username: 'tech', role: 'technician', password: PASSWORD })
    // Two days of quarter-hour register values before today, with a missing hour (the meter was silent).
    const quarter = 900_000
    const start = Math.floor(Date.now() / quarter) * quarter - 2 * 86_400_000
    store.appendReadings(Array.from({ length: 2 * 96 }, (_, i) => i).filter((i) => i < 40 || i >= 44).map((i) => ({
      meterId: 'ehz-a', quantity: '1-0:1.8.0*255', time: new Date(start + i * quarter - 1000), mantissa: 1_000_000n + BigInt(i * 250), scaler: -1, unit: 'Wh',
    })))
    store.close()
    const gw = createGateway(config, { sig: { signer: sig.signer, certificate: sig.certificate }, hanUi: await buildHanUi() })
    gateway = gw
    await gw.start()
    url = `https://127.0.0.1:${gw.hanPort() ?? 0}/`
    await vi.waitFor(async () => {
      sendReading()
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(gw.status().meters.find((m) => m.id === 'ehz-a')?.stored).toBeGreaterThan(0)
    }, { timeout: 15_000, interval: 100 })
    browser = await launchChromium({ ignoreHTTPSErrors: true })
  })
  const context = () => {
    if (!browser) throw new Error('no browser')
    return browser.context
  }
  afterAll(async () => {
    await browser?.close()
    await gateway?.close()
    await meter?.simulator.close()
    await tmp?.remove()
  })

  /** A fresh start: no session cookie, no stored language (the browser's, English), then the form. */
  async function login(page: Page, username: string): Promise<void> {
    page.setDefaultTimeout(10_000)
    await context().clearCookies()
    await page.goto(url)
    await page.evaluate('localStorage.clear()')
    await page.reload()
    await signIn(page, username, PASSWORD)
  }

  it('consumer: logs in, sees the meter with a value, and the value changes live as the gateway commits readings', async () => {
    const page = await context().newPage()
    await withScreenshotOnFailure(page, 'live', async () => {
      await login(page, 'alice')
      expect(await page.getByRole('banner').textContent()).toContain('Consumer c-a')
      await page.getByRole('heading', { name: 'Meter ehz-a' }).waitFor()
      const cell = page.locator('dd[data-meter="ehz-a"][data-quantity="1-0:1.8.0*255"] .value')
      await expect.poll(() => cell.textContent(), { timeout: 10_000 }).toMatch(/^[\d,.]+ kWh$/)
      await page.getByText('Live', { exact: true }).waitFor()
      const before = await cell.textContent()
      // Readings committed through the gateway reach the page over SSE (no reload).
      await expect.poll(async () => { sendReading(); return cell.textContent() }, { timeout: 15_000, interval: 300 }).not.toBe(before)
      expect(await checkAccessibility(page)).toEqual([])
    })
    await page.close()
  })

  it('consumer: every section renders in both languages, passes the accessibility checks and fits 360 px', async () => {
    const page = await context().newPage()
    await withScreenshotOnFailure(page, 'sections', async () => {
      await login(page, 'alice')
      for (const [lang, sections] of [['en', ['History', 'Where did my data go', 'Tariffs', 'Consent', 'Your rights', 'Now']], ['de', ['Verlauf', 'Wohin gingen meine Daten', 'Tarife', 'Einwilligung', 'Ihre Rechte', 'Jetzt']]] as const) {
        await page.getByLabel(lang === 'de' ? 'Language' : 'Sprache').selectOption(lang).catch(() => undefined)
        expect(await page.getAttribute('html', 'lang')).toBe(lang)
        for (const name of sections) {
          await page.getByRole('navigation').getByRole('link', { name, exact: true }).click()
          await page.getByRole('heading', { level: 1, name }).waitFor()
          await page.waitForLoadState('networkidle').catch(() => undefined)
          expect(await page.locator('.alert:not(:empty)').count(), `${lang} ${name}`).toBe(0)
          expect(await checkAccessibility(page), `${lang} ${name}`).toEqual([])
          await saveScreenshot(page, `${lang}-${name}`)
        }
      }
      await page.setViewportSize({ width: 360, height: 740 })
      for (const hash of ['#now', '#history', '#log', '#tariffs', '#consent', '#rights']) {
        await page.goto(url + hash)
        await page.getByRole('heading', { level: 1 }).waitFor()
        await page.waitForLoadState('networkidle').catch(() => undefined)
        expect(await overflowsHorizontally(page), hash).toBe(false)
        await saveScreenshot(page, `phone-${hash.slice(1)}`)
      }
    })
    await page.close()
  })

  it('consumer: the log shows the gateway\'s processing entries; a deletion request is sent and listed with its state; a tariff choice shows its state', async () => {
    const page = await context().newPage()
    await withScreenshotOnFailure(page, 'log-rights', async () => {
      await login(page, 'alice')
      await page.getByRole('link', { name: 'Where did my data go' }).click()
      await page.locator('.timeline .entry').first().waitFor()
      // Not necessarily the newest: viewing the values writes a data-viewed entry too (README "HAN service").
      await page.locator('.timeline .entry h2', { hasText: 'Processed in the gateway' }).first().waitFor()
      await page.getByRole('link', { name: 'Your rights' }).click()
      await page.getByLabel('Request').selectOption('deletion')
      await page.getByLabel('Your message').fill('Please delete my load profile data.')
      await page.getByRole('button', { name: 'Send request' }).click()
      await page.getByText('Your request was received.').waitFor()
      await page.getByRole('heading', { name: 'Deletion — received' }).waitFor()
      await page.getByRole('link', { name: 'Where did my data go' }).click()
      await page.getByLabel('Type').selectOption('request-received')
      await page.getByRole('button', { name: 'Filter' }).click()
      await page.getByRole('heading', { name: 'Request received: Deletion' }).waitFor()
      expect(await page.locator('.timeline .entry').count()).toBe(1)
      await page.getByLabel('Type').selectOption('')
      await page.getByLabel('Search').fill('no entry has this text')
      await page.getByRole('button', { name: 'Filter' }).click()
      await page.getByText('No entries.').waitFor()
      await page.getByRole('link', { name: 'Tariffs' }).click()
      await page.getByRole('button', { name: 'Choose Dynamic 24' }).click()
      await page.getByText('Your request for Dynamic 24: received').waitFor()
    })
    await page.close()
  })

  it('consumer: history draws the quarter-hour profile with its gap left open, and daily bars', async () => {
    const page = await context().newPage()
    await withScreenshotOnFailure(page, 'history', async () => {
      await login(page, 'alice')
      await page.getByRole('link', { name: 'History' }).click()
      await page.getByLabel('Resolution').selectOption('15min')
      await page.getByRole('button', { name: 'Show' }).click()
      await page.locator('.uplot canvas').first().waitFor()
      expect(await page.getByRole('img', { name: /Chart of .* in kWh/ }).count()).toBe(1)
      // The missing hour: four quarter-hours without a value, shown as gaps.
      const gaps = await page.locator('.gaps').textContent()
      expect(gaps).toMatch(/^\d+ intervals without a value \(shown as gaps, never joined\)\.$/)
      expect(Number(gaps?.split(' ')[0])).toBeGreaterThanOrEqual(4)
      // The silent hour is one line: four quarter-hours without a value.
      expect(await page.locator('ul.flagged li', { hasText: '(4 values): no value' }).count()).toBe(1)
      await saveScreenshot(page, 'history-15min')
      await page.getByLabel('Resolution').selectOption('day')
      await page.getByRole('button', { name: 'Show' }).click()
      await page.locator('.uplot canvas').first().waitFor()
      expect(await page.locator('.alert:not(:empty)').count()).toBe(0)
      expect(await checkAccessibility(page)).toEqual([])
    })
    await page.close()
  })

  it('isolation and roles: bob sees only his meter; the technician sees device status and meters, no readings', async () => {
    const page = await context().newPage()
    await withScreenshotOnFailure(page, 'roles', async () => {
      await login(page, 'bob')
      await page.getByRole('heading', { name: 'Meter gas-b' }).waitFor()
      expect(await page.getByText('ehz-a').count()).toBe(0)
      await page.getByRole('button', { name: 'Sign out' }).click()
      await page.getByLabel('User name').waitFor()
      await login(page, 'tech')
      await page.getByRole('heading', { level: 1, name: 'Device status' }).waitFor()
      await page.getByRole('rowheader', { name: 'ehz-a' }).waitFor()
      expect(await page.getByRole('navigation').getByRole('link').allTextContents()).toEqual(['Device'])
      expect(await page.locator('main').textContent()).not.toMatch(/kWh|\bW\b/)
      expect(await checkAccessibility(page)).toEqual([])
    })
    await page.close()
  })
})
