import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseGwaConfig, readGwaConfig } from './config.js'

const dir = mkdtempSync(join(tmpdir(), 'smgw-gwa-config-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

const minimal = {
  tls: { certificate: 'pki/gwa/tls.cert.pem', key: 'pki/gwa/tls.key.pem' },
  sig: { certificate: 'pki/gwa/sig.cert.pem', key: 'pki/gwa/sig.key.pem' },
  pki: { roots: ['pki/root-ca/ca.cert.pem'] },
  storage: { sqlite: 'gwa.db' },
}

describe('GWA configuration', () => {
  it('defaults: gwa, 0.0.0.0:8445, no CA, no API, 32 commands per answer; frozen', () => {
    const c = parseGwaConfig(minimal)
    expect(c).toMatchObject({ gwaId: 'gwa', listen: { host: '0.0.0.0', port: 8445 }, maxCommandsPerAnswer: 32, pki: { intermediates: [], crls: [], requireCrl: false } })
    expect(c.ca).toBeUndefined()
    expect(c.api).toBeUndefined()
    expect(Object.isFrozen(c)).toBe(true)
    expect(c.sessionRateLimit).toEqual({ perMinute: 12 })
    expect(parseGwaConfig({ ...minimal, sessionRateLimit: { perMinute: 60, burst: 5 } }).sessionRateLimit).toEqual({ perMinute: 60, burst: 5 })
    expect(() => parseGwaConfig({ ...minimal, sessionRateLimit: { perMinute: 0 } })).toThrow(expect.objectContaining({ code: 'GWA_CONFIG_INVALID', message: expect.stringContaining('sessionRateLimit.perMinute') }))
    expect(parseGwaConfig({ ...minimal, api: { tokenFile: 't' } }).api).toEqual({ host: '127.0.0.1', port: 8446, tokenFile: 't' })
  })

  it('every problem is named by its path (GWA_CONFIG_INVALID); unknown keys are errors', () => {
    const bad = () => parseGwaConfig({ ...minimal, gwaId: 'a b', listen: { port: 70_000 }, extra: 1, storage: { mysql: 'x' } })
    expect(bad).toThrow(expect.objectContaining({ code: 'GWA_CONFIG_INVALID' }))
    try { bad() } catch (err) {
      const message = (err as Error).message
      for (const path of ['gwaId', 'listen.port', 'storage', '(top level)']) expect(message).toContain(path)
    }
  })

  it('relative paths are taken from the file\'s folder; an unreadable file is GWA_CONFIG_INVALID', async () => {
    const path = join(dir, 'gwa.json')
    writeFileSync(path, JSON.stringify({ ...minimal, ca: { certificate: 'ca.pem', key: '/abs/ca.key' }, api: { tokenFile: 'token' } }))
    const c = await readGwaConfig(path)
    expect(c.tls.certificate).toBe(join(dir, 'pki/gwa/tls.cert.pem'))
    expect(c.ca).toEqual({ certificate: join(dir, 'ca.pem'), key: '/abs/ca.key' })
    expect(c.storage).toEqual({ sqlite: join(dir, 'gwa.db') })
    expect(c.api?.tokenFile).toBe(join(dir, 'token'))
    await expect(readGwaConfig(join(dir, 'missing.json'))).rejects.toMatchObject({ code: 'GWA_CONFIG_INVALID' })
    writeFileSync(join(dir, 'broken.json'), '{')
    await expect(readGwaConfig(join(dir, 'broken.json'))).rejects.toMatchObject({ code: 'GWA_CONFIG_INVALID' })
  })
})
