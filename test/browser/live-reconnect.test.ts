// The live view recovers by itself (issue 8, han-ui live.ts) in Debian Chromium against a REAL
// gateway: the browser reaches the HAN service through a TCP relay the test controls, so the
// connection can be cut (every socket destroyed) and refused while the gateway keeps running;
// then the gateway itself is closed and started again on the same store. Each time the page
// shows "Reconnecting…" in its aria-live status, comes back "Live" by itself with one stream,
// shows values committed while it was away, and new readings arrive live again.
import { createServer, connect, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { createGateway, createHanAccounts, openStore, parseGatewayConfig, type Gateway, type GatewayConfig, type ReadingInput } from '@smgw/gateway'
import { buildHanUi } from '@smgw/han-ui'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createTempDir, createTestSig } from '../../packages/gateway/src/testing.js'
import { checkAccessibility } from './a11y.js'
import { browserTestsEnabled, launchChromium, saveScreenshot, withScreenshotOnFailure, type Browser } from './chromium.js'
import { createDrivenSmlMeter, type DrivenSmlMeter } from './driven-meter.js'
import { gatewayConfigBase } from './han-store.js'

const PASSWORD = 'correct horse battery'
const IMPORT = '1-0:1.8.0*255'

/** A TCP relay to the HAN port: `cut()` destroys every connection, `refusing` drops new ones at once. */
interface Relay { readonly port: number; upstream: number; refusing: boolean; cut(): void; close(): Promise<void> }

async function startRelay(upstream: number): Promise<Relay> {
  const sockets = new Set<Socket>()
  const relay: Relay = {
    port: 0, upstream, refusing: false,
    cut: () => { for (const s of sockets) s.destroy() },
    close: () => new Promise<void>((resolve) => { relay.cut(); server.close(() => { resolve() }) }),
  }
  const server: Server = createServer((client) => {
    if (relay.refusing) { client.destroy(); return }
    const up = connect(relay.upstream, '127.0.0.1')
    for (const s of [client, up]) sockets.add(s)
    const drop = (): void => { client.destroy(); up.destroy(); sockets.delete(client); sockets.delete(up) }
    for (const s of [client, up]) { s.on('error', drop); s.on('close', drop) }
    client.pipe(up)
    up.pipe(client)
  })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  return Object.assign(relay, { port: (server.address() as AddressInfo).port })
}

/**
 * Before the page's own script: every EventSource it makes is kept in `__sources` (to count open
 * streams), and every `data-state` the live status takes is appended to `__liveStates`.
 */
const INSTRUMENT = `(() => {
  const Native = window.EventSource
  window.__sources = []
  window.EventSource = class extends Native { constructor(...args) { super(...args); window.__sources.push(this) } }
  window.__liveStates = []
  new MutationObserver((records) => {
    for (const r of records) {
      const el = r.target
      if (el.id === 'live-status') window.__liveStates.push(el.getAttribute('data-state'))
      for (const n of r.addedNodes ?? []) {
        const s = n.querySelector?.('#live-status') ?? (n.id === 'live-status' ? n : null)
        if (s) window.__liveStates.push(s.getAttribute('data-state'))
      }
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] })
})()`

