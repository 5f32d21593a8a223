import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import { Attribute, CMSVersion, DigestAlgorithmIdentifier, IssuerAndSerialNumber, SignatureAlgorithmIdentifier, SignerIdentifier, SignerInfo } from '@peculiar/asn1-cms'
import { ECParameters } from '@peculiar/asn1-ecc'
import { AlgorithmIdentifier, Name, Time } from '@peculiar/asn1-x509'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CryptoError } from '../errors.js'
import type { CertificateInfo } from '../keys/certificate.js'
import { encodeOid } from '../primitives/ec-public-key.js'
import { encodeSetOf } from './bytes.js'
import {
  createPartParser, createRememberingPartParser, decodeAlgorithmOid, decodeOctetString, decodeOidValue, decodeTimeValue, matchesIssuerAndSerial,
} from './content-info.js'
import { readChildren, readDerChildren, tlv } from './der.js'
import { receivedSignedAttributes } from './verify.js'

// The receive path takes signed attributes and identifiers as received bytes; these check
// that this gives exactly what re-encoding the asn1-schema decoding gives, or declines.

const oid = fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 39 }), fc.array(fc.integer({ min: 0, max: 2 ** 28 - 1 }), { maxLength: 6 }))
  .map(([a, b, rest]) => [a, b, ...rest].join('.'))
const utcTime = fc.stringMatching(/^\d{12}Z$/).map((t) => tlv(0x17, new TextEncoder().encode(t)).slice().buffer)
const octets = fc.uint8Array({ maxLength: 200 }).map((b) => AsnConvert.serialize(new OctetString(b)))
const oidValue = oid.map((o) => encodeOid(o))
const value = fc.oneof(octets, utcTime, oidValue, fc.array(fc.oneof(octets, oidValue), { maxLength: 3 }).map((vs) => tlv(0x30, ...vs.map((v) => new Uint8Array(v))).slice().buffer))
const attributes = fc.array(fc.record({ attrType: oid, attrValues: fc.array(value, { minLength: 1, maxLength: 3 }) }), { minLength: 1, maxLength: 5 })

function signerInfoDer(attrs: readonly { attrType: string; attrValues: ArrayBuffer[] }[]): Uint8Array {
  const si = new SignerInfo({
    version: CMSVersion.v1,
    sid: new SignerIdentifier({ issuerAndSerialNumber: new IssuerAndSerialNumber({ issuer: new Name(), serialNumber: new Uint8Array([1, 2, 3]).buffer }) }),
    digestAlgorithm: new DigestAlgorithmIdentifier({ algorithm: '2.16.840.1.101.3.4.2.1' }),
    signedAttrs: attrs.map((a) => new Attribute(a)),
    signatureAlgorithm: new SignatureAlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' }),
    signature: new OctetString(new Uint8Array([5, 6, 7])),
  })
  return new Uint8Array(AsnConvert.serialize(si))
}

function reEncoded(der: Uint8Array): { attrs: Uint8Array; count: number } {
  const si = AsnConvert.parse(der, SignerInfo)
  const list = si.signedAttrs ?? []
  return { attrs: encodeSetOf(list.map((a) => new Uint8Array(AsnConvert.serialize(a)))), count: list.length }
}

/** `der` with the length octets of the TLV at `at` (short form) rewritten in a non-minimal long form. */
function stretchLength(der: Uint8Array, at: number): Uint8Array {
  const len = der[at + 1] ?? 0
  return new Uint8Array([...der.subarray(0, at + 1), 0x81, len, ...der.subarray(at + 2)])
}

