import { CryptoError, type CryptoErrorCode } from '../errors.js'

export interface PemBlock {
  readonly label: string
  readonly der: Uint8Array
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g

/**
 * True when the bytes look like PEM text (RFC 7468 §5.2: explanatory text may precede the
 * first "-----BEGIN "); DER starts with a SEQUENCE tag (0x30) and is never taken for PEM.
 */
export function isPem(bytes: Uint8Array): boolean {
  if (bytes[0] === 0x30) return false
  return Buffer.from(bytes.subarray(0, 4096)).toString('latin1').includes('-----BEGIN ')
}

/**
 * All PEM blocks in a text (RFC 7468), in order; explanatory text between blocks is ignored.
 * A block whose body is not base64 (RFC 7468 §3) throws `code`.
 */
export function decodePemBlocks(bytes: Uint8Array, code: CryptoErrorCode = 'INVALID_ARGUMENT'): PemBlock[] {
  const text = Buffer.from(bytes).toString('latin1')
  return [...text.matchAll(PEM_BLOCK)].map((m) => {
    const label = m[1] ?? ''
    const body = (m[2] ?? '').replace(/\s+/g, '')
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new CryptoError(code, `PEM ${label}: not base64`)
    return { label, der: new Uint8Array(Buffer.from(body, 'base64')) }
  })
}

/** PEM (RFC 7468 §2) for DER bytes, lines of 64 characters. */
export function encodePem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64')
  return `-----BEGIN ${label}-----\n${(b64.match(/.{1,64}/g) ?? []).join('\n')}\n-----END ${label}-----\n`
}

/**
 * DER bytes from PEM or DER input, detected automatically: PEM blocks whose label is in
 * `labels` (all of them, in order), or the input itself when it is not PEM.
 */
export function decodePemOrDer(bytes: Uint8Array, labels: readonly string[], code: CryptoErrorCode): Uint8Array[] {
  if (!isPem(bytes)) {
    if (bytes.length === 0) throw new CryptoError(code, 'empty input')
    return [bytes]
  }
  const blocks = decodePemBlocks(bytes, code).filter((b) => labels.includes(b.label))
  if (blocks.length === 0) throw new CryptoError(code, `no PEM block labelled ${labels.join(' or ')}`)
  return blocks.map((b) => b.der)
}