describe.runIf(browserTestsEnabled())('the live view reconnects (Chromium, real gateway)', () => {
  let tmp: { dir: string; remove: () => Promise<void> } | undefined
  let meter: DrivenSmlMeter | undefined
  let gateway: Gateway | undefined
  let relay: Relay | undefined
  let browser: Browser | undefined
  let config: GatewayConfig
  let deps: Parameters<typeof createGateway>[1]
  /** The newest committed import register reading of ehz-a, as the gateway reports it. */
  let committed: ReadingInput | undefined
  const sendReading = (): void => { meter!.sendReading() }
  const startGateway = async (): Promise<Gateway> => {
    const gw = createGateway(config, deps)
    gw.onReadings((batch) => { for (const r of batch) if (r.meterId === 'ehz-a' && r.quantity === IMPORT) committed = r })
    await gw.start()
    gateway = gw
    return gw
  }
  /** Steps the simulator until the gateway committed an import register value other than `than`. */
  const commitNewValue = async (than: bigint | undefined): Promise<bigint> => {
    await vi.waitFor(async () => {
      sendReading()
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(committed?.mantissa).toBeDefined()
      expect(committed?.mantissa).not.toBe(than)
    }, { timeout: 30_000, interval: 100 })
    return committed!.mantissa
  }

  beforeAll(async () => {
    tmp = await createTempDir('smgw-han-live-browser-')
    const sig = await createTestSig()
    meter = createDrivenSmlMeter()
    const meterSim = meter.simulator
    await meterSim.start()
    const path = join(tmp.dir, 'gateway.db')
    config = parseGatewayConfig({
      ...gatewayConfigBase(path),
      batch: { maxReadings: 100, maxDelayMs: 0 },
      meters: [{ id: 'ehz-a', kind: 'sml', transport: { tcp: { host: '127.0.0.1', port: meterSim.port() } }, intervalS: 2, consumer: 'c-a' }],
      han: { port: 0 },
    })
    const store = openStore(path, { now: () => new Date() })
    await createHanAccounts(store, new Set(['c-a'])).add({ username: 'alice', role: 'consumer', consumer: 'c-a', password: PASSWORD })
    store.close()
    deps = { sig: { signer: sig.signer, certificate: sig.certificate }, hanUi: await buildHanUi() }
    const gw = await startGateway()
    await commitNewValue(undefined)
    relay = await startRelay(gw.hanPort() ?? 0)
    browser = await launchChromium({ ignoreHTTPSErrors: true })
    await browser.context.addInitScript({ content: INSTRUMENT })
  })
  afterAll(async () => {
    await browser?.close()
    await relay?.close()
    await gateway?.close()
    await meter?.simulator.close()
    await tmp?.remove()
  })

  const status = (page: Page) => page.locator('#live-status')
  const stateIs = (page: Page, state: string, timeout = 60_000) => page.locator(`#live-status[data-state="${state}"]`).waitFor({ timeout })
  const openStreams = (page: Page) => page.evaluate<number>('window.__sources.filter((s) => s.readyState !== EventSource.CLOSED).length')
  const streamsMade = (page: Page) => page.evaluate<number>('window.__sources.length')
  const liveStates = (page: Page) => page.evaluate<string[]>('window.__liveStates')

  it('a cut connection: "Reconnecting…" while the gateway is unreachable, then Live again with the value committed meanwhile and one stream; after a restart of the gateway new readings arrive live', async () => {
    const page = await browser!.context.newPage()
    page.setDefaultTimeout(20_000)
    const r = relay!
    await withScreenshotOnFailure(page, 'live-reconnect', async () => {
      await page.goto(`https://127.0.0.1:${r.port}/`)
      await page.getByLabel('User name').fill('alice')
      await page.getByLabel('Password').fill(PASSWORD)
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.getByRole('heading', { name: 'Meter ehz-a' }).waitFor()
      const cell = page.locator(`dd[data-meter="ehz-a"][data-quantity="${IMPORT}"] .value`)
      await expect.poll(() => cell.textContent(), { timeout: 20_000 }).toMatch(/^[\d,.]+ kWh$/)
      await stateIs(page, 'live')
      expect(await status(page).textContent()).toBe('Live')
      expect(await status(page).getAttribute('aria-live')).toBe('polite')
      expect(await status(page).getAttribute('role')).toBe('status')
      expect(await openStreams(page)).toBe(1)

      // 1. The connection is cut and new ones are refused: the page says so and waits.
      r.refusing = true
      r.cut()
      await stateIs(page, 'reconnecting')
      expect(await status(page).textContent()).toBe('Reconnecting…')
      expect(await openStreams(page)).toBe(0)
      // Meanwhile the gateway commits a new value the page cannot hear of.
      const shownBefore = await cell.textContent()
      await commitNewValue(committed?.mantissa)
      expect(await cell.textContent()).toBe(shownBefore)
      await saveScreenshot(page, 'now-reconnecting')
      expect(await checkAccessibility(page)).toEqual([])
      // The relay lets connections through again: Live by itself, the missed value fetched, one stream.
      r.refusing = false
      await stateIs(page, 'live')
      await expect.poll(() => cell.textContent(), { timeout: 20_000 }).not.toBe(shownBefore)
      expect(await openStreams(page)).toBe(1)
      const afterCut = await streamsMade(page)
      expect(afterCut).toBeGreaterThanOrEqual(2)

      // 2. The gateway stops (its HAN service ends the stream) and starts again on the same store.
      await gateway!.close()
      await stateIs(page, 'reconnecting')
      expect(await openStreams(page)).toBe(0)
      const gw = await startGateway()
      r.upstream = gw.hanPort() ?? 0
      await stateIs(page, 'live')
      expect(await openStreams(page)).toBe(1)
      // Readings flow live again: the value changes with no reload.
      const shownAfterRestart = await cell.textContent()
      await expect.poll(async () => { sendReading(); return cell.textContent() }, { timeout: 30_000, interval: 300 }).not.toBe(shownAfterRestart)
      expect(await openStreams(page)).toBe(1)
      await saveScreenshot(page, 'now-live-again')

      // The status went live → reconnecting → live twice, and never had two streams at once.
      const states = (await liveStates(page)).filter((s, i, all) => i === 0 || all[i - 1] !== s)
      expect(states.slice(states.indexOf('live'))).toEqual(['live', 'reconnecting', 'live', 'reconnecting', 'live'])
      expect(await page.evaluate('window.__sources.slice(0, -1).every((s) => s.readyState === EventSource.CLOSED)')).toBe(true)
    })
    await page.close()
  }, 240_000)
})
