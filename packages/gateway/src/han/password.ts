import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

/*
 * Password hashing for HAN accounts: scrypt (RFC 7914) with N = 2^15, r = 8, p = 1, a 16-byte
 * random salt and a 32-byte result, stored with its parameters as
 * `scrypt$<N>$<r>$<p>$<salt hex>$<hash hex>` so the parameters can be raised later without
 * invalidating stored hashes. Comparison is constant-time (timingSafeEqual).
 */

export const SCRYPT_PARAMS = { N: 2 ** 15, r: 8, p: 1 } as const
const KEY_LENGTH = 32
const SALT_LENGTH = 16

function derive(password: string, salt: Buffer, o: { N: number; r: number; p: number }): Promise<Buffer> {
  // 128·N·r bytes of memory: 32 MiB at the defaults (Node's default maxmem is 32 MiB exactly).
  const options: ScryptOptions = { N: o.N, r: o.r, p: o.p, maxmem: 256 * o.N * o.r }
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_LENGTH, options, (err, key) => { if (err === null) resolve(key); else reject(err) })
  })
}

/** Hashes a password with a fresh salt. */
export async function hashPassword(password: string, params: { N: number; r: number; p: number } = SCRYPT_PARAMS): Promise<string> {
  const salt = randomBytes(SALT_LENGTH)
  const key = await derive(password, salt, params)
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('hex')}$${key.toString('hex')}`
}

const STORED = /^scrypt\$(\d{1,8})\$(\d{1,3})\$(\d{1,3})\$([0-9a-f]{32,128})\$([0-9a-f]{64})$/

/** Whether `password` matches a stored hash (false for a malformed one). Constant time in the comparison. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = STORED.exec(stored)
  if (m === null) return false
  const N = Number(m[1])
  const r = Number(m[2])
  const p = Number(m[3])
  if (N < 2 || (N & (N - 1)) !== 0 || r < 1 || p < 1) return false
  const key = await derive(password, Buffer.from(m[4]!, 'hex'), { N, r, p })
  return timingSafeEqual(key, Buffer.from(m[5]!, 'hex'))
}
