import type Database from 'better-sqlite3'
import { GatewayError } from '../errors.js'
import type { RawRow } from './types.js'

/*
 * The HAN tables of schema version 4 (migrations.ts): accounts, sessions, tokens, consents,
 * requests (with the administrator's side from version 6), and the consumer-log query of the HAN API. Rows in, typed values out; the rules
 * (hashing, lockout, expiry) are the HAN service's (src/han).
 */

export type HanRole = 'consumer' | 'technician'

export interface HanAccount {
  readonly username: string
  readonly role: HanRole
  /** The consumer ID (role consumer only). */
  readonly consumer: string | undefined
  /** 'scrypt$N$r$p$salt$hash' (hex). */
  readonly password: string
  readonly createdAt: Date
  readonly failures: number
  readonly lockedUntil: Date | undefined
  readonly lockouts: number
}

export interface HanSessionRow {
  readonly idHash: string
  readonly username: string
  readonly csrf: string
  readonly createdAt: Date
  readonly seenAt: Date
}

export interface HanTokenRow {
  readonly id: string
  readonly username: string
  readonly name: string
  readonly createdAt: Date
}

export interface HanConsentRow {
  readonly purpose: string
  readonly granted: boolean
  readonly since: Date
}

export type HanRequestKind = 'deletion' | 'rectification' | 'objection' | 'tariff-choice'
/**
 * received: on the gateway only; pending: the GWA accepted a report carrying it ("with the
 * administrator"); in-progress, done, rejected: set by the administrator's `answer-request`.
 */
export type HanRequestState = 'received' | 'pending' | 'in-progress' | 'done' | 'rejected'
/** The states the report carries (docs/admin-protocol.md `requests`). */
export const OPEN_HAN_REQUEST_STATES: readonly HanRequestState[] = ['received', 'pending', 'in-progress']
/** The most open requests one report carries (docs/admin-protocol.md). */
export const MAX_REPORTED_REQUESTS = 256

export interface HanRequestRow {
  readonly id: number
  readonly consumer: string
  readonly kind: HanRequestKind
  readonly state: HanRequestState
  readonly text: string
  readonly createdAt: Date
  readonly updatedAt: Date
  /** When the GWA accepted the report that carried it (schema 6; undefined before). */
  readonly forwardedAt: Date | undefined
  /** When the administrator last answered it. */
  readonly answeredAt: Date | undefined
  /** The administrator's note to the consumer (may be empty); undefined before an answer. */
  readonly note: string | undefined
}

/** The administrator's answer to a request (`answer-request`). */
export interface HanRequestAnswer {
  readonly state: 'in-progress' | 'done' | 'rejected'
  readonly note: string
  readonly at: Date
}

export interface LatestReading {
  readonly quantity: string
  readonly time: Date
  readonly mantissa: bigint
  readonly scaler: number
  readonly unit: string | undefined
}

export interface ConsumerLogQuery {
  readonly type?: string
  /** Inclusive, ISO text compared as stored (UTC, milliseconds). */
  readonly from?: Date
  /** Exclusive. */
  readonly to?: Date
  /** Substring of one of the entry's text values (case-insensitive). */
  readonly q?: string
  /** Only entries with seq below this (paging, newest first). */
  readonly before?: number
  readonly limit: number
}

export interface HanRows {
  account(username: string): HanAccount | undefined
  accounts(): HanAccount[]
  /** Inserts an account; STORE_INPUT_INVALID when the username exists. */
  addAccount(a: { readonly username: string; readonly role: HanRole; readonly consumer?: string; readonly password: string }): void
  /** Deletes the account with its sessions and tokens; false when there was none. */
  removeAccount(username: string): boolean
  /** Replaces the password hash, clears the lockout and ends every session; false for an unknown account. */
  setPassword(username: string, password: string): boolean
  setLoginState(username: string, state: { readonly failures: number; readonly lockedUntil?: Date; readonly lockouts: number }): void
  addSession(s: HanSessionRow): void
  session(idHash: string): HanSessionRow | undefined
  touchSession(idHash: string, seenAt: Date): void
  deleteSession(idHash: string): void
  addToken(t: HanTokenRow & { readonly tokenHash: string }): void
  tokens(username: string): HanTokenRow[]
  tokenByHash(tokenHash: string): HanTokenRow | undefined
  deleteToken(username: string, id: string): boolean
  consents(consumer: string): HanConsentRow[]
  setConsent(consumer: string, purpose: string, granted: boolean, since: Date): void
  addRequest(r: { readonly consumer: string; readonly kind: HanRequestKind; readonly state: HanRequestState; readonly text: string; readonly at: Date }): HanRequestRow
  requests(consumer: string): HanRequestRow[]
  /** The open requests (received, pending, in-progress) of every consumer, oldest first, at most `limit` (default 256). Schema 6. */
  openRequests(limit?: number): HanRequestRow[]
  /**
   * Of the given requests, those still `received` become `pending` with forwardedAt = `at`
   * (the GWA accepted the report carrying them); returns those, in ID order. Schema 6.
   */
  markRequestsForwarded(ids: readonly number[], at: Date): HanRequestRow[]
  /**
   * Sets the administrator's state and note: REQUEST_UNKNOWN for an ID not held,
   * REQUEST_CLOSED for a request already done or rejected (nothing changes). Schema 6.
   */
  answerRequest(id: number, answer: HanRequestAnswer): HanRequestRow
  /** The newest reading of each quantity of a meter with a value time at or after `since`. */
  latestReadings(meterId: string, since: Date): LatestReading[]
  /** One consumer's log entries, newest first (seq descending). */
  consumerLog(consumer: string, query: ConsumerLogQuery): RawRow[]
}

