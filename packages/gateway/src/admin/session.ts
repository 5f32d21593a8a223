import {
  ADMIN_RESULTS_FORMAT, ADMIN_REPORT_FORMAT, MAX_SESSION_ROUNDS, checkAddressed, checkFreshness, checkIncreasing, decodeCommandsAnswer, encodeAdminReport, encodeAdminResults,
  formatCanonicalJson, isAdminProtocolError, openCommand, peekCommand,
  type AdminCommand, type AdminCommandType, type AdminReport, type AdminResult, type LogName, type SessionReason, type SignerVerifier,
} from '@smgw/admin-protocol'
import type { DistinguishedName, TlsContext } from '@smgw/pki'
import type { Logger } from 'pino'
import { GatewayError, isGatewayError } from '../errors.js'
import type { SystemLogEntry } from '../log/entries.js'
import { assertAuthorized, type Operation } from './access.js'
import { AdminHttpFailure, createAdminHttpClient, type AdminHttpClient } from './session-http.js'

/*
 * The gateway's side of an admin session (docs/admin-protocol.md "Admin session",
 * "Commands"; TR-03109-1 v1.1: the gateway connects to its GWA, never the other way):
 * report → commands → verify and execute each in order → results → until no commands.
 * Every command is checked before it runs, cheapest first: addressed, not replayed, fresh,
 * signed by the GWA, allowed to the role `gwa` by the access table.
 */

/** The operation of the access table (admin/access.ts) each command type performs. */
export const OPERATION_OF_COMMAND = {
  profile: 'config.apply',
  'rollback-profile': 'config.apply',
  'generate-csr': 'certificates.manage',
  'install-certificates': 'certificates.manage',
  'update-crls': 'certificates.manage',
  firmware: 'firmware.update',
  'set-time-source': 'time.set',
  'read-log': 'log.system.read',
  'taf-request': 'taf.trigger',
  'cls-open': 'cls.open',
  'meter-keys': 'meter-keys.install',
  'answer-request': 'requests.answer',
} as const satisfies Record<AdminCommandType, Operation>

/** `read-log` reads the log it names: each log is its own operation in the access table. */
export const OPERATION_OF_LOG = {
  system: 'log.system.read',
  calibration: 'log.calibration.read',
  consumer: 'log.consumer.read.own',
} as const satisfies Record<LogName, Operation>

export function operationOf(command: AdminCommand): Operation {
  return command.type === 'read-log' ? OPERATION_OF_LOG[command.log] : OPERATION_OF_COMMAND[command.type]
}

export interface AdminSessionConfig {
  /** `https://host:port[/prefix]` of the GWA's admin server (admin.endpoint). */
  readonly endpoint: string
  /** The GWA's subject: its TLS server certificate and every command signer must carry it. */
  readonly gwaSubject: DistinguishedName
  readonly requestTimeoutMs: number
  /** Default MAX_SESSION_ROUNDS (16). */
  readonly maxRounds?: number
  /** How old a command may be (default in the doc: 7 days). */
  readonly commandMaxAgeS: number
  /** How far ahead of legal time a command may be dated. */
  readonly freshnessS: number
  /** Largest answer body read (a firmware command carries the package); default 64 MiB. */
  readonly maxAnswerBytes?: number
}

export type CommandHandler<T extends AdminCommandType> = (command: Extract<AdminCommand, { type: T }>) => Promise<Record<string, unknown>>
export type CommandHandlers = Partial<{ [T in AdminCommandType]: CommandHandler<T> }>

/** What the caller reports; the session adds format, sentAt, reason, gatewayId and lastSequence. */
export type AdminReportBody = Omit<AdminReport, 'format' | 'sentAt' | 'reason' | 'gatewayId' | 'lastSequence'>

export type AdminLogEntry = Extract<SystemLogEntry, { type: 'admin-session' | 'admin-command' }>

export interface AdminSessionDeps {
  readonly gatewayId: string
  /** The current TLS identity (initial `gs` or operational), asked once per session. */
  tls(): TlsContext
  /** The GWA verifier (createSignerVerifier, notOwnRole SIGNER_NOT_GWA). */
  readonly verifier: SignerVerifier
  report(reason: SessionReason): AdminReportBody
  /**
   * The GWA accepted the report (HTTP 200 on the session POST), before any command of the
   * answer runs: what it carried is with the administrator now (the consumers' requests
   * become `pending`). Awaited; a rejection is logged and does not end the session.
   */
  reportAccepted?(report: AdminReport): Promise<void>
  /** The last executed sequence, persisted by the caller (0 before the first). */
  lastSequence(): number
  acceptSequence(sequence: number): void
  readonly handlers: CommandHandlers
  log(entry: AdminLogEntry): void
  /** Legal time. */
  readonly now: () => Date
  readonly setTimer?: (ms: number, fn: () => void) => () => void
  readonly logger?: Logger
}

