// Test support for src/store (not exported from the package index): a fresh directory per
// test for a real SQLite store file, and the GatewayError code an operation throws.
import { join } from 'node:path'
import { afterEach, beforeEach, expect } from 'vitest'
import { GatewayError } from '../errors.js'
import { createTempDir } from '../testing.js'

/**
 * Registers hooks that give each test of the file its own temporary directory (removed after
 * the test); `path` is the store file in it, not created yet.
 */
export function useStoreFile(prefix: string): { readonly dir: string; readonly path: string } {
  let tmp: { dir: string; remove: () => Promise<void> } | undefined
  beforeEach(async () => { tmp = await createTempDir(prefix) })
  afterEach(async () => { await tmp?.remove() })
  const dir = (): string => {
    if (tmp === undefined) throw new Error('useStoreFile: used outside a test')
    return tmp.dir
  }
  return {
    get dir() { return dir() },
    get path() { return join(dir(), 'gateway.db') },
  }
}

/** The code of the GatewayError `fn` throws (anything else thrown fails the test), or 'no error'. */
export function codeOf(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError)
    return (err as GatewayError).code
  }
  return 'no error'
}
