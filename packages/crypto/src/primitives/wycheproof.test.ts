// Wycheproof (C2SP, testvectors_v1) through the primitives CMS uses: every `valid` case
// must be accepted with the expected output, every `invalid` one rejected with a
// CryptoError; for `acceptable` cases the test name says what we do.
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import type { CurveName, HashName } from '../curves.js'
import { CryptoError } from '../errors.js'
import { aesCbcDecrypt, aesCbcEncrypt, aesGcmDecrypt, aesGcmEncrypt, aesKeyUnwrap, aesKeyWrap } from './aes.js'
import { createEcPrivateKeyFromScalar, deriveEcdh } from './ecdh.js'
import { verifyEcdsa, type SignatureFormat } from './ecdsa.js'
import { createKeyObjectAgreer } from '../keys/key-object.js'
import { nativeEcdhStatus } from './native-ecdh.js'

const dir = fileURLToPath(new URL('../../../../../shared/vectors/wycheproof/', import.meta.url))

interface Case { tcId: number; result: 'valid' | 'invalid' | 'acceptable'; flags: string[]; [field: string]: unknown }
interface Group { tests: Case[]; [field: string]: unknown }
interface Outcome { tc: Case; accepted: boolean; foreign?: unknown }

const hex = (v: unknown): Uint8Array => new Uint8Array(Buffer.from(String(v), 'hex'))

function load(file: string): Group[] {
  return (JSON.parse(readFileSync(dir + file, 'utf8')) as { testGroups: Group[] }).testGroups
}

/** Runs `check` on every case: true = accepted with the right output, false / CryptoError = rejected, anything else thrown is recorded as foreign. */
function evaluate(groups: Group[], check: (tc: Case, group: Group) => boolean): Outcome[] {
  return groups.flatMap((g) => g.tests.map((tc) => {
    try {
      return { tc, accepted: check(tc, g) }
    } catch (err) {
      return err instanceof CryptoError ? { tc, accepted: false } : { tc, accepted: false, foreign: err }
    }
  }))
}

function summary(file: string, outcomes: Outcome[]): string {
  const n = (r: string, acc?: boolean): number => outcomes.filter((o) => o.tc.result === r && (acc === undefined || o.accepted === acc)).length
  const acceptable = n('acceptable')
  return `${file}: ${String(outcomes.length)} cases, ${String(n('valid', true))}/${String(n('valid'))} valid accepted, ${String(n('invalid', false))}/${String(n('invalid'))} invalid rejected` +
    (acceptable > 0 ? `, ${String(acceptable)} acceptable (${String(n('acceptable', true))} accepted, ${String(n('acceptable', false))} rejected)` : '')
}

function expectConformance(outcomes: Outcome[], validRejected: readonly number[] = []): void {
  expect(outcomes.filter((o) => o.foreign !== undefined).map((o) => o.tc.tcId)).toEqual([])
  expect(outcomes.filter((o) => o.tc.result === 'valid' && !o.accepted).map((o) => o.tc.tcId)).toEqual(validRejected)
  expect(outcomes.filter((o) => o.tc.result === 'invalid' && o.accepted).map((o) => o.tc.tcId)).toEqual([])
}

/**
 * ECDH conformance, and what we do with `acceptable` (documented in README.md): compressed points
 * are accepted, explicit-parameter (UnnamedCurve) keys and non-DER ASN.1 (InvalidAsn) are rejected.
 */
function expectEcdhConformance(outcomes: Outcome[]): void {
  expectConformance(outcomes)
  const acceptedFlags = new Set(outcomes.filter((o) => o.tc.result === 'acceptable' && o.accepted).flatMap((o) => o.tc.flags))
  expect([...acceptedFlags].sort()).toEqual(['CompressedPoint', 'CompressedPublic'])
}

const equal = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0