export interface AdminSessionOutcome {
  readonly executed: number
  readonly refused: number
  readonly failed: number
  /** `failed`: the GWA could not be reached or answered unusably; commands executed before that stay executed. */
  readonly result: 'completed' | 'failed'
  /** Why it failed (CONNECT_FAILED, SERVER_NOT_GWA, TIMEOUT, CONNECTION_LOST, ANSWER_TOO_LARGE, HTTP_<status>, ANSWER_MALFORMED, REPORT_INVALID), or MAX_ROUNDS. */
  readonly code?: string
}

export const SESSION_PATH = '/v1/admin/session'
export const RESULTS_PATH = '/v1/admin/results'
const DEFAULT_MAX_ANSWER_BYTES = 64 * 1024 * 1024
const MAX_ERROR_MESSAGE = 1024

/**
 * One admin session; never rejects (the outcome says how it ended, and the system log has an
 * `admin-session` entry and one `admin-command` entry per command). The caller runs one at a
 * time.
 */
export async function runAdminSession(reason: SessionReason, config: AdminSessionConfig, deps: AdminSessionDeps): Promise<AdminSessionOutcome> {
  const logger = deps.logger?.child({ component: 'admin-session' })
  const counts = { executed: 0, refused: 0, failed: 0 }
  const setTimer = deps.setTimer ?? ((ms, fn) => {
    const t = setTimeout(fn, ms)
    return () => { clearTimeout(t) }
  })
  let http: AdminHttpClient | undefined
  const finish = (result: 'completed' | 'failed', code?: string): AdminSessionOutcome => {
    safeLog(deps, logger, {
      type: 'admin-session',
      fields: { reason, result, commands: counts.executed + counts.refused + counts.failed, ...(code === undefined ? {} : { code }) },
    })
    return { ...counts, result, ...(code === undefined ? {} : { code }) }
  }
  try {
    const endpoint = new URL(config.endpoint)
    if (endpoint.protocol !== 'https:') return finish('failed', 'ENDPOINT_INVALID')
    http = createAdminHttpClient(endpoint, {
      context: deps.tls(), serverSubject: config.gwaSubject, requestTimeoutMs: config.requestTimeoutMs, setTimer,
      maxAnswerBytes: config.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES,
    })
    let report: Uint8Array
    let reported: AdminReport
    try {
      reported = {
        ...deps.report(reason), format: ADMIN_REPORT_FORMAT, gatewayId: deps.gatewayId, sentAt: deps.now().toISOString(), reason, lastSequence: deps.lastSequence(),
      }
      report = encodeAdminReport(reported)
    } catch (err) {
      logger?.error({ err }, 'admin report invalid')
      return finish('failed', 'REPORT_INVALID')
    }
    let commands = await exchange(http, SESSION_PATH, report, async () => {
      try {
        await deps.reportAccepted?.(reported)
      } catch (err) {
        logger?.error({ err }, 'report accepted, but its follow-up failed')
      }
    })
    const maxRounds = config.maxRounds ?? MAX_SESSION_ROUNDS
    for (let round = 1; commands.length > 0; round++) {
      if (round > maxRounds) return finish('completed', 'MAX_ROUNDS')
      const results: AdminResult[] = []
      for (const [index, encoded] of commands.entries()) {
        const result = await runCommand(new Uint8Array(Buffer.from(encoded, 'base64')), index, config, deps, logger)
        counts[result.outcome]++
        results.push(result.item)
      }
      commands = await exchange(http, RESULTS_PATH, encodeAdminResults({ format: ADMIN_RESULTS_FORMAT, gatewayId: deps.gatewayId, results }))
    }
    return finish('completed')
  } catch (err) {
    const code = err instanceof SessionFailure || err instanceof AdminHttpFailure ? err.code : 'FAILED'
    logger?.warn({ err, code }, 'admin session failed')
    return finish('failed', code)
  } finally {
    http?.close()
  }
}

class SessionFailure extends Error {
  override name = 'SessionFailure'
  constructor(readonly code: string, message: string, options?: ErrorOptions) {
    super(message, options)
  }
}

