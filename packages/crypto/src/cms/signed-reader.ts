import { OctetString } from '@peculiar/asn1-schema'
import {
  Attribute, CMSVersion, DigestAlgorithmIdentifier, DigestAlgorithmIdentifiers, EncapsulatedContent, EncapsulatedContentInfo, SignatureAlgorithmIdentifier,
  SignedData, SignerIdentifier, SignerInfo, SignerInfos,
} from '@peculiar/asn1-cms'
import { createPartParser, type PartParser } from './content-info.js'
import { TAG, decodeOid, readDerChildren, type RawTlv } from './der.js'

/**
 * A strict reader for exactly the SignedData we receive once the verifier has taken out the
 * certificates it knows (RFC 5652 §5.1, §5.3): version 1 or 3, digestAlgorithms, an
 * encapsulated content in one primitive OCTET STRING, no certificates, no crls, SignerInfos
 * of version 1 with signed attributes whose values asn1-schema re-encodes as received
 * (isRoundTripValue), no unsigned attributes, DER lengths throughout. It builds the objects
 * AsnConvert.parse would. Why: asn1-schema parsing dominated the receive path (profiled).
 * Anything else gives undefined and is parsed by asn1-schema. signed-reader.test.ts checks
 * that both agree on valid and mutated messages. `parseSid` parses the (small) signer
 * identifiers; a prepared verifier passes one that remembers them.
 */
export function readSignedData(der: Uint8Array, parseSid: PartParser<SignerIdentifier> = PARSE_SID): SignedData | undefined {
  const f = der[0] === TAG.SEQUENCE ? readDerChildren(der) : undefined
  if (f?.length !== 4) return undefined
  const [versionTlv, digestsTlv, encapTlv, infosTlv] = f
  const version = versionTlv?.tag === TAG.INTEGER && versionTlv.contents.length === 1 ? versionTlv.contents[0] : undefined
  if ((version !== 1 && version !== 3) || digestsTlv?.tag !== TAG.SET || encapTlv?.tag !== TAG.SEQUENCE || infosTlv?.tag !== TAG.SET) return undefined
  const digests: DigestAlgorithmIdentifier[] = []
  for (const d of readDerChildren(digestsTlv.bytes) ?? [undefined]) {
    const alg = readPlainAlgorithm(d)
    if (alg === undefined) return undefined
    digests.push(new DigestAlgorithmIdentifier(alg))
  }
  // EncapsulatedContentInfo ::= SEQUENCE { eContentType, eContent [0] EXPLICIT OCTET STRING }
  const encap = readDerChildren(encapTlv.bytes)
  if (encap?.length !== 2 || encap[0]?.tag !== TAG.OID || encap[1]?.tag !== TAG.CONTEXT_0) return undefined
  const eContentType = decodeOid(encap[0].contents)
  const eContent = readDerChildren(encap[1].bytes)
  if (eContentType === undefined || eContent?.length !== 1 || eContent[0]?.tag !== TAG.OCTET_STRING) return undefined
  const infos: SignerInfo[] = []
  for (const i of readDerChildren(infosTlv.bytes) ?? [undefined]) {
    const si = readSignerInfo(i, parseSid)
    if (si === undefined) return undefined
    infos.push(si)
  }
  return new SignedData({
    version: version === 1 ? CMSVersion.v1 : CMSVersion.v3,
    digestAlgorithms: new DigestAlgorithmIdentifiers(digests),
    encapContentInfo: new EncapsulatedContentInfo({ eContentType, eContent: new EncapsulatedContent({ single: new OctetString(eContent[0].contents) }) }),
    signerInfos: new SignerInfos(infos),
  })
}

