import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseEmtConfig, readEmtConfig } from './config.js'

const minimal = {
  participantId: 'emt-1',
  tls: { certificate: 'tls.cert.pem', key: 'tls.key.pem' },
  enc: { certificate: 'enc.cert.pem', key: { file: 'enc.key.pem' } },
  pki: { roots: ['root.pem'], crls: ['sub.crl.pem'] },
  storage: { sqlite: 'emt.db' },
}
const dir = mkdtempSync(join(tmpdir(), 'smgw-emt-config-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

describe('EMT configuration', () => {
  it('fills defaults: listen 0.0.0.0:8443, replay window 30 days, retention 3 years, no API', () => {
    const c = parseEmtConfig(minimal)
    expect(c.listen).toEqual({ host: '0.0.0.0', port: 8443 })
    expect(c.replayWindowDays).toBe(30)
    expect(c.retentionYears).toBe(3)
    expect(c.api).toBeUndefined()
    expect(c.pki.requireCrl).toBe(false)
    expect(Object.isFrozen(c)).toBe(true)
  })

  it('retention is 1 to 3 whole years (MsbG: at the latest 3)', () => {
    expect(parseEmtConfig({ ...minimal, retentionYears: 1 }).retentionYears).toBe(1)
    for (const retentionYears of [0, 4, 2.5]) expect(() => parseEmtConfig({ ...minimal, retentionYears })).toThrow(/retentionYears/)
  })

  it('names every problem by its path; unknown keys are errors', () => {
    const bad = { ...minimal, participantId: 'emt 1', storage: { mysql: 'x' }, extra: 1, listen: { port: 70000 } }
    let message = ''
    try {
      parseEmtConfig(bad)
    } catch (err) {
      expect(err).toMatchObject({ code: 'EMT_CONFIG_INVALID' })
      message = (err as Error).message
    }
    expect(message).toContain('participantId')
    expect(message).toContain('storage')
    expect(message).toContain('listen.port')
    expect(message).toMatch(/extra/)
  })

  it('accepts the security-module forms of the ENC key and a PostgreSQL store', () => {
    const c = parseEmtConfig({ ...minimal, enc: { certificate: 'e.pem', key: { softwareModule: { dir: 'sm', passphraseFile: 'pass' }, label: 'emt-enc' } }, storage: { postgres: 'postgres://emt@db/emt' } })
    expect(c.enc.key).toEqual({ softwareModule: { dir: 'sm', passphraseFile: 'pass' }, label: 'emt-enc' })
    expect(() => parseEmtConfig({ ...minimal, enc: { certificate: 'e.pem', key: { file: 'k', label: 'x' } } })).toThrow(/enc\.key/)
  })

  it('tls.key: a PEM file\'s path, or a key in a security module like enc.key; relative paths from the file\'s folder', async () => {
    expect(parseEmtConfig(minimal).tls.key).toBe('tls.key.pem')
    const onToken = { pkcs11: { library: '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: 'emt', pinFile: 'pin' }, label: 'emt-tls' }
    expect(parseEmtConfig({ ...minimal, tls: { ...minimal.tls, key: onToken } }).tls.key).toEqual(onToken)
    expect(() => parseEmtConfig({ ...minimal, tls: { ...minimal.tls, key: { pkcs11: onToken.pkcs11 } } })).toThrow(/tls\.key/)
    const path = join(dir, 'emt-module.json')
    writeFileSync(path, JSON.stringify({ ...minimal, tls: { ...minimal.tls, key: { softwareModule: { dir: 'sm', passphraseFile: 'pass' }, label: 'emt-tls' } } }))
    expect((await readEmtConfig(path)).tls.key).toEqual({ softwareModule: { dir: join(dir, 'sm'), passphraseFile: join(dir, 'pass') }, label: 'emt-tls' })
  })

  it('tls.ecdhCurves: TR-03109-3 groups in the server\'s order, each once; absent means the default order', () => {
    expect(parseEmtConfig(minimal).tls.ecdhCurves).toBeUndefined()
    expect(parseEmtConfig({ ...minimal, tls: { ...minimal.tls, ecdhCurves: ['prime256v1', 'brainpoolP256r1'] } }).tls.ecdhCurves).toEqual(['prime256v1', 'brainpoolP256r1'])
    for (const bad of [['X25519'], [], ['prime256v1', 'prime256v1']]) {
      expect(() => parseEmtConfig({ ...minimal, tls: { ...minimal.tls, ecdhCurves: bad } })).toThrow(/tls\.ecdhCurves/)
    }
  })

  it('readEmtConfig takes relative paths from the file\'s folder; bad JSON is EMT_CONFIG_INVALID', async () => {
    const path = join(dir, 'emt.json')
    writeFileSync(path, JSON.stringify({ ...minimal, tls: { ...minimal.tls, ecdhCurves: ['prime256v1'] }, api: { tokenFile: 'token' } }))
    const c = await readEmtConfig(path)
    expect(c.tls.certificate).toBe(join(dir, 'tls.cert.pem'))
    expect(c.tls.key).toBe(join(dir, 'tls.key.pem'))
    expect(c.tls.ecdhCurves).toEqual(['prime256v1'])
    expect(c.pki.crls).toEqual([join(dir, 'sub.crl.pem')])
    expect(c.storage).toEqual({ sqlite: join(dir, 'emt.db') })
    expect(c.api).toEqual({ host: '127.0.0.1', port: 8444, tokenFile: join(dir, 'token') })
    writeFileSync(path, '{ nope')
    await expect(readEmtConfig(path)).rejects.toMatchObject({ code: 'EMT_CONFIG_INVALID' })
  })
})
