import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  ADMIN_PROTOCOL_ERROR_CODES, AdminProtocolError, WAKE_UP_MAX_BYTES, checkAddressed, checkFreshness, checkIncreasing, compareVersions, createFirmwarePackage,
  createSignerVerifier, decodeAdminReport, decodeAdminResults, decodeCommandsAnswer, encodeAdminReport, encodeAdminResults,
  encodeCommandsAnswer, formatCanonicalJson, openCommand, openFirmwarePackage, openWakeUp, peekCommand, peekWakeUp,
  signAdminObject, signCommand, signWakeUp, type AdminCommand, type AdminReport, type SignerVerifier, type WakeUp,
} from './index.js'
import { createAdminTestPki, openssl, type AdminTestPki } from './testing.js'

const NOW = new Date('2026-11-30T06:00:00.000Z')

function wakeUp(over: Partial<WakeUp> = {}): WakeUp {
  return { format: 'smgw-wakeup/1', gatewayId: 'smgw-0001', gwaId: 'gwa', createdAt: NOW.toISOString(), counter: 17, ...over }
}

function command(over: Record<string, unknown> = {}): AdminCommand {
  return {
    format: 'smgw-admin-command/1', commandId: '6f1c2d9e-0000-4000-8000-000000000001', gatewayId: 'smgw-0001', sequence: 42,
    issuedAt: NOW.toISOString(), ...('type' in over ? {} : { type: 'rollback-profile', version: 2 }), ...over,
  } as AdminCommand
}

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    if (typeof p === 'function') p()
    else await p
    return 'none'
  } catch (err) {
    if (err instanceof AdminProtocolError) return err.code
    return `foreign ${String(err)}`
  }
}

let t: AdminTestPki
let gwa: SignerVerifier
let manufacturer: SignerVerifier
let validWakeUp: Uint8Array
let validCommand: Uint8Array

beforeAll(async () => {
  t = await createAdminTestPki(new Date(NOW.getTime() - 86_400_000))
  gwa = createSignerVerifier({ expectedSubject: t.gwaSubject, roots: [t.root], intermediates: t.intermediates, notOwnRole: 'SIGNER_NOT_GWA' })
  // The manufacturer is played by the Gütesiegel CA's subject... a participant: EMT 1 stands in (its SIG certificate).
  manufacturer = createSignerVerifier({ expectedSubject: t.pki.participants.find((p) => p.label === 'emt-1')!.subject, roots: [t.root], notOwnRole: 'SIGNER_NOT_MANUFACTURER' })
  validWakeUp = await signAdminObject(wakeUp(), t.cmsSigner('gwa/sig'), NOW)
  validCommand = await signAdminObject(command(), t.cmsSigner('gwa/sig'), NOW)
}, 60_000)

