// A consumer's request on its way to the gateway administrator and back, seen in Debian Chromium
// against the REAL HAN service (`createHanService` over HTTPS, a real SQLite store, the signed
// consumer logs) and the gateway's REAL administration side of it (`createConsumerRequests`, what
// an admin session runs: the report accepted → pending, then the GWA's `answer-request`). The
// consumer files a deletion request and chooses a tariff on the page; the administrator rejects
// the one with a note and carries out the other; the page shows each state in plain words and
// the note, in English and German, and the log says so too.
import { createConsumerRequests, createHanService, parseGatewayConfig, type ConsumerRequests, type HanService, type Store } from '@smgw/gateway'
import { buildHanUi } from '@smgw/han-ui'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestClock } from '../../packages/gateway/src/testing.js'
import { checkAccessibility } from './a11y.js'
import { browserTestsEnabled, launchChromium, saveScreenshot, withScreenshotOnFailure, type Browser } from './chromium.js'
import { signIn } from './han-page.js'
import { gatewayConfigBase, openHanTestStore, type HanTestStore } from './han-store.js'

const PASSWORD = 'correct horse battery'
const NOTE = 'Your supplier still needs these readings for the 2025 bill; they are deleted in January 2029.'

describe.runIf(browserTestsEnabled())('a request answered by the gateway administrator on the page (real HAN service and admin side, Chromium)', () => {
  const clock = createTestClock('2026-11-30T09:00:00Z')
  let world: HanTestStore | undefined
  let store: Store | undefined
  let han: HanService | undefined
  let requests: ConsumerRequests | undefined
  let browser: Browser | undefined
  let url = ''
  const admin = (): ConsumerRequests => { if (!requests) throw new Error('no admin side'); return requests }
  let sequence = 0
  const answer = (requestId: number, state: 'in-progress' | 'done' | 'rejected', note: string) => admin().answer({
    format: 'smgw-admin-command/1', commandId: `cmd-${String(++sequence)}`, gatewayId: 'smgw-0001', sequence, issuedAt: clock.now().toISOString(), type: 'answer-request', requestId, state, note,
  })

  beforeAll(async () => {
    world = await openHanTestStore('smgw-han-requests-', clock.now, PASSWORD)
    const { store: s, logs } = world
    store = s
    const config = parseGatewayConfig({
      ...gatewayConfigBase(world.path),
      meters: [{ id: 'm-a', kind: 'sml', intervalS: 2, consumer: 'c-a', transport: { file: 'a.bin' } }],
      han: { port: 0, tariffs: [{ id: 'dyn-1', name: 'Dynamic 24', description: 'hourly prices from the day-ahead market' }] },
    })
    requests = createConsumerRequests({ store: s, consumerLog: (c, e) => logs.consumer(c, e), now: clock.now })
    const service = createHanService(config, { store: s, logs, now: clock.now, ui: await buildHanUi() })
    han = service
    await service.start()
    url = `https://127.0.0.1:${service.port() ?? 0}/`
    browser = await launchChromium({ ignoreHTTPSErrors: true })
  })
  afterAll(async () => {
    await browser?.close()
    await han?.close()
    await world?.close()
  })

  async function login(page: Page): Promise<void> {
    await page.goto(url)
    await signIn(page, 'alice', PASSWORD)
  }

  it('files a deletion request and a tariff choice, sees them passed on, then the rejection with the administrator\'s note and the choice carried out — in English and German', async () => {
    if (!browser) throw new Error('no browser')
    const page = await browser.context.newPage()
    page.setDefaultTimeout(10_000)
    await withScreenshotOnFailure(page, 'requests-answered', async () => {
      await login(page)
      await page.getByRole('link', { name: 'Your rights' }).click()
      await page.getByLabel('Request').selectOption('deletion')
      await page.getByLabel('Your message').fill('Please delete my readings of 2025.')
      await page.getByRole('button', { name: 'Send request' }).click()
      await page.getByRole('heading', { name: 'Deletion — received' }).waitFor()
      await page.getByText('Your gateway has received it and passes it on to the gateway administrator at its next contact.').waitFor()
      await page.getByRole('link', { name: 'Tariffs' }).click()
      await page.getByRole('button', { name: 'Choose Dynamic 24' }).click()
      await page.getByText('Your request for Dynamic 24: received').waitFor()

      // The next admin session: the GWA accepted the report carrying both.
      clock.advance(60_000)
      await admin().forwarded(admin().reported())
      await page.getByRole('link', { name: 'Your rights' }).click()
      await page.getByRole('heading', { name: 'Deletion — with the administrator' }).waitFor()
      await page.getByText('The gateway administrator has it and has not answered yet.').waitFor()

      // The administrator's answers (20 minutes later: within the session's 30-minute idle timeout).
      clock.advance(20 * 60_000)
      const [deletion] = store!.han.requests('c-a').filter((r) => r.kind === 'deletion')
      const [choice] = store!.han.requests('c-a').filter((r) => r.kind === 'tariff-choice')
      await answer(deletion!.id, 'rejected', NOTE)
      await answer(choice!.id, 'done', 'Dynamic 24 applies from 1 January 2027.')

      await page.getByRole('link', { name: 'Tariffs' }).click()
      await page.getByText('Your request for Dynamic 24: done').waitFor()
      await page.getByText('The gateway administrator has carried it out.').waitFor()
      expect(await page.locator('.note').textContent()).toMatch(/^Answer of the gateway administrator \(.+\): Dynamic 24 applies from 1 January 2027\.$/)

      await page.getByRole('link', { name: 'Your rights' }).click()
      const card = page.locator(`li[data-request="${String(deletion!.id)}"]`)
      await card.getByRole('heading', { name: 'Deletion — rejected' }).waitFor()
      expect(await card.locator('.state').textContent()).toBe('The gateway administrator has turned it down.')
      expect(await card.locator('.note').textContent()).toBe(`Answer of the gateway administrator (30/11/2026, 10:21): ${NOTE}`)
      expect(await checkAccessibility(page)).toEqual([])
      await saveScreenshot(page, 'en-rights-answered')

      // The log says it in the same words: passed on, then answered with the note.
      await page.getByRole('link', { name: 'Where did my data go' }).click()
      await page.getByLabel('Type').selectOption('request-answered')
      await page.getByRole('button', { name: 'Filter' }).click()
      const entry = page.locator('.timeline .entry', { hasText: 'Request answered: Deletion — rejected' })
      await entry.waitFor()
      expect(await entry.textContent()).toContain(`Answer of the gateway administrator: ${NOTE}`)
      expect(await page.locator('.timeline .entry').count()).toBe(2)
      await page.getByLabel('Type').selectOption('request-forwarded')
      await page.getByRole('button', { name: 'Filter' }).click()
      await page.getByRole('heading', { name: 'Request passed on: Deletion' }).waitFor()
      expect(await checkAccessibility(page)).toEqual([])

      // German: the state words and the explanation; the note stays as the administrator wrote it.
      await page.getByLabel('Language').selectOption('de')
      await page.getByRole('navigation').getByRole('link', { name: 'Ihre Rechte', exact: true }).click()
      await card.getByRole('heading', { name: 'Löschung — abgelehnt' }).waitFor()
      expect(await card.locator('.state').textContent()).toBe('Der Gateway-Administrator hat es abgelehnt.')
      expect(await card.locator('.note').textContent()).toBe(`Antwort des Gateway-Administrators (30.11.2026, 10:21): ${NOTE}`)
      expect(await checkAccessibility(page)).toEqual([])
      await saveScreenshot(page, 'de-rights-answered')
    })
    await page.close()
  })
})
