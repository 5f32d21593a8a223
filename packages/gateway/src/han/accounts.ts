import { GatewayError } from '../errors.js'
import type { HanAccount, HanRole } from '../store/han.js'
import type { Store } from '../store/types.js'
import { hashPassword, verifyPassword } from './password.js'

/*
 * HAN accounts (README "HAN service"): consumer accounts bound to one consumer ID, and
 * service-technician accounts. Managed with `smgw han user …` on the gateway; the password
 * never travels on a command line (stdin or a file).
 */

export const HAN_USERNAME = /^[A-Za-z0-9._@-]{1,64}$/
export const HAN_PASSWORD_MIN = 8
export const HAN_PASSWORD_MAX = 1024

/** Login lockout: after `maxFailures` failures in a row the account is locked for `lockMs`, doubled with every further lockout. */
export const HAN_LOCKOUT = { maxFailures: 5, lockMs: 15 * 60_000, maxLockMs: 24 * 3_600_000 } as const

export interface HanAccountSummary {
  readonly username: string
  readonly role: HanRole
  readonly consumer?: string
  readonly createdAt: Date
  readonly lockedUntil?: Date
}

export interface HanAccounts {
  /** HAN_ACCOUNT_INVALID for a bad username or password, an existing username, or a consumer ID no meter has. */
  add(o: { readonly username: string; readonly role: HanRole; readonly consumer?: string; readonly password: string }): Promise<void>
  list(): HanAccountSummary[]
  remove(username: string): boolean
  /** Sets a new password, clears the lockout and ends the account's sessions; false for an unknown account. */
  setPassword(username: string, password: string): Promise<boolean>
}

function checkPassword(password: string): void {
  if (password.length < HAN_PASSWORD_MIN || password.length > HAN_PASSWORD_MAX) {
    throw new GatewayError('HAN_ACCOUNT_INVALID', `a password has ${HAN_PASSWORD_MIN}–${HAN_PASSWORD_MAX} characters`)
  }
}

/** Account management over a store; `consumers`: the consumer IDs of the configured meters. */
export function createHanAccounts(store: Store, consumers: ReadonlySet<string>): HanAccounts {
  return {
    async add(o) {
      if (!HAN_USERNAME.test(o.username)) throw new GatewayError('HAN_ACCOUNT_INVALID', 'a username has 1–64 characters A–Z a–z 0–9 . _ @ -')
      checkPassword(o.password)
      if (o.role === 'consumer' && (o.consumer === undefined || !consumers.has(o.consumer))) {
        throw new GatewayError('HAN_ACCOUNT_INVALID', `a consumer account needs the consumer ID of a configured meter (${[...consumers].join(', ') || 'none configured'})`)
      }
      if (o.role === 'technician' && o.consumer !== undefined) throw new GatewayError('HAN_ACCOUNT_INVALID', 'a technician account has no consumer')
      if (store.han.account(o.username) !== undefined) throw new GatewayError('HAN_ACCOUNT_INVALID', `the account ${o.username} exists already`)
      store.han.addAccount({ username: o.username, role: o.role, ...(o.consumer === undefined ? {} : { consumer: o.consumer }), password: await hashPassword(o.password) })
    },
    list: () => store.han.accounts().map(summaryOf),
    remove: (username) => store.han.removeAccount(username),
    async setPassword(username, password) {
      checkPassword(password)
      if (store.han.account(username) === undefined) return false
      return store.han.setPassword(username, await hashPassword(password))
    },
  }
}

function summaryOf(a: HanAccount): HanAccountSummary {
  return {
    username: a.username, role: a.role, createdAt: a.createdAt,
    ...(a.consumer === undefined ? {} : { consumer: a.consumer }),
    ...(a.lockedUntil === undefined ? {} : { lockedUntil: a.lockedUntil }),
  }
}

export type LoginResult =
  | { readonly ok: true; readonly account: HanAccount }
  | { readonly ok: false; readonly reason: 'bad-credentials'; readonly role: HanRole }
  | { readonly ok: false; readonly reason: 'locked'; readonly until: Date; readonly role: HanRole }

/**
 * Checks a login against the account and its lockout state, and records the outcome
 * (failure count, lock). An unknown user costs the same scrypt as a known one (`dummyHash`),
 * so response time does not tell which usernames exist.
 */
export async function checkLogin(store: Store, username: string, password: string, now: Date, dummyHash: string): Promise<LoginResult> {
  const account = HAN_USERNAME.test(username) ? store.han.account(username) : undefined
  if (account === undefined) {
    await verifyPassword(password, dummyHash)
    return { ok: false, reason: 'bad-credentials', role: 'consumer' }
  }
  if (account.lockedUntil !== undefined && account.lockedUntil.getTime() > now.getTime()) {
    return { ok: false, reason: 'locked', until: account.lockedUntil, role: account.role }
  }
  if (await verifyPassword(password, account.password)) {
    store.han.setLoginState(account.username, { failures: 0, lockouts: 0 })
    return { ok: true, account }
  }
  const failures = account.failures + 1
  if (failures >= HAN_LOCKOUT.maxFailures) {
    const until = new Date(now.getTime() + Math.min(HAN_LOCKOUT.maxLockMs, HAN_LOCKOUT.lockMs * 2 ** account.lockouts))
    store.han.setLoginState(account.username, { failures: 0, lockedUntil: until, lockouts: account.lockouts + 1 })
    return { ok: false, reason: 'locked', until, role: account.role }
  }
  store.han.setLoginState(account.username, { failures, lockouts: account.lockouts })
  return { ok: false, reason: 'bad-credentials', role: account.role }
}