type Read = <T>(fn: () => T) => T
type Write = <T>(what: string, fn: () => T) => T

export function createHanRows(db: Database.Database, schemaVersion: number, read: Read, write: Write, now: () => Date): HanRows {
  if (schemaVersion < 4) {
    const missing = (): never => { throw new GatewayError('STORE_READ_FAILED', `the store is at schema version ${schemaVersion}; the HAN needs version 4`) }
    return {
      account: missing, accounts: missing, addAccount: missing, removeAccount: missing, setPassword: missing, setLoginState: missing,
      addSession: missing, session: missing, touchSession: missing, deleteSession: missing, addToken: missing, tokens: missing,
      tokenByHash: missing, deleteToken: missing, consents: missing, setConsent: missing, addRequest: missing, requests: missing, consumerLog: missing,
      latestReadings: missing, openRequests: missing, markRequestsForwarded: missing, answerRequest: missing,
    }
  }
  const needs6 = (): never => { throw new GatewayError('STORE_WRITE_FAILED', `the store is at schema version ${schemaVersion}; forwarding and answering requests needs version 6`) }
  const st = {
    account: db.prepare('SELECT * FROM han_accounts WHERE username = ?'),
    accounts: db.prepare('SELECT * FROM han_accounts ORDER BY username'),
    addAccount: db.prepare('INSERT INTO han_accounts (username, role, consumer, password, created_ms) VALUES (?, ?, ?, ?, ?)'),
    removeAccount: db.prepare('DELETE FROM han_accounts WHERE username = ?'),
    setPassword: db.prepare('UPDATE han_accounts SET password = ?, failures = 0, locked_until_ms = 0, lockouts = 0 WHERE username = ?'),
    endSessions: db.prepare('DELETE FROM han_sessions WHERE username = ?'),
    setLogin: db.prepare('UPDATE han_accounts SET failures = ?, locked_until_ms = ?, lockouts = ? WHERE username = ?'),
    addSession: db.prepare('INSERT INTO han_sessions (id_hash, username, csrf, created_ms, seen_ms) VALUES (?, ?, ?, ?, ?)'),
    session: db.prepare('SELECT * FROM han_sessions WHERE id_hash = ?'),
    touch: db.prepare('UPDATE han_sessions SET seen_ms = ? WHERE id_hash = ?'),
    deleteSession: db.prepare('DELETE FROM han_sessions WHERE id_hash = ?'),
    addToken: db.prepare('INSERT INTO han_tokens (id, username, name, token_hash, created_ms) VALUES (?, ?, ?, ?, ?)'),
    tokens: db.prepare('SELECT * FROM han_tokens WHERE username = ? ORDER BY created_ms, id'),
    tokenByHash: db.prepare('SELECT * FROM han_tokens WHERE token_hash = ?'),
    deleteToken: db.prepare('DELETE FROM han_tokens WHERE username = ? AND id = ?'),
    consents: db.prepare('SELECT * FROM han_consents WHERE consumer = ? ORDER BY purpose'),
    setConsent: db.prepare('INSERT INTO han_consents (consumer, purpose, granted, since_ms) VALUES (?, ?, ?, ?) ON CONFLICT (consumer, purpose) DO UPDATE SET granted = excluded.granted, since_ms = excluded.since_ms'),
    addRequest: db.prepare('INSERT INTO han_requests (consumer, kind, state, text, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?)'),
    request: db.prepare('SELECT * FROM han_requests WHERE id = ?'),
    requests: db.prepare('SELECT * FROM han_requests WHERE consumer = ? ORDER BY id DESC'),
    // The same IN list as the partial index han_requests_open (migration 6), so SQLite uses it.
    openRequests: schemaVersion >= 6 ? db.prepare("SELECT * FROM han_requests WHERE state IN ('received', 'pending', 'in-progress') ORDER BY id LIMIT ?") : undefined,
    forward: schemaVersion >= 6 ? db.prepare("UPDATE han_requests SET state = 'pending', forwarded_ms = ?, updated_ms = ? WHERE id = ? AND state = 'received'") : undefined,
    answer: schemaVersion >= 6 ? db.prepare('UPDATE han_requests SET state = ?, note = ?, answered_ms = ?, updated_ms = ? WHERE id = ?') : undefined,
    // Index seeks only (readings_by_meter): the meter's quantities one after another by a
    // recursive skip-scan, then each one's newest row since `since`. A GROUP BY over the time
    // range read every row of it — 24 months of 15-minute data made one current-value request
    // cost tens of milliseconds (bench han).
    latest: db.prepare(`WITH RECURSIVE q(quantity) AS (
        SELECT min(quantity) FROM readings WHERE meter_id = @meter
        UNION ALL
        SELECT (SELECT min(quantity) FROM readings WHERE meter_id = @meter AND quantity > q.quantity) FROM q WHERE q.quantity IS NOT NULL)
      SELECT r.quantity, r.time_ms, r.mantissa, r.scaler, r.unit FROM q JOIN readings r ON r.id = (
        SELECT id FROM readings WHERE meter_id = @meter AND quantity = q.quantity AND time_ms >= @since ORDER BY time_ms DESC LIMIT 1)
      ORDER BY r.quantity`).safeIntegers(true),
  }
  const toAccount = (r: RawRow | undefined): HanAccount | undefined => r === undefined ? undefined : {
    username: String(r.username), role: r.role as HanRole, consumer: typeof r.consumer === 'string' ? r.consumer : undefined,
    password: String(r.password), createdAt: new Date(Number(r.created_ms)), failures: Number(r.failures),
    lockedUntil: Number(r.locked_until_ms) > 0 ? new Date(Number(r.locked_until_ms)) : undefined, lockouts: Number(r.lockouts),
  }
  const toSession = (r: RawRow | undefined): HanSessionRow | undefined => r === undefined ? undefined : {
    idHash: String(r.id_hash), username: String(r.username), csrf: String(r.csrf), createdAt: new Date(Number(r.created_ms)), seenAt: new Date(Number(r.seen_ms)),
  }
  const toToken = (r: RawRow): HanTokenRow => ({ id: String(r.id), username: String(r.username), name: String(r.name), createdAt: new Date(Number(r.created_ms)) })
  const toRequest = (r: RawRow): HanRequestRow => ({
    id: Number(r.id), consumer: String(r.consumer), kind: r.kind as HanRequestKind, state: r.state as HanRequestState, text: String(r.text),
    createdAt: new Date(Number(r.created_ms)), updatedAt: new Date(Number(r.updated_ms)),
    // Absent (schema < 6) or NULL (not yet forwarded / answered).
    forwardedAt: r.forwarded_ms === undefined || r.forwarded_ms === null ? undefined : new Date(Number(r.forwarded_ms)),
    answeredAt: r.answered_ms === undefined || r.answered_ms === null ? undefined : new Date(Number(r.answered_ms)),
    note: typeof r.note === 'string' ? r.note : undefined,
  })
  return {
    account: (username) => read(() => toAccount(st.account.get(username) as RawRow | undefined)),
    accounts: () => read(() => (st.accounts.all() as RawRow[]).map((r) => toAccount(r)!)),
    addAccount: (a) => {
      write('HAN account', () => {
        if (st.account.get(a.username) !== undefined) throw new GatewayError('STORE_INPUT_INVALID', `HAN account ${a.username} exists already`)
        st.addAccount.run(a.username, a.role, a.consumer ?? null, a.password, now().getTime())
      })
    },
    removeAccount: (username) => write('HAN account removal', () => {
      st.endSessions.run(username)
      return st.removeAccount.run(username).changes > 0
    }),
    setPassword: (username, password) => write('HAN password', () => {
      const changed = st.setPassword.run(password, username).changes > 0
      st.endSessions.run(username)
      return changed
    }),
    setLoginState: (username, s) => { write('HAN login state', () => st.setLogin.run(s.failures, s.lockedUntil?.getTime() ?? 0, s.lockouts, username)) },
    addSession: (s) => { write('HAN session', () => st.addSession.run(s.idHash, s.username, s.csrf, s.createdAt.getTime(), s.seenAt.getTime())) },
    session: (idHash) => read(() => toSession(st.session.get(idHash) as RawRow | undefined)),
    touchSession: (idHash, seenAt) => { write('HAN session', () => st.touch.run(seenAt.getTime(), idHash)) },
    deleteSession: (idHash) => { write('HAN session', () => st.deleteSession.run(idHash)) },
    addToken: (t) => { write('HAN token', () => st.addToken.run(t.id, t.username, t.name, t.tokenHash, t.createdAt.getTime())) },
    tokens: (username) => read(() => (st.tokens.all(username) as RawRow[]).map(toToken)),
    tokenByHash: (hash) => read(() => {
      const r = st.tokenByHash.get(hash) as RawRow | undefined
      return r === undefined ? undefined : toToken(r)
    }),
    deleteToken: (username, id) => write('HAN token', () => st.deleteToken.run(username, id).changes > 0),
    consents: (consumer) => read(() => (st.consents.all(consumer) as RawRow[]).map((r) => ({ purpose: String(r.purpose), granted: Number(r.granted) === 1, since: new Date(Number(r.since_ms)) }))),
    setConsent: (consumer, purpose, granted, since) => { write('HAN consent', () => st.setConsent.run(consumer, purpose, granted ? 1 : 0, since.getTime())) },
    addRequest: (r) => write('HAN request', () => {
      const id = Number(st.addRequest.run(r.consumer, r.kind, r.state, r.text, r.at.getTime(), r.at.getTime()).lastInsertRowid)
      return toRequest(st.request.get(id) as RawRow)
    }),
    requests: (consumer) => read(() => (st.requests.all(consumer) as RawRow[]).map(toRequest)),
    openRequests: (limit = MAX_REPORTED_REQUESTS) => read(() => ((st.openRequests ?? needs6()).all(limit) as RawRow[]).map(toRequest)),
    markRequestsForwarded: (ids, at) => write('HAN request forwarding', () => {
      const forward = st.forward ?? needs6()
      const changed: HanRequestRow[] = []
      for (const id of [...new Set(ids)].sort((a, b) => a - b)) {
        if (forward.run(at.getTime(), at.getTime(), id).changes > 0) changed.push(toRequest(st.request.get(id) as RawRow))
      }
      return changed
    }),
    answerRequest: (id, a) => write('HAN request answer', () => {
      const answer = st.answer ?? needs6()
      const row = st.request.get(id) as RawRow | undefined
      if (row === undefined) throw new GatewayError('REQUEST_UNKNOWN', `this gateway holds no consumer request ${String(id)}`)
      const state = String(row.state)
      if (state === 'done' || state === 'rejected') throw new GatewayError('REQUEST_CLOSED', `consumer request ${String(id)} is ${state} already`)
      answer.run(a.state, a.note, a.at.getTime(), a.at.getTime(), id)
      return toRequest(st.request.get(id) as RawRow)
    }),
    latestReadings: (meterId, since) => read(() => (st.latest.all({ since: since.getTime(), meter: meterId }) as RawRow[]).map((r) => ({
      quantity: String(r.quantity), time: new Date(Number(r.time_ms)), mantissa: toBigInt(r.mantissa), scaler: Number(r.scaler),
      unit: typeof r.unit === 'string' ? r.unit : undefined,
    }))),
    consumerLog: (consumer, q) => read(() => {
      const where = ["log = 'consumer'", 'stream = ?']
      const args: unknown[] = [consumer]
      if (q.type !== undefined) { where.push('type = ?'); args.push(q.type) }
      if (q.from !== undefined) { where.push('time >= ?'); args.push(q.from.toISOString()) }
      if (q.to !== undefined) { where.push('time < ?'); args.push(q.to.toISOString()) }
      if (q.before !== undefined) { where.push('seq < ?'); args.push(q.before) }
      // The text values of the fields (not their names, not numbers).
      if (q.q !== undefined) { where.push("EXISTS (SELECT 1 FROM json_each(fields) WHERE json_each.type = 'text' AND instr(lower(json_each.value), lower(?)) > 0)"); args.push(q.q) }
      args.push(q.limit)
      return db.prepare(`SELECT seq, time, type, fields FROM log_entries WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT ?`).all(...args) as RawRow[]
    }),
  }
}

function toBigInt(v: unknown): bigint {
  if (typeof v === 'bigint') return v
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v)
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v)
  throw new GatewayError('STORE_READ_FAILED', `a stored integer is not one: ${String(v)}`)
}
