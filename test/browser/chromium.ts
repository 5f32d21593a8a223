import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'

/*
 * Test support: Debian's Chromium driven by playwright-core (no downloaded browser). A
 * fresh profile per launch (playwright passes it as --user-data-dir). Missing Chromium
 * fails the tests (scripts/setup.sh installs it) unless SMGW_SKIP_BROWSER=1.
 */

export const CHROMIUM_PATH = process.env['SMGW_CHROMIUM'] ?? '/usr/bin/chromium'

/** Whether the browser tests run: false only when Chromium is missing and SMGW_SKIP_BROWSER=1. */
export function browserTestsEnabled(): boolean {
  return existsSync(CHROMIUM_PATH) || process.env['SMGW_SKIP_BROWSER'] !== '1'
}

export interface Browser { readonly context: BrowserContext; close(): Promise<void> }

export async function launchChromium(options: { locale?: string; viewport?: { width: number; height: number }; ignoreHTTPSErrors?: boolean } = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`Chromium not found at ${CHROMIUM_PATH}: run scripts/setup.sh (or set SMGW_SKIP_BROWSER=1 to skip the browser tests)`)
  const profile = await mkdtemp(join(tmpdir(), 'smgw-han-ui-profile-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    locale: options.locale ?? 'en-GB',
    viewport: options.viewport ?? { width: 1280, height: 800 },
    ignoreHTTPSErrors: options.ignoreHTTPSErrors ?? false,
    timezoneId: 'Europe/Berlin',
  })
  return {
    context,
    close: async () => {
      await context.close()
      await rm(profile, { recursive: true, force: true })
    },
  }
}

/** With SMGW_SCREENSHOTS=DIR set: a full-page screenshot of the page as DIR/NAME.png (test artefacts of the main pages). */
export async function saveScreenshot(page: Page, name: string): Promise<void> {
  const dir = process.env['SMGW_SCREENSHOTS']
  if (dir === undefined || dir === '') return
  await page.screenshot({ path: join(dir, `${name.replace(/[^A-Za-z0-9_-]+/g, '-')}.png`), fullPage: true })
}

/** Runs `body`; on failure saves a full-page screenshot into a temp dir (path in the error) and rethrows. */
export async function withScreenshotOnFailure(page: Page, name: string, body: () => Promise<void>): Promise<void> {
  try {
    await body()
  } catch (err) {
    const dir = await mkdtemp(join(tmpdir(), 'smgw-han-ui-failure-'))
    const file = join(dir, `${name.replace(/[^A-Za-z0-9_-]+/g, '-')}.png`)
    await page.screenshot({ path: file, fullPage: true }).catch(() => undefined)
    if (err instanceof Error) err.message += `\nscreenshot: ${file}`
    throw err
  }
}
