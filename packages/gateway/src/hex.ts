const HEX = /^(?:[0-9a-f]{2})*$/

export function encodeHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/** Strict lower-case hex (an upper-case variant is a different, non-canonical text); undefined when not. */
export function decodeHex(text: string): Uint8Array | undefined {
  if (!HEX.test(text)) return undefined
  return new Uint8Array(Buffer.from(text, 'hex'))
}
