import { PkiError } from './errors.js'

// RFC 7468 §2: textual encoding, base64 between BEGIN/END lines with the same label.
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g

export interface PemBlock {
  readonly label: string
  readonly der: Uint8Array
}

/** Every PEM block in `text`, in order (RFC 7468). Throws PKI_MALFORMED when there is none. */
export function parsePem(text: string): PemBlock[] {
  const blocks: PemBlock[] = []
  for (const m of text.matchAll(PEM_BLOCK)) {
    const body = (m[2] ?? '').replace(/\s+/g, '')
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new PkiError('PKI_MALFORMED', `PEM ${m[1] ?? ''}: not base64`)
    blocks.push({ label: m[1] ?? '', der: new Uint8Array(Buffer.from(body, 'base64')) })
  }
  if (blocks.length === 0) throw new PkiError('PKI_MALFORMED', 'no PEM block found')
  return blocks
}

/** One PEM block, 64 characters a line (RFC 7468 §2). */
export function formatPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64')
  const lines = b64.match(/.{1,64}/g) ?? []
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`
}

/** True when the bytes look like PEM text rather than DER (DER starts with a SEQUENCE tag). */
export function isPem(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes[0] !== 0x30 && new TextDecoder().decode(bytes.subarray(0, 4096)).includes('-----BEGIN ')
}

/**
 * The DER objects in a file that holds PEM (any number of blocks, optionally only
 * those with `label`) or one DER object.
 */
export function decodePemOrDer(bytes: Uint8Array, label?: string): Uint8Array[] {
  if (!isPem(bytes)) return [bytes]
  const blocks = parsePem(new TextDecoder().decode(bytes)).filter((b) => label === undefined || b.label === label)
  if (blocks.length === 0) throw new PkiError('PKI_MALFORMED', `no PEM block labelled ${label ?? ''}`)
  return blocks.map((b) => b.der)
}
