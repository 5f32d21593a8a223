import { OctetString } from '@peculiar/asn1-schema'
import {
  CMSVersion, ContentEncryptionAlgorithmIdentifier, EncryptedContent, EncryptedContentInfo, EnvelopedData, KeyAgreeRecipientIdentifier, KeyAgreeRecipientInfo,
  KeyEncryptionAlgorithmIdentifier, OriginatorIdentifierOrKey, OriginatorPublicKey, RecipientEncryptedKey, RecipientEncryptedKeys, RecipientInfo, RecipientInfos,
} from '@peculiar/asn1-cms'
import { AlgorithmIdentifier } from '@peculiar/asn1-x509'
import { createPartParser, type PartParser } from './content-info.js'
import { TAG, decodeOid, readDerChildren, type RawTlv } from './der.js'

/**
 * A strict reader for exactly the EnvelopedData we receive (RFC 5652 §6.1, §6.2.2; RFC 5753):
 * version 2, no originatorInfo, one KeyAgreeRecipientInfo (version 3, originatorKey,
 * optional ukm, key-wrap parameters), an EncryptedContentInfo with a primitive
 * encryptedContent, no unprotectedAttrs, DER lengths throughout. It builds the same
 * asn1-schema objects AsnConvert.parse would (the decryptor is unchanged).
 * Why: asn1-schema parsing dominated the receive path (profiled: parsing the EnvelopedData
 * cost about as much as the ECDH). Anything else gives undefined and is parsed by asn1-schema
 * (other recipient kinds, several recipients, other versions, BER). enveloped-reader.test.ts
 * checks that both agree on valid and mutated messages. OCTET STRING contents are given to
 * asn1-schema as views: its OctetString copies them into its own buffer (once). `parseRid` parses the (small)
 * recipient identifiers; a prepared decryptor passes one that remembers them.
 */
export function readEnvelopedData(der: Uint8Array, parseRid: PartParser<KeyAgreeRecipientIdentifier> = PARSE_RID): EnvelopedData | undefined {
  const fields = der[0] === TAG.SEQUENCE ? readDerChildren(der) : undefined
  if (fields?.length !== 3) return undefined
  const [version, recipients, eci] = fields
  if (!isSmallInteger(version, 2) || recipients?.tag !== TAG.SET || eci?.tag !== TAG.SEQUENCE) return undefined
  const infos = readDerChildren(recipients.bytes)
  if (infos?.length !== 1 || infos[0]?.tag !== TAG.CONTEXT_1) return undefined
  const kari = readKari(infos[0], parseRid)
  const content = kari === undefined ? undefined : readEncryptedContentInfo(eci)
  if (kari === undefined || content === undefined) return undefined
  return new EnvelopedData({
    version: CMSVersion.v2,
    recipientInfos: new RecipientInfos([new RecipientInfo({ kari })]),
    encryptedContentInfo: content,
  })
}

// RFC 5652 §6.2.2: KeyAgreeRecipientInfo ::= [1] IMPLICIT SEQUENCE { version 3, originator [0] EXPLICIT, ukm [1] EXPLICIT OPTIONAL, keyEncryptionAlgorithm, recipientEncryptedKeys }
function readKari(tlv: RawTlv, parseRid: PartParser<KeyAgreeRecipientIdentifier>): KeyAgreeRecipientInfo | undefined {
  const f = readDerChildren(tlv.bytes)
  if (f === undefined || (f.length !== 4 && f.length !== 5) || !isSmallInteger(f[0], 3) || f[1]?.tag !== TAG.CONTEXT_0) return undefined
  const hasUkm = f.length === 5
  const ukmTlv = hasUkm ? f[2] : undefined
  const algTlv = f[hasUkm ? 3 : 2]
  const keysTlv = f[hasUkm ? 4 : 3]
  // originator [0] EXPLICIT OriginatorIdentifierOrKey, originatorKey [1] IMPLICIT OriginatorPublicKey (RFC 5753 §3.1.1: an ephemeral key)
  const orig = readDerChildren(f[1].bytes)
  if (orig?.length !== 1 || orig[0]?.tag !== TAG.CONTEXT_1) return undefined
  const okp = readDerChildren(orig[0].bytes)
  if (okp?.length !== 2 || okp[1]?.tag !== TAG.BIT_STRING) return undefined
  const originatorAlg = readAlgorithm(okp[0], true)
  const bits = okp[1].contents
  if (originatorAlg === undefined || bits.length < 2 || bits[0] !== 0) return undefined
  let ukm: OctetString | undefined
  if (ukmTlv !== undefined) {
    const inner = ukmTlv.tag === TAG.CONTEXT_1 ? readDerChildren(ukmTlv.bytes) : undefined
    if (inner?.length !== 1 || inner[0]?.tag !== TAG.OCTET_STRING) return undefined
    ukm = new OctetString(inner[0].contents)
  }
  const keyAlg = readAlgorithm(algTlv, false)
  const keys = keysTlv?.tag === TAG.SEQUENCE ? readDerChildren(keysTlv.bytes) : undefined
  if (keyAlg === undefined || keys === undefined || keys.length === 0) return undefined
  const reks: RecipientEncryptedKey[] = []
  for (const k of keys) {
    const rek = k.tag === TAG.SEQUENCE ? readDerChildren(k.bytes) : undefined
    if (rek?.length !== 2 || rek[1]?.tag !== TAG.OCTET_STRING || rek[0] === undefined) return undefined
    // rid: issuerAndSerialNumber SEQUENCE { Name, INTEGER } or rKeyId [0] IMPLICIT SEQUENCE { OCTET STRING } only (no date, no other).
    const ridParts = readDerChildren(rek[0].bytes)
    const plainRid = rek[0].tag === TAG.SEQUENCE
      ? ridParts?.length === 2 && ridParts[0]?.tag === TAG.SEQUENCE && ridParts[1]?.tag === TAG.INTEGER
      : rek[0].tag === TAG.CONTEXT_0 && ridParts?.length === 1 && ridParts[0]?.tag === TAG.OCTET_STRING
    if (!plainRid) return undefined
    // Small, and compared as received bytes anyway (matchesIssuerAndSerial): left to asn1-schema (parseRid).
    const rid = parseRid(rek[0].bytes)
    if (rid === undefined) return undefined
    reks.push(new RecipientEncryptedKey({ rid, encryptedKey: new OctetString(rek[1].contents) }))
  }
  return new KeyAgreeRecipientInfo({
    version: CMSVersion.v3,
    originator: new OriginatorIdentifierOrKey({ originatorKey: new OriginatorPublicKey({ algorithm: new AlgorithmIdentifier(originatorAlg), publicKey: bits.slice(1).buffer }) }),
    ...(ukm === undefined ? {} : { ukm }),
    keyEncryptionAlgorithm: new KeyEncryptionAlgorithmIdentifier(keyAlg),
    recipientEncryptedKeys: new RecipientEncryptedKeys(reks),
  })
}