describe('wake-up', () => {
  it('round trips through sign, peek and open', async () => {
    expect(validWakeUp.length).toBeLessThanOrEqual(WAKE_UP_MAX_BYTES)
    expect(peekWakeUp(validWakeUp)).toEqual(wakeUp())
    expect(await openWakeUp(validWakeUp, gwa, NOW)).toEqual(wakeUp())
  })

  it('refuses a datagram over WAKE_UP_MAX_BYTES before reading it', async () => {
    const big = new Uint8Array(WAKE_UP_MAX_BYTES + 1)
    expect(await codeOf(() => peekWakeUp(big))).toBe('TOO_LARGE')
    expect(await codeOf(openWakeUp(big, gwa, NOW))).toBe('TOO_LARGE')
  })

  it('refuses garbage, a wrong format and non-canonical JSON as MALFORMED / UNSUPPORTED_FORMAT', async () => {
    expect(await codeOf(() => peekWakeUp(new Uint8Array([1, 2, 3])))).toBe('MALFORMED')
    const other = await signAdminObject({ ...wakeUp(), format: 'smgw-wakeup/2' }, t.cmsSigner('gwa/sig'), NOW)
    expect(await codeOf(() => peekWakeUp(other))).toBe('UNSUPPORTED_FORMAT')
    const extra = await signAdminObject({ ...wakeUp(), extra: 1 }, t.cmsSigner('gwa/sig'), NOW)
    expect(await codeOf(() => peekWakeUp(extra))).toBe('MALFORMED')
    const spaced = await t.cmsSigner('gwa/sig').sign(new TextEncoder().encode(JSON.stringify(wakeUp(), null, 1)), { signingTime: NOW })
    expect(await codeOf(() => peekWakeUp(spaced))).toBe('MALFORMED')
    const duplicate = await t.cmsSigner('gwa/sig').sign(new TextEncoder().encode(formatCanonicalJson(wakeUp()).replace('{', '{"counter":99,')), { signingTime: NOW })
    expect(await codeOf(() => peekWakeUp(duplicate))).toBe('MALFORMED')
  })

  it('refuses a wake-up signed by an EMT (same SM-PKI root) as SIGNER_NOT_GWA', async () => {
    const emt = await signAdminObject(wakeUp(), t.cmsSigner('emt-1/sig'), NOW)
    expect(peekWakeUp(emt)).toEqual(wakeUp())
    expect(await codeOf(openWakeUp(emt, gwa, NOW))).toBe('SIGNER_NOT_GWA')
  })

  it('refuses a flipped signature or content byte as SIGNATURE_INVALID or MALFORMED', async () => {
    const tampered = validWakeUp.slice()
    tampered[tampered.length - 5]! ^= 0x01
    expect(['SIGNATURE_INVALID', 'MALFORMED']).toContain(await codeOf(openWakeUp(tampered, gwa, NOW)))
    const text = formatCanonicalJson(wakeUp())
    const at = Buffer.from(validWakeUp).indexOf(Buffer.from(text))
    const forged = validWakeUp.slice()
    forged.set(new TextEncoder().encode(formatCanonicalJson(wakeUp({ counter: 18 }))), at)
    expect(peekWakeUp(forged).counter).toBe(18)
    expect(await codeOf(openWakeUp(forged, gwa, NOW))).toBe('SIGNATURE_INVALID')
  })

  it('never throws anything but AdminProtocolError for arbitrary bytes or mutations', async () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      try {
        peekWakeUp(bytes)
      } catch (err) {
        expect(err).toBeInstanceOf(AdminProtocolError)
      }
    }), { numRuns: 500 })
    await fc.assert(fc.asyncProperty(
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
      fc.option(fc.nat(), { nil: undefined }),
      async (flips, cut) => {
        const bytes = validWakeUp.slice(0, cut === undefined ? undefined : cut % (validWakeUp.length + 1))
        for (const [i, x] of flips) if (bytes.length > 0) bytes[i % bytes.length]! ^= x
        for (const run of [() => peekWakeUp(bytes), () => openWakeUp(bytes, gwa, NOW)]) {
          try {
            await run()
          } catch (err) {
            expect(err).toBeInstanceOf(AdminProtocolError)
          }
        }
      },
    ), { numRuns: 150 })
  })
})

describe('round trips (fast-check)', () => {
  const arbId = fc.stringMatching(/^[\x21-\x7e]{1,40}$/)
  const arbTime = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString())
  const arbCounter = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })

  it('any valid wake-up signs, peeks and opens to itself', async () => {
    const signer = t.cmsSigner('gwa/sig')
    await fc.assert(fc.asyncProperty(arbId, arbId, arbTime, arbCounter, async (gatewayId, gwaId, createdAt, counter) => {
      const w: WakeUp = { format: 'smgw-wakeup/1', gatewayId, gwaId, createdAt, counter }
      const der = await signWakeUp(w, signer, NOW)
      expect(der.length).toBeLessThanOrEqual(WAKE_UP_MAX_BYTES)
      expect(peekWakeUp(der)).toEqual(w)
      expect(await openWakeUp(der, gwa, NOW)).toEqual(w)
    }), { numRuns: 40 })
  })

  it('any valid command of a few types signs and peeks to itself, with any JSON in its configuration sections', async () => {
    const signer = t.cmsSigner('gwa/sig')
    // A member named __proto__ is refused on purpose (the next test); fc.jsonValue makes one now and then.
    const arbJson = fc.jsonValue({ maxDepth: 3 }).filter((v) => { try { formatCanonicalJson(v); return !JSON.stringify(v).includes('"__proto__"') } catch { return false } })
    const arbFields = fc.oneof(
      fc.record({ type: fc.constant('profile'), version: arbCounter, meters: fc.array(arbJson, { maxLength: 3 }) }),
      fc.record({ type: fc.constant('set-time-source'), time: fc.dictionary(fc.string({ maxLength: 8 }), arbJson, { maxKeys: 4 }) }),
      fc.record({ type: fc.constant('generate-csr'), kinds: fc.subarray(['tls', 'sig', 'enc'], { minLength: 1 }) }),
      fc.record({ type: fc.constant('read-log'), log: fc.constantFrom('system', 'calibration', 'consumer'), sinceSeq: fc.nat() }),
    )
    await fc.assert(fc.asyncProperty(arbId, arbCounter, arbTime, arbFields, async (commandId, sequence, issuedAt, fields) => {
      const c = { format: 'smgw-admin-command/1', commandId, gatewayId: 'smgw-0001', sequence, issuedAt, ...fields } as AdminCommand
      const der = await signCommand(c, signer, NOW)
      expect(JSON.parse(JSON.stringify(peekCommand(der)))).toEqual(JSON.parse(JSON.stringify(c)))
    }), { numRuns: 60 })
  })

  it('signWakeUp and signCommand refuse what a gateway would refuse', async () => {
    const signer = t.cmsSigner('gwa/sig')
    expect(await codeOf(signWakeUp({ ...wakeUp(), counter: 0 }, signer, NOW))).toBe('MALFORMED')
    expect(await codeOf(signCommand({ ...command(), extra: true } as unknown as AdminCommand, signer, NOW))).toBe('MALFORMED')
    expect(await codeOf(signAdminObject({ n: Number.NaN }, signer, NOW))).toBe('MALFORMED')
  })
})

