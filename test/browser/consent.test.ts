// Consent, deliveries and session expiry in Debian Chromium against the REAL HAN service
// (`createHanService` over HTTPS, a real SQLite store, the hash-chained signed logs) with the
// REAL TAF service on the same store, as the gateway wires them: a TAF 7 period is sealed
// into the outbox, its delivery is written to the consumer log in the delivery service's
// words; the consumer reads it, withdraws consent on the page, and the next period sends
// nothing. The gateway's clock is a test clock: moving it past the idle timeout ends the
// session, and the page goes back to its login form.
import {
  createHanService, createTafService, formatDeliveryText, isConsentGranted, parseGatewayConfig, parseTariffProfiles,
  type HanService, type Store, type TafService,
} from '@smgw/gateway'
import { buildHanUi } from '@smgw/han-ui'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestClock } from '../../packages/gateway/src/testing.js'
import { checkAccessibility } from './a11y.js'
import { browserTestsEnabled, launchChromium, withScreenshotOnFailure, type Browser } from './chromium.js'
import { signIn } from './han-page.js'
import { gatewayConfigBase, openHanTestStore, type HanTestStore } from './han-store.js'

const PASSWORD = 'correct horse battery'
const HOUR = 3_600_000
const IMPORT = '1-0:1.8.0*255'

