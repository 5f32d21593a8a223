import { AsnConvert } from '@peculiar/asn1-schema'
import { Certificate } from '@peculiar/asn1-x509'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CurveName } from '../curves.js'
import { CryptoError } from '../errors.js'
import { createOpensslPki, createTempDir, openssl, type TestPki } from '../testing/openssl.js'
import { decodeCertificate, decodeCertificateWithSchema, readCertificateDer, type CertificateInfo } from './certificate.js'
import { formatName } from './name.js'

/*
 * The strict certificate reader (readCertificateDer) against the asn1-schema path: whatever
 * the reader accepts must be DER that asn1-schema decodes to the same CertificateInfo and
 * re-encodes byte for byte; everything else must be left to asn1-schema (undefined).
 */

const CURVES_UNDER_TEST: readonly CurveName[] = ['brainpoolP256r1', 'brainpoolP384r1', 'P-256']
let tmp: { dir: string; remove: () => Promise<void> }
const pkis: TestPki[] = []
/** openssl-made certificates: roots (self-signed, CA), end entities (SKI/AKI, critical keyUsage), and v1/GeneralizedTime/T61 variants. */
const samples: Uint8Array[] = []

beforeAll(async () => {
  tmp = await createTempDir('smgw-cert-reader-')
  for (const curve of CURVES_UNDER_TEST) {
    const pki = await createOpensslPki(tmp.dir, curve)
    pkis.push(pki)
    samples.push(pki.root.certDer, pki.alice.certDer, pki.bob.certDer)
  }
  const p = pkis[0]
  if (p === undefined) throw new Error('no test PKI')
  // A v1 certificate (no extensions), a GeneralizedTime notAfter beyond 2049, a multi-valued RDN with an IA5String and escapes.
  await openssl(['x509', '-req', '-in', `${p.curve}-alice.csr`, '-CA', `${p.curve}-root.pem`, '-CAkey', `${p.curve}-root.key`, '-set_serial', '77', '-days', '2', '-out', 'v1.pem'], p.dir)
  await openssl(['req', '-x509', '-key', `${p.curve}-root.key`, '-out', 'far.pem', '-subj', '/C=DE/O=Far, Future+CN=a "b" #c/emailAddress=x@example.org', '-multivalue-rdn', '-days', '12000', '-utf8'], p.dir)
  for (const name of ['v1.pem', 'far.pem']) samples.push(new Uint8Array(await openssl(['x509', '-in', name, '-outform', 'DER'], p.dir)))
})
afterAll(async () => { await tmp.remove() })

/** The reader's verdict, checked against asn1-schema: accepted ⇒ same fields and canonical DER. */
function expectAgreement(der: Uint8Array): CertificateInfo | undefined {
  const read = readCertificateDer(der)
  if (read === undefined) return undefined
  const schema = decodeCertificateWithSchema(der)
  expect(read).toEqual(schema)
  expect(new Uint8Array(AsnConvert.serialize(AsnConvert.parse(der, Certificate)))).toEqual(der)
  expect(read.subjectText).toBe(formatName(read.subject))
  expect(read.issuerRdns.join(', ')).toBe(formatName(read.issuer))
  return read
}

describe('certificate reader', () => {
  it('reads every openssl-made certificate (v3 and v1) exactly as asn1-schema does', () => {
    for (const der of samples) {
      expect(expectAgreement(der)).toBeDefined()
      expect(decodeCertificate(der)).toEqual(decodeCertificateWithSchema(der))
    }
    expect(samples.map((d) => decodeCertificate(d).version)).toContain(1)
  })

  it('the GeneralizedTime year, the multi-valued RDN and RFC 4514 escaping', () => {
    const far = decodeCertificate(samples[samples.length - 1] ?? new Uint8Array(0))
    expect(far.notAfter.getUTCFullYear()).toBeGreaterThanOrEqual(2050)
    // openssl sorts the SET OF of the multi-valued RDN (X.690 §11.6: DER orders SET OF by encoding).
    expect(far.subjectText).toBe('C=DE, CN=a \\"b\\" #c+O=Far\\, Future, 1.2.840.113549.1.9.1=x@example.org')
    expect(far.subjectRdns).toHaveLength(3)
  })

  it('curve from the named-curve OID of the SPKI; the point is not checked here', () => {
    const der = pkis[0]?.alice.certDer ?? new Uint8Array(0)
    expect(decodeCertificate(der).curve).toBe('brainpoolP256r1')
    expect(decodeCertificate(pkis[2]?.bob.certDer ?? new Uint8Array(0)).curve).toBe('P-256')
  })

  it('property: any single changed byte of a real certificate — accepted only as asn1-schema reads it, otherwise left to it', () => {
    fc.assert(fc.property(fc.nat(samples.length - 1), fc.nat(), fc.integer({ min: 1, max: 255 }), (which, position, xor) => {
      const der = (samples[which] ?? new Uint8Array(0)).slice()
      const at = position % der.length
      der[at] = (der[at] ?? 0) ^ xor
      expectAgreement(der)
      // The public function either decodes or throws CERT_MALFORMED, never a foreign error.
      try {
        decodeCertificate(der)
      } catch (err) {
        expect(err).toBeInstanceOf(CryptoError)
      }
    }), { numRuns: 1000 })
  })

  it('property: truncated, extended and spliced certificates', () => {
    fc.assert(fc.property(fc.nat(samples.length - 1), fc.nat(), fc.uint8Array({ maxLength: 8 }), (which, cut, insert) => {
      const der = samples[which] ?? new Uint8Array(0)
      const at = cut % der.length
      const spliced = new Uint8Array([...der.subarray(0, at), ...insert, ...der.subarray(at)])
      expectAgreement(spliced)
      expect(readCertificateDer(der.subarray(0, at))).toBeUndefined()
    }), { numRuns: 1000 })
  })

  it('declines a GeneralizedTime before 2050 (RFC 5280 §4.1.2.5): asn1-schema re-encodes it as UTCTime', () => {
    const far = samples[samples.length - 1] ?? new Uint8Array(0)
    // The notAfter beyond 2049: tag 18, length 0f, "20…". Year 2059 → 0059 (a fuzzer's find: Date.UTC reads 59 as 1959).
    const at = Buffer.from(far).indexOf(Buffer.from([0x18, 0x0f, 0x32, 0x30]))
    expect(at).toBeGreaterThan(0)
    const early = far.slice()
    early[at + 2] = 0x30
    expect(readCertificateDer(early)).toBeUndefined()
    expect(readCertificateDer(far)).toBeDefined()
  })

  it('declines what asn1-schema would re-encode differently: explicit critical FALSE, v1 written out, BER lengths', () => {
    const der = pkis[0]?.alice.certDer ?? new Uint8Array(0)
    // keyUsage critical TRUE (01 01 ff) → FALSE (01 01 00): DER leaves a FALSE default out.
    const i = Buffer.from(der).indexOf(Buffer.from([0x01, 0x01, 0xff]))
    expect(i).toBeGreaterThan(0)
    const critFalse = der.slice()
    critFalse[i + 2] = 0
    expect(readCertificateDer(critFalse)).toBeUndefined()
    // A long-form length for a short value (81 xx) is BER, not DER.
    const ber = new Uint8Array([0x30, 0x81, 0x05, 0x02, 0x01, 0x01, 0x05, 0x00])
    expect(readCertificateDer(ber)).toBeUndefined()
  })
})
