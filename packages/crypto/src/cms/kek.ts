import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import { AlgorithmIdentifier } from '@peculiar/asn1-x509'
import { CryptoError } from '../errors.js'
import { deriveX963 } from '../primitives/kdf.js'
import { KEY_AGREEMENTS, KEY_WRAPS } from './algorithms.js'
import { EccCmsSharedInfo } from './asn1/ecc-cms-shared-info.js'

/**
 * The key-encryption key of a KeyAgreeRecipientInfo, RFC 5753 §7.2: X9.63 KDF with the
 * scheme's hash over Z and the DER ECC-CMS-SharedInfo (keyInfo = the wrap algorithm with
 * absent parameters, entityUInfo = ukm when present, suppPubInfo = KEK length in bits, 32-bit big-endian).
 */
export function deriveKek(agreementOid: string, wrapOid: string, sharedSecret: Uint8Array, ukm: Uint8Array | undefined): Uint8Array {
  const agreement = KEY_AGREEMENTS[agreementOid]
  if (agreement === undefined) throw new CryptoError('CMS_UNSUPPORTED_ALGORITHM', `key agreement ${agreementOid}`)
  const wrap = KEY_WRAPS[wrapOid]
  if (wrap === undefined) throw new CryptoError('CMS_UNSUPPORTED_ALGORITHM', `key wrap ${wrapOid}`)
  const sharedInfo = (ukm === undefined ? SHARED_INFO_WITHOUT_UKM.get(wrapOid) : undefined) ?? encodeSharedInfo(wrapOid, ukm)
  return deriveX963(agreement.hash, sharedSecret, sharedInfo, wrap.kekSize)
}

/** The DER ECC-CMS-SharedInfo (RFC 5753 §7.2) for a key-wrap algorithm and optional ukm. */
export function encodeSharedInfo(wrapOid: string, ukm: Uint8Array | undefined): Uint8Array {
  const wrap = KEY_WRAPS[wrapOid]
  if (wrap === undefined) throw new CryptoError('CMS_UNSUPPORTED_ALGORITHM', `key wrap ${wrapOid}`)
  const bits = new Uint8Array(4)
  new DataView(bits.buffer).setUint32(0, wrap.kekSize * 8)
  const sharedInfo = new EccCmsSharedInfo({
    keyInfo: new AlgorithmIdentifier({ algorithm: wrapOid }),
    ...(ukm === undefined ? {} : { entityUInfo: new OctetString(ukm) }),
    suppPubInfo: new OctetString(bits),
  })
  return new Uint8Array(AsnConvert.serialize(sharedInfo))
}

/** ECC-CMS-SharedInfo without ukm per key-wrap algorithm: constant, encoded once at load (immutable). */
const SHARED_INFO_WITHOUT_UKM: ReadonlyMap<string, Uint8Array> = new Map(Object.keys(KEY_WRAPS).map((oid) => [oid, encodeSharedInfo(oid, undefined)]))