describe.runIf(browserTestsEnabled())('consent and deliveries on the page (real HAN and TAF services, Chromium)', () => {
  const clock = createTestClock('2026-05-01T08:00:00Z')
  const consumerOf = new Map([['m-a', 'c-a']])
  let world: HanTestStore | undefined
  let store: Store | undefined
  let han: HanService | undefined
  let taf: TafService | undefined
  let browser: Browser | undefined
  let url = ''
  const profiles = parseTariffProfiles([
    { id: 'taf7-a', useCase: 'taf7', meteringPoint: 'mp-a', channels: [{ meterId: 'm-a', obis: '1-0:1.8.0' }], recipients: [{ id: 'emt-1', role: 'supplier' }], schedule: { periodSeconds: 900, send: { everyHours: 1 } } },
    { id: 'taf1-a', useCase: 'taf1', meteringPoint: 'mp-a', channels: [{ meterId: 'm-a', obis: '1-0:1.8.0' }], recipients: [{ id: 'emt-1', role: 'supplier' }], schedule: { billingPeriod: 'monthly' } },
  ])
  const taf7 = profiles[0]!
  const db = (): Store => { if (!store) throw new Error('no store'); return store }
  const sentTaf7 = () => db().readOutbox().filter((o) => o.messageId?.includes(':taf7-a:') === true)
  const consumerLog = () => db().logRows.entries('consumer', 'c-a').map((r) => ({ type: String(r.type), fields: JSON.parse(String(r.fields)) as Record<string, unknown> }))

  beforeAll(async () => {
    world = await openHanTestStore('smgw-han-consent-', clock.now, PASSWORD)
    const { store: s, logs } = world
    store = s
    const config = parseGatewayConfig({
      ...gatewayConfigBase(world.path),
      meters: [{ id: 'm-a', kind: 'sml', intervalS: 2, consumer: 'c-a', transport: { file: 'a.bin' } }],
      han: { port: 0 },
    })
    // Register readings of m-a every quarter hour from 06:00 to 10:00 (the periods the TAF seals below).
    s.appendReadings(Array.from({ length: 17 }, (_, i) => ({
      meterId: 'm-a', quantity: IMPORT, time: new Date(Date.parse('2026-05-01T06:00:00Z') + i * 900_000 - 2000), mantissa: 10_000n + BigInt(i * 37), scaler: -1, unit: 'Wh',
    })))
    const tafService = createTafService({ gatewayId: 'smgw-0001', profiles: [taf7], consumers: { 'm-a': 'c-a' } }, {
      store: s, now: clock.now, logs, seal: (bytes) => Promise.resolve(bytes), setTimer: () => () => undefined,
      consentGranted: () => isConsentGranted(s, taf7, consumerOf),
    })
    taf = tafService
    await tafService.start()
    // The first period is sealed; its delivery is logged in the words the delivery service uses.
    clock.advance(HOUR)
    await tafService.runDue()
    const item = sentTaf7()[0]
    if (!item) throw new Error('TAF 7 sealed nothing')
    await logs.consumer('c-a', { type: 'data-sent', fields: { recipient: item.recipient, purpose: item.purpose, dataClass: 'load-profile', text: formatDeliveryText(item) } })
    const service = createHanService(config, { store: s, logs, now: clock.now, inForce: () => ({ meters: config.meters, profiles }), ui: await buildHanUi() })
    han = service
    await service.start()
    url = `https://127.0.0.1:${service.port() ?? 0}/`
    browser = await launchChromium({ ignoreHTTPSErrors: true })
  })
  afterAll(async () => {
    await browser?.close()
    await han?.close()
    await taf?.close()
    await world?.close()
  })

  const login = (page: Page): Promise<void> => signIn(page, 'alice', PASSWORD)

  it('reads the delivery in the log, withdraws consent (asked once), the next period sends nothing; an idle session ends at the login form', async () => {
    if (!browser) throw new Error('no browser')
    const page = await browser.context.newPage()
    page.setDefaultTimeout(10_000)
    await withScreenshotOnFailure(page, 'consent', async () => {
      await page.goto(url)
      await login(page)

      // The delivery that just happened: recipient, use case, which values, signed and encrypted.
      await page.getByRole('link', { name: 'Where did my data go' }).click()
      await page.getByLabel('Type').selectOption('data-sent')
      await page.getByRole('button', { name: 'Filter' }).click()
      const sent = page.locator('.timeline .entry.sent')
      await sent.first().waitFor()
      expect(await sent.count()).toBe(1)
      expect(await sent.locator('h2').textContent()).toBe('Sent to emt-1')
      expect(await sent.textContent()).toMatch(/For TAF 7 \(load-profile\): 4 quarter-hour values of 1 May 2026/)
      expect(await sent.locator('.badge').textContent()).toBe('signed and encrypted')
      // The export links answer with the caller's log (CSV and the signed file).
      const csv = await page.request.get(new URL('/api/v1/log/export.csv', url).href)
      expect(csv.status()).toBe(200)
      expect(await csv.text()).toContain('data-sent')
      expect((await page.request.get(new URL('/api/v1/log/export', url).href)).status()).toBe(200)
      expect(await checkAccessibility(page)).toEqual([])

      // Consent: TAF 1 (contract) is shown but cannot be switched; TAF 7 can.
      await page.getByRole('link', { name: 'Consent' }).click()
      const taf1 = page.getByRole('switch', { name: 'TAF 1 (taf1-a)' })
      const taf7switch = page.getByRole('switch', { name: 'TAF 7 (taf7-a)' })
      await taf7switch.waitFor()
      expect(await taf1.isDisabled()).toBe(true)
      expect(await page.getByText(/system-relevant.*supply contract/).count()).toBe(1)
      expect(await taf7switch.isChecked()).toBe(true)
      expect(await checkAccessibility(page)).toEqual([])
      // Asked once: cancelling keeps the consent.
      page.once('dialog', (d) => { void d.dismiss() })
      await taf7switch.click()
      expect(await taf7switch.isChecked()).toBe(true)
      expect(isConsentGranted(db(), taf7, consumerOf)).toBe(true)
      // Confirming withdraws it at once.
      const dialogs: string[] = []
      page.once('dialog', (d) => { dialogs.push(d.message()); void d.accept() })
      await taf7switch.click()
      await page.getByText(/^withdrawn, since/).waitFor()
      expect(dialogs).toEqual(['Withdraw consent for TAF 7 (taf7-a)? From now on these data are no longer sent.'])
      expect(await taf7switch.isChecked()).toBe(false)
      expect(isConsentGranted(db(), taf7, consumerOf)).toBe(false)
      expect(consumerLog().at(-1)).toMatchObject({ type: 'consent-changed', fields: { purpose: 'taf7-a', granted: false } })

      // The next TAF 7 period sends nothing.
      const before = sentTaf7().length
      clock.advance(HOUR)
      await taf?.runDue()
      expect(sentTaf7().length).toBe(before)
      expect(String(consumerLog().at(-1)?.fields['text'])).toMatch(/^not sent: consent withdrawn/)

      // An hour without a request is past the 30-minute idle timeout: the next call is 401 → login form.
      await page.getByRole('link', { name: 'Where did my data go' }).click()
      await page.getByText('Your session has ended. Please sign in again.').waitFor()
      await login(page)
      await page.getByRole('link', { name: 'Where did my data go' }).click()
      await page.getByRole('heading', { name: 'Consent withdrawn for taf7-a' }).waitFor()
      expect(await page.getByText(/not sent: consent withdrawn/).count()).toBeGreaterThan(0)
    })
    await page.close()
  })
})