describe('received bytes on the receive path', () => {
  it('readDerChildren refuses non-minimal and indefinite lengths that readChildren takes', () => {
    const minimal = Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x05)
    expect(readDerChildren(minimal)?.map((c) => c.tag)).toEqual([0x02])
    const longForm = Uint8Array.of(0x30, 0x81, 0x03, 0x02, 0x01, 0x05)
    expect(readChildren(longForm)?.length).toBe(1)
    expect(readDerChildren(longForm)).toBeUndefined()
    expect(readDerChildren(Uint8Array.of(0x30, 0x82, 0x00, 0x03, 0x02, 0x01, 0x05))).toBeUndefined()
    expect(readDerChildren(Uint8Array.of(0x30, 0x80, 0x02, 0x01, 0x05, 0x00, 0x00))).toBeUndefined()
    expect(readDerChildren(Uint8Array.of(0x30, 0x04, 0x02, 0x01, 0x05))).toBeUndefined()
  })

  it('signed attributes as received are byte for byte the re-encoded DER SET (RFC 5652 §5.4)', () => {
    fc.assert(fc.property(attributes, (attrs) => {
      const der = signerInfoDer(attrs)
      const { attrs: expected, count } = reEncoded(der)
      const got = receivedSignedAttributes(der, count)
      expect(got).toBeDefined()
      expect(Buffer.from(got ?? new Uint8Array()).equals(expected)).toBe(true)
      expect(receivedSignedAttributes(der, count + 1)).toBeUndefined()
    }))
  })

  it('a mutated SignerInfo gives either the re-encoded attributes or undefined (then the verifier re-encodes)', () => {
    fc.assert(fc.property(attributes, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean(), (attrs, where, byte, stretch) => {
      const der = signerInfoDer(attrs)
      let mutated: Uint8Array
      if (stretch) {
        // Stretch the length of some TLV with a short-form length: the encoding is BER, not DER.
        const starts = [...der.keys()].filter((i) => i + 1 < der.length && (der[i + 1] ?? 0x80) < 0x80 && [0x30, 0x31, 0xa0, 0x04, 0x06].includes(der[i] ?? 0))
        mutated = stretchLength(der, starts[where % starts.length] ?? 0)
      } else {
        mutated = der.slice()
        mutated[where % der.length] = byte
      }
      let expected: { attrs: Uint8Array; count: number }
      try {
        expected = reEncoded(mutated)
      } catch {
        return
      }
      const got = receivedSignedAttributes(mutated, expected.count)
      if (got !== undefined) expect(Buffer.from(got).equals(expected.attrs)).toBe(true)
    }), { numRuns: 300 })
  })

  it('declines BER lengths in the attributes', () => {
    const der = signerInfoDer([{ attrType: '1.2.840.113549.1.9.3', attrValues: [AsnConvert.serialize(new OctetString(new Uint8Array(4)))] }])
    const attrsAt = der.indexOf(0xa0)
    expect(receivedSignedAttributes(der, 1)).toBeDefined()
    expect(receivedSignedAttributes(stretchLength(der, attrsAt), 1)).toBeUndefined()
    expect(receivedSignedAttributes(stretchLength(der, attrsAt + 2), 1)).toBeUndefined()
  })

  it('issuerAndSerialNumber compared as received bytes agrees with comparing the re-encoded DER', () => {
    const issuerOf = nameWith
    fc.assert(fc.property(fc.string({ minLength: 1, maxLength: 10 }), fc.string({ minLength: 1, maxLength: 10 }), fc.uint8Array({ minLength: 1, maxLength: 4 }), fc.uint8Array({ minLength: 1, maxLength: 4 }), fc.boolean(), (a, b, sa, sb, stretch) => {
      const id = new IssuerAndSerialNumber({ issuer: issuerOf(a), serialNumber: sa.slice().buffer })
      let der: Uint8Array = new Uint8Array(AsnConvert.serialize(id))
      if (stretch) der = stretchLength(der, 2) // the issuer Name's length in BER: the raw comparison must not decide alone
      const parsed = AsnConvert.parse(der, IssuerAndSerialNumber)
      const cert = { issuer: new Uint8Array(AsnConvert.serialize(issuerOf(b))), serialNumber: sb } as unknown as CertificateInfo
      const same = { issuer: new Uint8Array(AsnConvert.serialize(issuerOf(a))), serialNumber: sa } as unknown as CertificateInfo
      for (const c of [cert, same]) expect(matchesIssuerAndSerial(parsed, c, der)).toBe(matchesIssuerAndSerial(parsed, c))
      expect(matchesIssuerAndSerial(parsed, same, der)).toBe(true)
    }))
  })
})