// SignerInfo ::= SEQUENCE { version 1, sid, digestAlgorithm, signedAttrs [0] IMPLICIT, signatureAlgorithm, signature }
function readSignerInfo(tlv: RawTlv | undefined, parseSid: PartParser<SignerIdentifier>): SignerInfo | undefined {
  const f = tlv?.tag === TAG.SEQUENCE ? readDerChildren(tlv.bytes) : undefined
  if (f?.length !== 6 || f[0]?.tag !== TAG.INTEGER || f[0].contents.length !== 1 || f[0].contents[0] !== 1) return undefined
  const [, sidTlv, digestTlv, attrsTlv, sigAlgTlv, sigTlv] = f
  // sid: issuerAndSerialNumber SEQUENCE { Name, INTEGER } only (version 1); small, left to asn1-schema (parseSid).
  const sidParts = sidTlv?.tag === TAG.SEQUENCE ? readDerChildren(sidTlv.bytes) : undefined
  if (sidTlv === undefined || sidParts?.length !== 2 || sidParts[0]?.tag !== TAG.SEQUENCE || sidParts[1]?.tag !== TAG.INTEGER) return undefined
  const digestAlgorithm = readPlainAlgorithm(digestTlv)
  const signatureAlgorithm = readPlainAlgorithm(sigAlgTlv)
  if (digestAlgorithm === undefined || signatureAlgorithm === undefined || attrsTlv?.tag !== TAG.CONTEXT_0 || sigTlv?.tag !== TAG.OCTET_STRING) return undefined
  // SignedAttributes ::= SET SIZE (1..MAX) OF Attribute; an empty one is left to asn1-schema.
  const attrs = readDerChildren(attrsTlv.bytes)
  if (attrs === undefined || attrs.length === 0) return undefined
  const signedAttrs: Attribute[] = []
  for (const a of attrs) {
    const parts = a.tag === TAG.SEQUENCE ? readDerChildren(a.bytes) : undefined
    if (parts?.length !== 2 || parts[0]?.tag !== TAG.OID || parts[1]?.tag !== TAG.SET) return undefined
    const attrType = decodeOid(parts[0].contents)
    const values = readDerChildren(parts[1].bytes)
    if (attrType === undefined || values === undefined || !values.every((v) => isRoundTripValue(v, 0))) return undefined
    signedAttrs.push(new Attribute({ attrType, attrValues: values.map((v) => v.bytes.slice().buffer) }))
  }
  const sid = parseSid(sidTlv.bytes)
  if (sid === undefined) return undefined
  return new SignerInfo({
    version: CMSVersion.v1,
    sid,
    digestAlgorithm: new DigestAlgorithmIdentifier(digestAlgorithm),
    signedAttrs,
    signatureAlgorithm: new SignatureAlgorithmIdentifier(signatureAlgorithm),
    signature: new OctetString(sigTlv.contents),
  })
}

const PARSE_SID = createPartParser(SignerIdentifier)

/** AlgorithmIdentifier with absent parameters (RFC 5754 §2, RFC 5758 §3.2: digest and ECDSA algorithms). */
function readPlainAlgorithm(tlv: RawTlv | undefined): { algorithm: string } | undefined {
  const f = tlv?.tag === TAG.SEQUENCE ? readDerChildren(tlv.bytes) : undefined
  const algorithm = f?.length === 1 && f[0]?.tag === TAG.OID ? decodeOid(f[0].contents) : undefined
  return algorithm === undefined ? undefined : { algorithm }
}

/**
 * A received attribute value asn1-schema (asn1js) gives back byte for byte when it
 * re-encodes it: OBJECT IDENTIFIER (DER, subidentifiers below 2^28), primitive OCTET STRING,
 * UTCTime of the form YYMMDDHHMMSSZ, and SEQUENCE/SET of these (DER lengths, at most four
 * levels). The property tests in received.test.ts check this against asn1-schema.
 */
export function isRoundTripValue(v: RawTlv, depth: number): boolean {
  switch (v.tag) {
    case TAG.OID: return decodeOid(v.contents) !== undefined
    case TAG.OCTET_STRING: return true
    case TAG.UTC_TIME: return /^\d{12}Z$/.test(Buffer.from(v.contents).toString('latin1'))
    case TAG.SEQUENCE:
    case TAG.SET: {
      const inner = depth < 4 ? readDerChildren(v.bytes) : undefined
      return inner !== undefined && inner.every((c) => isRoundTripValue(c, depth + 1))
    }
    default: return false
  }
}