describe.skipIf(!existsSync(dir))('Wycheproof', () => {
  const ecdsaFiles: [string, SignatureFormat, number][] = []
  for (const [curve, bits] of [['brainpoolP256r1', 256], ['brainpoolP384r1', 384], ['brainpoolP512r1', 512]] as const) {
    ecdsaFiles.push([`ecdsa_${curve}_sha${String(bits)}_test.json`, 'der', 0], [`ecdsa_${curve}_sha${String(bits)}_p1363_test.json`, 'p1363', 0])
  }
  for (const [file, format] of ecdsaFiles) {
    const outcomes = evaluate(load(file), (tc, g) => verifyEcdsa(hex(g.publicKeyDer), hex(tc.msg), hex(tc.sig), g.sha as HashName, format))
    it(summary(file, outcomes), () => {
      expectConformance(outcomes)
      expect(outcomes.length).toBeGreaterThan(200)
    })
  }

  for (const curve of ['brainpoolP256r1', 'brainpoolP384r1', 'brainpoolP512r1'] as const satisfies readonly CurveName[]) {
    const file = `ecdh_${curve}_test.json`
    const outcomes = evaluate(load(file), (tc) => equal(deriveEcdh(createEcPrivateKeyFromScalar(curve, hex(tc.private)), hex(tc.public)), hex(tc.shared)))
    it(summary(file, outcomes), () => { expectEcdhConformance(outcomes) })
  }

  // The same ECDH cases through the key agreer a receiver uses: canonical SPKIs go to the
  // native binding (native-ecdh.ts), everything else to deriveEcdh; the outcomes must not differ.
  for (const curve of ['brainpoolP256r1', 'brainpoolP384r1', 'brainpoolP512r1'] as const satisfies readonly CurveName[]) {
    const file = `ecdh_${curve}_test.json`
    it(`${file} through createKeyObjectAgreer (native binding ${nativeEcdhStatus().available ? 'loaded' : 'NOT loaded'})`, async () => {
      expect(nativeEcdhStatus().available).toBe(true)
      const outcomes = await Promise.all(load(file).flatMap((g) => g.tests.map(async (tc): Promise<Outcome> => {
        try {
          const agreer = createKeyObjectAgreer(createEcPrivateKeyFromScalar(curve, hex(tc.private)))
          return { tc, accepted: equal(await agreer.deriveSharedSecret(hex(tc.public)), hex(tc.shared)) }
        } catch (err) {
          return err instanceof CryptoError ? { tc, accepted: false } : { tc, accepted: false, foreign: err }
        }
      })))
      expectEcdhConformance(outcomes)
    })
  }

  {
    const file = 'aes_gcm_test.json'
    const outcomes = evaluate(load(file), (tc) => {
      const key = hex(tc.key); const iv = hex(tc.iv); const aad = hex(tc.aad); const ct = hex(tc.ct); const tag = hex(tc.tag)
      const opened = aesGcmDecrypt(key, iv, ct, tag, aad)
      if (!equal(opened, hex(tc.msg))) return false
      const sealed = aesGcmEncrypt(key, iv, hex(tc.msg), aad, tag.length)
      return equal(sealed.ciphertext, ct) && equal(sealed.tag, tag)
    })
    it(summary(file, outcomes), () => {
      // The only valid cases we refuse: 257-byte nonces (LongIv), over OpenSSL's 128-byte GCM nonce limit. CMS uses 12.
      const longIv = outcomes.filter((o) => o.tc.flags.includes('LongIv') && String(o.tc.iv).length / 2 > 128).map((o) => o.tc.tcId)
      expect(longIv).toHaveLength(3)
      expectConformance(outcomes, longIv)
    })
  }

  {
    const file = 'aes_cbc_pkcs5_test.json'
    const outcomes = evaluate(load(file), (tc) => {
      const key = hex(tc.key); const iv = hex(tc.iv); const ct = hex(tc.ct)
      const opened = aesCbcDecrypt(key, iv, ct)
      return equal(opened, hex(tc.msg)) && equal(aesCbcEncrypt(key, iv, opened), ct)
    })
    it(summary(file, outcomes), () => { expectConformance(outcomes) })
  }

  for (const [file, padded] of [['aes_wrap_test.json', false], ['aes_kwp_test.json', true]] as const) {
    const outcomes = evaluate(load(file), (tc) => {
      const key = hex(tc.key); const ct = hex(tc.ct)
      const opened = aesKeyUnwrap(key, ct, padded)
      return equal(opened, hex(tc.msg)) && equal(aesKeyWrap(key, opened, padded), ct)
    })
    it(summary(file, outcomes), () => {
      expectConformance(outcomes)
      // `acceptable` ShortKey (8-byte keys wrapped by RFC 3394, allowed by RFC 3394 §2 but not by RFC 5649 / NIST SP 800-38F for KW): rejected.
      expect(outcomes.filter((o) => o.tc.result === 'acceptable' && o.accepted)).toEqual([])
    })
  }
})