/** Name ::= SEQUENCE { SET { SEQUENCE { id-at-commonName, UTF8String } } } (RFC 5280 §4.1.2.4), in DER. */
function nameWith(cn: string): Name {
  const cnOid = Uint8Array.of(0x06, 0x03, 0x55, 0x04, 0x03)
  return AsnConvert.parse(tlv(0x30, tlv(0x31, tlv(0x30, cnOid, tlv(0x0c, new TextEncoder().encode(cn))))), Name)
}

/** What `read` gives, or the error code it throws (CryptoError) / 'foreign' (anything else). */
function outcome(read: () => unknown): unknown {
  try {
    const v = read()
    return v instanceof Uint8Array ? { bytes: Buffer.from(v).toString('hex') } : v instanceof Date ? { time: v.getTime() } : v
  } catch (err) {
    return { error: err instanceof CryptoError ? err.code : 'foreign' }
  }
}

/** asn1-schema's reading, with failures as CMS_MALFORMED (what parseAsn throws). */
function schema(read: () => unknown): unknown {
  return outcome(() => {
    try {
      return read()
    } catch (err) {
      throw new CryptoError('CMS_MALFORMED', 'schema', { cause: err })
    }
  })
}

/** `der` with one byte replaced, or with the length of some short-form TLV stretched (BER), or as it is. */
const mutation = fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 2 }))
function mutate(der: Uint8Array, [where, byte, kind]: [number, number, number]): Uint8Array {
  if (kind === 0 || der.length === 0) return der
  if (kind === 1) {
    const m = der.slice()
    m[where % der.length] = byte
    return m
  }
  const starts = [...der.keys()].filter((i) => i + 1 < der.length && (der[i + 1] ?? 0x80) < 0x80)
  return stretchLength(der, starts[where % Math.max(1, starts.length)] ?? 0)
}