describe('signer verification', () => {
  it('refuses an expired GWA certificate and accepts it while valid', async () => {
    const notAfter = new Date(NOW.getTime() + 3_600_000)
    const short = await t.issueSig(t.gwaSubject, 'sub-ca-emt', new Date(NOW.getTime() - 3_600_000), notAfter)
    const signed = await signAdminObject(command(), short.cms, NOW)
    expect((await openCommand(signed, gwa, NOW)).sequence).toBe(42)
    const late = new Date(notAfter.getTime() + 1000)
    const err = await openCommand(signed, gwa, late).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AdminProtocolError)
    expect((err as AdminProtocolError).code).toBe('SIGNATURE_INVALID')
    expect((err as AdminProtocolError).message).toContain('EXPIRED')
  })

  it('refuses a revoked GWA certificate when the CRL lists it', async () => {
    const crl = await t.revoke('sub-ca-emt', [t.cert('gwa/sig')], NOW)
    const withCrl = createSignerVerifier({ expectedSubject: t.gwaSubject, roots: [t.root], intermediates: t.intermediates, crls: [crl], notOwnRole: 'SIGNER_NOT_GWA' })
    const err = await openCommand(validCommand, withCrl, new Date(NOW.getTime() + 1000)).catch((e: unknown) => e)
    expect((err as AdminProtocolError).code).toBe('SIGNATURE_INVALID')
    expect((err as AdminProtocolError).message).toContain('REVOKED')
  })

  it("refuses the GWA's TLS certificate as a signer: only its SIG key signs", async () => {
    const byTlsKey = await signAdminObject(command(), t.cmsSigner('gwa/tls'), NOW)
    const err = await openCommand(byTlsKey, gwa, NOW).catch((e: unknown) => e)
    expect((err as AdminProtocolError).code).toBe('SIGNATURE_INVALID')
    expect((err as AdminProtocolError).message).toContain('EKU')
  })

  it('refuses a certificate with the GWA subject from outside the SM-PKI', async () => {
    const foreign = await createAdminTestPki(NOW, { gateways: 0 })
    const signed = await signAdminObject(command(), foreign.cmsSigner('gwa/sig'), NOW)
    expect(await codeOf(openCommand(signed, gwa, NOW))).toBe('SIGNATURE_INVALID')
  }, 60_000)

  it('accepts the subject as RFC 4514 text', async () => {
    const { subject } = (await import('@smgw/pki')).decodeCertificate(t.cert('gwa/sig'))
    const byText = createSignerVerifier({ expectedSubject: subject, roots: [t.root], intermediates: t.intermediates, notOwnRole: 'SIGNER_NOT_GWA' })
    expect((await openCommand(validCommand, byText, NOW)).type).toBe('rollback-profile')
  })
})