// RFC 5652 §6.1: EncryptedContentInfo ::= SEQUENCE { contentType, contentEncryptionAlgorithm, encryptedContent [0] IMPLICIT OCTET STRING (primitive here) }
function readEncryptedContentInfo(tlv: RawTlv): EncryptedContentInfo | undefined {
  const f = readDerChildren(tlv.bytes)
  if (f?.length !== 3 || f[0]?.tag !== TAG.OID || f[2]?.tag !== TAG.CONTEXT_0_PRIMITIVE) return undefined
  const contentType = decodeOid(f[0].contents)
  const alg = readAlgorithm(f[1], false)
  if (contentType === undefined || alg === undefined) return undefined
  return new EncryptedContentInfo({
    contentType,
    contentEncryptionAlgorithm: new ContentEncryptionAlgorithmIdentifier(alg),
    encryptedContent: new EncryptedContent({ value: new OctetString(f[2].contents) }),
  })
}

/** AlgorithmIdentifier with its parameters as received (RFC 5280 §4.1.1.2); parameters required unless `optional`, NULL refused (left to asn1-schema). */
function readAlgorithm(tlv: RawTlv | undefined, optional: boolean): { algorithm: string; parameters?: ArrayBuffer } | undefined {
  const f = tlv?.tag === TAG.SEQUENCE ? readDerChildren(tlv.bytes) : undefined
  if (f === undefined || f.length < 1 || f.length > 2 || f[0]?.tag !== TAG.OID) return undefined
  const algorithm = decodeOid(f[0].contents)
  const params = f[1]
  if (algorithm === undefined) return undefined
  if (params === undefined) return optional ? { algorithm } : undefined
  // Only the parameter forms we use, in forms asn1-schema re-encodes exactly (it re-encodes
  // ANY through asn1js): OBJECT IDENTIFIER (named curve), SEQUENCE { OBJECT IDENTIFIER [, NULL] }
  // (key wrap algorithm), primitive OCTET STRING (IV).
  if (params.tag === TAG.OID) {
    if (decodeOid(params.contents) === undefined) return undefined
  } else if (params.tag === TAG.SEQUENCE) {
    const inner = readDerChildren(params.bytes)
    if (inner === undefined || inner.length < 1 || inner.length > 2 || inner[0]?.tag !== TAG.OID || decodeOid(inner[0].contents) === undefined) return undefined
    if (inner[1] !== undefined && (inner[1].tag !== TAG.NULL || inner[1].contents.length !== 0)) return undefined
  } else if (params.tag !== TAG.OCTET_STRING) {
    return undefined
  }
  return { algorithm, parameters: params.bytes.slice().buffer }
}

const PARSE_RID = createPartParser(KeyAgreeRecipientIdentifier)

function isSmallInteger(tlv: RawTlv | undefined, value: number): boolean {
  return tlv?.tag === TAG.INTEGER && tlv.contents.length === 1 && tlv.contents[0] === value
}