describe('single received values: read by hand where DER and common, else by asn1-schema, with the same result', () => {
  const buffer = (b: Uint8Array): ArrayBuffer => b.slice().buffer

  it('property: OCTET STRING (message-digest, CBC IV)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), mutation, (v, m) => {
      const der = mutate(new Uint8Array(AsnConvert.serialize(new OctetString(v))), m)
      expect(outcome(() => decodeOctetString(buffer(der), 'x'))).toEqual(schema(() => new Uint8Array(AsnConvert.parse(der, OctetString).buffer)))
    }), { numRuns: 500 })
    // BER forms (constructed, long-form length) are left to asn1-schema, whatever it makes of them.
    for (const ber of [Uint8Array.of(0x24, 0x08, 0x04, 0x02, 0x61, 0x62, 0x04, 0x02, 0x63, 0x64), Uint8Array.of(0x04, 0x81, 0x01, 0x61)]) {
      expect(outcome(() => decodeOctetString(buffer(ber), 'x'))).toEqual(schema(() => new Uint8Array(AsnConvert.parse(ber, OctetString).buffer)))
    }
  })

  it('property: OBJECT IDENTIFIER (content-type attribute, named curve)', () => {
    fc.assert(fc.property(oid, mutation, (o, m) => {
      const der = mutate(new Uint8Array(encodeOid(o)), m)
      const expected = schema(() => {
        const named = AsnConvert.parse(der, ECParameters).namedCurve
        if (named === undefined) throw new Error('not an OID')
        return named
      })
      expect(outcome(() => decodeOidValue(buffer(der), 'x'))).toEqual(expected)
    }), { numRuns: 500 })
  })

  it('property: Time (signing-time), UTCTime read by hand as asn1js reads it', () => {
    const utc = fc.oneof(fc.stringMatching(/^\d{12}Z$/), fc.stringMatching(/^[0-9Z+.-]{10,15}$/)).map((t) => tlv(0x17, new TextEncoder().encode(t)))
    const general = fc.date({ min: new Date('1950-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true })
      .map((d) => new Uint8Array(AsnConvert.serialize(new Time({ generalTime: new Date(Math.floor(d.getTime() / 1000) * 1000) }))))
    fc.assert(fc.property(fc.oneof(utc, general), mutation, (value, m) => {
      const der = mutate(value, m)
      expect(outcome(() => decodeTimeValue(buffer(der), 'x'))).toEqual(schema(() => AsnConvert.parse(der, Time).getTime()))
    }), { numRuns: 1000 })
    expect(decodeTimeValue(buffer(tlv(0x17, new TextEncoder().encode('260301001500Z'))), 'x').toISOString()).toBe('2026-03-01T00:15:00.000Z')
    expect(decodeTimeValue(buffer(tlv(0x17, new TextEncoder().encode('500101000000Z'))), 'x').toISOString()).toBe('1950-01-01T00:00:00.000Z')
  })

  it('property: AlgorithmIdentifier (key wrap algorithm)', () => {
    const params = fc.constantFrom(undefined, Uint8Array.of(0x05, 0x00), Uint8Array.of(0x04, 0x01, 0x07), Uint8Array.of(0x06, 0x03, 0x2b, 0x81, 0x04))
    fc.assert(fc.property(oid, params, mutation, (o, p, m) => {
      const der = mutate(new Uint8Array(AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: o, ...(p === undefined ? {} : { parameters: buffer(p) }) }))), m)
      expect(outcome(() => decodeAlgorithmOid(buffer(der), 'x'))).toEqual(schema(() => AsnConvert.parse(der, AlgorithmIdentifier).algorithm))
    }), { numRuns: 500 })
  })
})

describe('identifiers parsed once per received encoding (createRememberingPartParser)', () => {
  const sid = (cn: string, serial: number) => new Uint8Array(AsnConvert.serialize(new SignerIdentifier({ issuerAndSerialNumber: new IssuerAndSerialNumber({ issuer: nameWith(cn), serialNumber: Uint8Array.of(serial).buffer }) })))

  it('property: gives what parsing gives, for repeated, new and malformed encodings', () => {
    const pool = fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 1, max: 3 }), mutation), { maxLength: 30 })
    fc.assert(fc.property(pool, fc.integer({ min: 0, max: 4 }), (ids, max) => {
      const remembering = createRememberingPartParser(SignerIdentifier, max)
      const parse = createPartParser(SignerIdentifier)
      for (const [cn, serial, m] of ids) {
        const der = mutate(sid(cn, serial), m)
        const got = remembering(der)
        const expected = parse(der)
        // Compared as re-encoded (some parsed Names do not re-encode: then both must fail alike).
        expect(outcome(() => got && hex(AsnConvert.serialize(got)))).toEqual(outcome(() => expected && hex(AsnConvert.serialize(expected))))
      }
    }), { numRuns: 200 })
  })

  it('remembers at most `max` encodings, oldest forgotten first', () => {
    const remembering = createRememberingPartParser(SignerIdentifier, 2)
    const a = remembering(sid('a', 1))
    expect(a).toBeDefined()
    expect(remembering(sid('a', 1))).toBe(a)
    remembering(sid('b', 1))
    remembering(sid('c', 1))
    const again = remembering(sid('a', 1))
    expect(again).not.toBe(a)
    expect(hex(AsnConvert.serialize(again ?? new SignerIdentifier()))).toBe(hex(AsnConvert.serialize(a ?? new SignerIdentifier())))
    expect(remembering(Uint8Array.of(0x30, 0x01))).toBeUndefined()
  })
})

const hex = (b: ArrayBuffer): string => Buffer.from(b).toString('hex')
