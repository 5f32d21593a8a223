import type { Page } from 'playwright-core'

// Test support: what a consumer does on the HAN page that several browser tests repeat.

/** Fills the page's sign-in form as `username` and waits until it offers "Sign out" (signed in). */
export async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('User name').fill(username)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('button', { name: 'Sign out' }).waitFor()
}
