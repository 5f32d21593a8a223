/** Lexicographic byte comparison (X.690 §11.6 order for DER SET OF). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b)
}

export function equalBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a !== undefined && b !== undefined && Buffer.compare(a, b) === 0
}

/** DER of a SET OF (X.690 §8.12) from already encoded elements, in the order given. */
export function encodeSetOf(elements: readonly Uint8Array[]): Uint8Array {
  const body = Buffer.concat(elements)
  const len = body.length
  const header = len < 0x80 ? [0x31, len] : len < 0x100 ? [0x31, 0x81, len] : len < 0x10000 ? [0x31, 0x82, len >> 8, len & 0xff] : [0x31, 0x83, len >> 16, (len >> 8) & 0xff, len & 0xff]
  return new Uint8Array(Buffer.concat([Buffer.from(header), body]))
}