/** One POST; `accepted` runs once the GWA answered 200, also when the answer's body then does not decode. */
async function exchange(http: AdminHttpClient, path: string, body: Uint8Array, accepted?: () => Promise<void>): Promise<readonly string[]> {
  const answer = await http.postJson(path, body)
  // Any status but 200 ends the session; it is retried at the next wake-up or schedule.
  if (answer.status !== 200) throw new SessionFailure(`HTTP_${String(answer.status)}`, `GWA answered ${String(answer.status)} to ${path}`)
  await accepted?.()
  try {
    return decodeCommandsAnswer(answer.body).commands
  } catch (err) {
    throw new SessionFailure('ANSWER_MALFORMED', `GWA answer to ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
}

export interface VerifyCommandContext {
  readonly gatewayId: string
  readonly verifier: SignerVerifier
  /** Legal time. */
  readonly at: Date
  readonly lastSequence: number
  readonly commandMaxAgeS: number
  readonly freshnessS: number
}

/**
 * The checks of docs/admin-protocol.md "Commands", in order: readable (peek), addressed to
 * this gateway, sequence greater than the last executed, issuedAt within
 * [at − commandMaxAgeS, at + freshnessS], signed by the GWA, then allowed to the role `gwa`.
 * Throws GatewayError ADMIN_REFUSED (its cause the AdminProtocolError with the reason) or
 * FORBIDDEN; returns the verified command.
 */
export async function verifyAdminCommand(der: Uint8Array, ctx: VerifyCommandContext): Promise<AdminCommand> {
  let command: AdminCommand
  try {
    const peeked = peekCommand(der)
    checkAddressed(peeked.gatewayId, ctx.gatewayId)
    checkIncreasing(peeked.sequence, ctx.lastSequence, 'sequence')
    checkFreshness(peeked.issuedAt, ctx.at, ctx.commandMaxAgeS, ctx.freshnessS)
    command = await openCommand(der, ctx.verifier, ctx.at)
  } catch (err) {
    if (isAdminProtocolError(err)) throw new GatewayError('ADMIN_REFUSED', `${err.code}: ${err.message}`, { cause: err })
    throw err
  }
  assertAuthorized('gwa', operationOf(command))
  return command
}

/** The code a refused or failed command is answered with: the protocol reason, the gateway code, or FAILED. */
export function resultCodeOf(err: unknown): string {
  if (isGatewayError(err) && err.code === 'ADMIN_REFUSED') return err.reason ?? (isAdminProtocolError(err.cause) ? err.cause.code : err.code)
  if (isGatewayError(err) || isAdminProtocolError(err)) return err.code
  return 'FAILED'
}

interface CommandRun {
  readonly outcome: 'executed' | 'refused' | 'failed'
  readonly item: AdminResult
}

async function runCommand(der: Uint8Array, index: number, config: AdminSessionConfig, deps: AdminSessionDeps, logger: Logger | undefined): Promise<CommandRun> {
  // What can be read without verifying names the command in the result, also when refused.
  let id: { commandId: string | null; sequence: number | null; type: string } = { commandId: null, sequence: null, type: 'unreadable' }
  try {
    const peeked = peekCommand(der)
    id = { commandId: peeked.commandId, sequence: peeked.sequence, type: peeked.type }
  } catch {
    // Reported below by verifyAdminCommand with its reason.
  }
  const done = (outcome: CommandRun['outcome'], body: { data: Record<string, unknown> } | { code: string; message: string }): CommandRun => {
    const code = 'code' in body ? body.code : undefined
    safeLog(deps, logger, {
      type: 'admin-command',
      fields: { type: id.type, sequence: id.sequence ?? 0, result: outcome, ...(code === undefined ? {} : { code: code.slice(0, 64) }) },
    })
    const head = { commandId: id.commandId, sequence: id.sequence, index }
    const item: AdminResult = 'data' in body
      ? { ...head, ok: true, data: body.data }
      : { ...head, ok: false, error: { code: body.code.slice(0, 64), message: body.message.slice(0, MAX_ERROR_MESSAGE) } }
    return { outcome, item }
  }

  let command: AdminCommand
  try {
    command = await verifyAdminCommand(der, {
      gatewayId: deps.gatewayId, verifier: deps.verifier, at: deps.now(), lastSequence: deps.lastSequence(),
      commandMaxAgeS: config.commandMaxAgeS, freshnessS: config.freshnessS,
    })
  } catch (err) {
    // A verified command refused by the access table still used up its sequence number.
    if (isGatewayError(err) && err.code === 'FORBIDDEN' && id.sequence !== null) deps.acceptSequence(id.sequence)
    logger?.warn({ code: resultCodeOf(err), sequence: id.sequence, type: id.type }, 'admin command refused')
    return done('refused', { code: resultCodeOf(err), message: err instanceof Error ? err.message : String(err) })
  }
  // Taken before execution: a command that ran (or crashed the gateway half-way) is never run again.
  deps.acceptSequence(command.sequence)
  const handler = deps.handlers[command.type] as ((c: AdminCommand) => Promise<Record<string, unknown>>) | undefined
  if (handler === undefined) return done('failed', { code: 'UNSUPPORTED', message: `this gateway does not execute ${command.type}` })
  try {
    const data = await handler(command)
    // The result travels as JSON: something JSON cannot hold is the handler's failure, not the session's.
    formatCanonicalJson(data)
    logger?.info({ type: command.type, sequence: command.sequence }, 'admin command executed')
    return done('executed', { data })
  } catch (err) {
    logger?.warn({ err, type: command.type, sequence: command.sequence }, 'admin command failed')
    return done('failed', { code: resultCodeOf(err), message: err instanceof Error ? err.message : String(err) })
  }
}

function safeLog(deps: AdminSessionDeps, logger: Logger | undefined, entry: AdminLogEntry): void {
  try {
    deps.log(entry)
  } catch (err) {
    logger?.error({ err, type: entry.type }, 'admin log entry not written')
  }
}