describe('commands', () => {
  it('round trips every command type', async () => {
    const b64 = Buffer.from('x').toString('base64')
    const all: Record<string, unknown>[] = [
      { type: 'profile', version: 3, meters: [{ id: 'm1' }], tariffs: [], communication: { recipients: [] }, time: { servers: [] } },
      { type: 'profile', version: 4, cls: { devices: [{ id: 'hp-1' }], emts: [] } },
      { type: 'profile', version: 5, cls: null },
      { type: 'rollback-profile', version: 2 },
      { type: 'generate-csr', kinds: ['tls', 'sig', 'enc'] },
      { type: 'install-certificates', certificates: { tls: b64, sig: b64 }, chain: [b64] },
      { type: 'update-crls', crls: [b64] },
      { type: 'firmware', package: b64 },
      { type: 'set-time-source', time: { servers: ['ntp.example'] } },
      { type: 'read-log', log: 'system', sinceSeq: 10 },
      { type: 'taf-request', profileId: 'taf6-1', useCase: 6 },
      { type: 'cls-open', deviceId: 'cls-1', emtId: 'emt-1', endpoint: 'https://emt.example:8443', timeoutS: 600 },
    ]
    for (const fields of all) {
      const c = command(fields)
      const der = await signAdminObject(c, t.cmsSigner('gwa/sig'), NOW)
      expect(peekCommand(der)).toEqual(c)
      expect(await openCommand(der, gwa, NOW)).toEqual(c)
    }
  })

  it('refuses invalid fields as MALFORMED', async () => {
    const bad: Record<string, unknown>[] = [
      { type: 'profile', version: 3 }, // names nothing
      { type: 'profile', version: 3, cls: [] }, // a section is an object (or null)
      { type: 'generate-csr', kinds: ['tls', 'tls'] },
      { type: 'generate-csr', kinds: ['gs'] },
      { type: 'install-certificates', certificates: {} },
      { type: 'taf-request', profileId: 'p', useCase: 7 },
      { type: 'cls-open', deviceId: 'd', emtId: 'e', endpoint: 'http://emt.example', timeoutS: 1 },
      { type: 'reboot' },
      { type: 'rollback-profile', version: 2, sequence: 0 },
      { type: 'rollback-profile', version: 2, gatewayId: '' },
    ]
    for (const fields of bad) {
      const der = await signAdminObject(command(fields), t.cmsSigner('gwa/sig'), NOW)
      expect(await codeOf(() => peekCommand(der)), JSON.stringify(fields)).toBe('MALFORMED')
    }
  })

  it('refuses a __proto__ member, which a schema would silently drop', async () => {
    const text = formatCanonicalJson(command({ type: 'set-time-source', time: { servers: [] } })).replace('"time":{', '"time":{"__proto__":{"polluted":true},')
    const der = await t.cmsSigner('gwa/sig').sign(new TextEncoder().encode(text), { signingTime: NOW })
    expect(await codeOf(() => peekCommand(der))).toBe('MALFORMED')
  })

  it('refuses a command signed by an EMT as SIGNER_NOT_GWA', async () => {
    const der = await signAdminObject(command({ type: 'profile', version: 9, tariffs: [] }), t.cmsSigner('emt-1/sig'), NOW)
    expect(await codeOf(openCommand(der, gwa, NOW))).toBe('SIGNER_NOT_GWA')
  })

  it('never throws anything but AdminProtocolError for mutations of a signed command', async () => {
    await fc.assert(fc.asyncProperty(fc.nat(), fc.integer({ min: 1, max: 255 }), async (i, x) => {
      const bytes = validCommand.slice()
      bytes[i % bytes.length]! ^= x
      for (const run of [() => peekCommand(bytes), () => openCommand(bytes, gwa, NOW)]) {
        try {
          await run()
        } catch (err) {
          expect(err).toBeInstanceOf(AdminProtocolError)
        }
      }
    }), { numRuns: 200 })
  })

  it('openssl cms -verify accepts a signed command and prints its canonical JSON', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'admin-protocol-'))
    try {
      await writeFile(join(dir, 'cmd.der'), validCommand)
      await writeFile(join(dir, 'root.pem'), pem(t.root))
      await writeFile(join(dir, 'chain.pem'), t.intermediates.map(pem).join(''))
      const out = await openssl(['cms', '-verify', '-inform', 'DER', '-in', join(dir, 'cmd.der'), '-CAfile', join(dir, 'root.pem'),
        '-certfile', join(dir, 'chain.pem'), '-purpose', 'any', '-attime', String(Math.floor(NOW.getTime() / 1000))])
      expect(out.toString('utf8')).toBe(formatCanonicalJson(command()))
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('freshness and versions', () => {
  it('accepts inside the window and is STALE outside', async () => {
    expect(await codeOf(() => { checkFreshness(NOW.toISOString(), new Date(NOW.getTime() + 300_000), 300) })).toBe('none')
    expect(await codeOf(() => { checkFreshness(NOW.toISOString(), new Date(NOW.getTime() + 300_001), 300) })).toBe('STALE')
    expect(await codeOf(() => { checkFreshness(NOW, new Date(NOW.getTime() - 300_001), 300) })).toBe('STALE')
    // Commands: a week into the past, only the freshness window into the future.
    expect(await codeOf(() => { checkFreshness(NOW, new Date(NOW.getTime() + 6 * 86_400_000), 7 * 86_400, 300) })).toBe('none')
    expect(await codeOf(() => { checkFreshness(NOW, new Date(NOW.getTime() - 301_000), 7 * 86_400, 300) })).toBe('STALE')
  })

  it('checks addressing and increasing counters', async () => {
    expect(await codeOf(() => { checkAddressed('smgw-0001', 'smgw-0001') })).toBe('none')
    expect(await codeOf(() => { checkAddressed('smgw-0002', 'smgw-0001') })).toBe('NOT_ADDRESSED')
    expect(await codeOf(() => { checkIncreasing(18, 17, 'counter') })).toBe('none')
    expect(await codeOf(() => { checkIncreasing(17, 17, 'counter') })).toBe('REPLAYED')
    expect(await codeOf(() => { checkIncreasing(3, 41, 'sequence') })).toBe('REPLAYED')
  })

  it('compares MAJOR.MINOR.PATCH numerically', async () => {
    expect(compareVersions('1.2.10', '1.3.0')).toBe(-1)
    expect(compareVersions('1.2.10', '1.2.9')).toBe(1)
    expect(compareVersions('2.0.0', '2.0.0')).toBe(0)
    expect(compareVersions('10.0.0', '9.99.99')).toBe(1)
    expect(await codeOf(() => compareVersions('1.2', '1.2.0'))).toBe('MALFORMED')
    expect(await codeOf(() => compareVersions('01.2.0', '1.2.0'))).toBe('MALFORMED')
    fc.assert(fc.property(fc.tuple(fc.nat(999), fc.nat(999), fc.nat(999)), fc.tuple(fc.nat(999), fc.nat(999), fc.nat(999)), (a, b) => {
      const sa = a.join('.')
      const sb = b.join('.')
      expect(compareVersions(sa, sb)).toBe(-compareVersions(sb, sa))
      const numeric = a[0] * 1e6 + a[1] * 1e3 + a[2] - (b[0] * 1e6 + b[1] * 1e3 + b[2])
      expect(compareVersions(sa, sb)).toBe(Math.sign(numeric))
    }))
  })
})

describe('firmware package', () => {
  const image = new TextEncoder().encode('console.log("healthy")\n')
  const make = (version: string, label = 'emt-1/sig') => createFirmwarePackage({ name: 'smgw', version, image, signer: t.cmsSigner(label), at: NOW })

  it('round trips and refuses a downgrade or the same version', async () => {
    const pkg = await make('1.3.0')
    const opened = await openFirmwarePackage(pkg, manufacturer, NOW, '1.2.10')
    expect(opened.manifest.version).toBe('1.3.0')
    expect(opened.image).toEqual(image)
    expect(await codeOf(openFirmwarePackage(pkg, manufacturer, NOW, '1.3.0'))).toBe('DOWNGRADE')
    expect(await codeOf(openFirmwarePackage(pkg, manufacturer, NOW, '1.10.0'))).toBe('DOWNGRADE')
  })

  it('refuses a tampered image, a foreign signer and a wrong format', async () => {
    const pkg = JSON.parse(new TextDecoder().decode(await make('1.3.0'))) as { image: string }
    const tampered = { ...pkg, image: Buffer.from('console.log("evil")\n').toString('base64') }
    expect(await codeOf(openFirmwarePackage(new TextEncoder().encode(JSON.stringify(tampered)), manufacturer, NOW, '1.0.0'))).toBe('HASH_MISMATCH')
    const byGwa = await make('1.3.0', 'gwa/sig')
    expect(await codeOf(openFirmwarePackage(byGwa, manufacturer, NOW, '1.0.0'))).toBe('SIGNER_NOT_MANUFACTURER')
    const wrong = { ...pkg, format: 'smgw-firmware-package/9' }
    expect(await codeOf(openFirmwarePackage(new TextEncoder().encode(JSON.stringify(wrong)), manufacturer, NOW, '1.0.0'))).toBe('UNSUPPORTED_FORMAT')
    expect(await codeOf(openFirmwarePackage(new TextEncoder().encode('{'), manufacturer, NOW, '1.0.0'))).toBe('MALFORMED')
  })
})

describe('session messages', () => {
  const report: AdminReport = {
    format: 'smgw-admin-report/1', gatewayId: 'smgw-0001', sentAt: NOW.toISOString(), reason: 'wake-up',
    firmware: { version: '1.2.0' }, profileVersion: 3, lastSequence: 41,
    certificates: [{ kind: 'gs', serial: '0a1b', notAfter: NOW.toISOString(), source: 'initial' }],
    time: { state: 'synchronised', offsetMs: 12, lastSync: NOW.toISOString() },
  }

  it('round trips report, results and the commands answer', () => {
    expect(decodeAdminReport(encodeAdminReport(report))).toEqual(report)
    const results = {
      format: 'smgw-admin-results/1' as const, gatewayId: 'smgw-0001',
      results: [
        { commandId: 'c1', sequence: 42, index: 0, ok: true as const, data: { version: 4 } },
        { commandId: null, sequence: null, index: 1, ok: false as const, error: { code: 'MALFORMED', message: 'not JSON' } },
      ],
    }
    expect(decodeAdminResults(encodeAdminResults(results))).toEqual(results)
    const answer = { format: 'smgw-admin-commands/1' as const, commands: [Buffer.from(validCommand).toString('base64')] }
    expect(decodeCommandsAnswer(encodeCommandsAnswer(answer))).toEqual(answer)
  })

  it('carries open consumer requests and refuses closed or malformed ones', async () => {
    const withRequests: AdminReport = {
      ...report,
      requests: [
        { id: 3, consumer: 'anna', kind: 'deletion', state: 'received', createdAt: NOW.toISOString(), text: 'Please delete my 2025 readings.' },
        { id: 4, consumer: 'anna', kind: 'tariff-choice', state: 'pending', createdAt: NOW.toISOString(), text: 'dynamic-2027' },
      ],
    }
    expect(decodeAdminReport(encodeAdminReport(withRequests))).toEqual(withRequests)
    const closed = { ...withRequests, requests: [{ ...withRequests.requests![0]!, state: 'done' }] }
    expect(await codeOf(() => decodeAdminReport(new TextEncoder().encode(JSON.stringify(closed))))).toBe('MALFORMED')
    const controls = { ...withRequests, requests: [{ ...withRequests.requests![0]!, text: 'line\nbreak' }] }
    expect(await codeOf(() => decodeAdminReport(new TextEncoder().encode(JSON.stringify(controls))))).toBe('MALFORMED')
  })

  it('refuses an invalid report when encoding and decoding', async () => {
    expect(await codeOf(() => encodeAdminReport({ ...report, lastSequence: -1 }))).toBe('MALFORMED')
    expect(await codeOf(() => decodeAdminReport(new TextEncoder().encode(JSON.stringify({ ...report, format: 'x' }))))).toBe('UNSUPPORTED_FORMAT')
    expect(await codeOf(() => decodeCommandsAnswer(new TextEncoder().encode('{"format":"smgw-admin-commands/1","commands":["%%"]}')))).toBe('MALFORMED')
  })
})

describe('error codes', () => {
  it('are the ones the README lists', () => {
    expect([...ADMIN_PROTOCOL_ERROR_CODES].sort()).toEqual([
      'DOWNGRADE', 'HASH_MISMATCH', 'MALFORMED', 'NOT_ADDRESSED', 'REPLAYED', 'SIGNATURE_INVALID', 'SIGNER_NOT_GWA',
      'SIGNER_NOT_MANUFACTURER', 'STALE', 'TOO_LARGE', 'UNSUPPORTED_FORMAT', 'KEYS_UNREADABLE',
    ].sort())
  })
})

function pem(der: Uint8Array): string {
  return `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`
}
