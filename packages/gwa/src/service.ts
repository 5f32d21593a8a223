import { readFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { MAX_COMMANDS_PER_ANSWER, MAX_SESSION_ROUNDS } from '@smgw/admin-protocol'
import { createTlsContext, type TlsContext } from '@smgw/pki'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { createAdminServer } from './admin-server.js'
import { createApi } from './api.js'
import { createGatewayCa } from './certificates.js'
import { createCommandIssuer } from './commands.js'
import type { GwaConfig } from './config.js'
import { GwaError } from './errors.js'
import { readCrls, readGwaMaterial, type GwaMaterial } from './material.js'
import { createGwaOperations, type GwaOperations } from './operations.js'
import { openRepository } from './repository/open.js'
import type { GwaRepository } from './repository/types.js'
import { createAdminSessions } from './session.js'
import { createSessionRateLimiter } from './session-rate.js'
import { createWakeUpSender, type DatagramSend } from './wakeup.js'

export interface GwaDeps {
  /** pino logger; children { component: 'gwa-session' | 'gwa-api' | 'gwa' }. */
  readonly logger: Logger
  /** Clock for certificate validity, command and wake-up times (default: the system clock). */
  readonly now?: () => Date
  /** An inventory to use instead of opening `config.storage` (not closed by the service). */
  readonly repository?: GwaRepository
  /** The REST API token when `api.tokenFile` is not set (the CLI passes SMGW_GWA_API_TOKEN). */
  readonly apiToken?: string
  /** How wake-up datagrams leave (default: UDP). */
  readonly sendDatagram?: DatagramSend
  /** Monotonic milliseconds for the session rate limit (default: performance.now). */
  readonly monotonicNow?: () => number
}

export interface GwaPorts {
  /** The gateway-facing mutual-TLS admin port. */
  readonly admin: number
  /** The REST API port (undefined without `api`). */
  readonly api: number | undefined
}

export interface GwaService {
  start(): Promise<void>
  close(): Promise<void>
  ports(): GwaPorts
  /** Re-reads the CRL files: new handshakes, renewal checks and `update-crls` use them. */
  reloadCrls(): Promise<void>
  repository(): GwaRepository
  operations(): GwaOperations
}

/**
 * The administrator's head-end: inventory, the gateway-facing mutual-TLS admin server
 * (docs/admin-protocol.md), command signing, the gateway sub-CA for CSRs, wake-ups and the
 * operator REST API. `close` undoes `start` in reverse order; both are idempotent.
 */
export function createGwa(config: GwaConfig, deps: GwaDeps): GwaService {
  const now = deps.now ?? (() => new Date())
  const log = deps.logger.child({ component: 'gwa' })
  let startPromise: Promise<void> | undefined
  let started = false
  const undo: (() => Promise<void>)[] = []
  let repo: GwaRepository | undefined
  let ops: GwaOperations | undefined
  let material: GwaMaterial | undefined
  let tlsContext: TlsContext | undefined
  let crls: readonly Uint8Array[] = []
  let adminApp: FastifyInstance | undefined
  let apiApp: FastifyInstance | undefined

  const makeTlsContext = (m: GwaMaterial, currentCrls: readonly Uint8Array[]): TlsContext => createTlsContext({
    profile: 'wan',
    identity: { key: m.tls.keyPem, cert: m.tls.certificate, chain: m.tls.chain },
    trust: { roots: m.trust.roots, intermediates: m.trust.intermediates, crls: currentCrls, requireCrl: config.pki.requireCrl },
  }, { now })

  const apiToken = async (): Promise<string | undefined> => {
    if (config.api === undefined) return undefined
    const token = config.api.tokenFile === undefined ? deps.apiToken : (await readFile(config.api.tokenFile, 'utf8').catch((err: unknown) => {
      throw new GwaError('GWA_CONFIG_INVALID', `api.tokenFile: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    })).trim()
    if (token === undefined || token.length < 16) throw new GwaError('GWA_CONFIG_INVALID', 'the REST API needs a token of at least 16 characters (api.tokenFile or SMGW_GWA_API_TOKEN)')
    return token
  }

  const start = async (): Promise<void> => {
    try {
      const token = await apiToken()
      const m = await readGwaMaterial(config)
      material = m
      crls = m.trust.crls
      tlsContext = makeTlsContext(m, crls)
      if (deps.repository === undefined) {
        const opened = await openRepository(config.storage)
        repo = opened
        undo.push(() => opened.close())
      } else {
        repo = deps.repository
      }
      const repository = repo
      const issuer = createCommandIssuer({ repository, signer: m.sig.signer, now })
      const wakeUps = createWakeUpSender({ repository, signer: m.sig.signer, gwaId: config.gwaId, now, ...(deps.sendDatagram === undefined ? {} : { send: deps.sendDatagram }) })
      const ca = m.ca === undefined ? undefined : createGatewayCa({
        ca: m.ca,
        // The CRLs as they are now (reloadCrls replaces them): a revoked old certificate cannot renew.
        get trust() { return { roots: m.trust.roots, intermediates: m.trust.intermediates, crls, requireCrl: config.pki.requireCrl } },
        ...(config.certificateValidityDays === undefined ? {} : { validityDays: config.certificateValidityDays }),
      }, { now })
      ops = createGwaOperations({ repository, issuer, wakeUps, crls: () => crls, now })
      const sessions = createAdminSessions({
        repository, issuer, ...(ca === undefined ? {} : { ca }), now, logger: deps.logger.child({ component: 'gwa-session' }),
        maxCommandsPerAnswer: Math.min(config.maxCommandsPerAnswer, MAX_COMMANDS_PER_ANSWER),
      })
      const monotonicNow = deps.monotonicNow ?? (() => performance.now())
      const { perMinute, burst } = config.sessionRateLimit
      const rateLimit = {
        sessions: createSessionRateLimiter({ perMinute, ...(burst === undefined ? {} : { burst }), now: monotonicNow }),
        results: createSessionRateLimiter({ perMinute: perMinute * MAX_SESSION_ROUNDS, burst: (burst ?? perMinute) * MAX_SESSION_ROUNDS, now: monotonicNow }),
      }
      adminApp = createAdminServer({ tls: () => tlsContext, sessions, logger: deps.logger.child({ component: 'gwa-session' }), maxBodyBytes: config.maxBodyBytes, rateLimit })
      await adminApp.listen({ host: config.listen.host, port: config.listen.port })
      const a = adminApp
      undo.push(() => a.close())
      if (config.api !== undefined && token !== undefined) {
        apiApp = createApi({ operations: ops, token, logger: deps.logger.child({ component: 'gwa-api' }), maxBodyBytes: config.maxBodyBytes })
        await apiApp.listen({ host: config.api.host, port: config.api.port })
        const api = apiApp
        undo.push(() => api.close())
      }
      started = true
      log.info({ event: 'started', ports: ports() }, 'GWA listening')
    } catch (err) {
      await rollback()
      if (err instanceof GwaError) throw err
      throw new GwaError('GWA_START_FAILED', `the GWA could not start: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
  }

  const rollback = async (): Promise<void> => {
    tlsContext = undefined
    while (undo.length > 0) {
      const step = undo.pop()
      try {
        await step?.()
      } catch (err) {
        log.error({ event: 'close-failed', err }, 'a step of close failed')
      }
    }
    adminApp = undefined
    apiApp = undefined
  }

  const ports = (): GwaPorts => {
    const port = (app: FastifyInstance | undefined) => (app === undefined ? undefined : (app.server.address() as AddressInfo | null)?.port)
    const admin = port(adminApp)
    if (admin === undefined) throw new GwaError('GWA_START_FAILED', 'the GWA is not started')
    return { admin, api: port(apiApp) }
  }

  return {
    start: () => {
      startPromise ??= start()
      return startPromise
    },
    close: async () => {
      if (startPromise === undefined) return
      await startPromise.catch(() => undefined)
      if (!started) return
      started = false
      await rollback()
      log.info({ event: 'closed' }, 'GWA closed')
    },
    ports,
    reloadCrls: async () => {
      if (material === undefined || !started) throw new GwaError('GWA_START_FAILED', 'the GWA is not started')
      crls = await readCrls(config)
      tlsContext = makeTlsContext(material, crls)
      log.info({ event: 'crls-reloaded', crls: crls.length }, 'CRLs reloaded')
    },
    repository: () => {
      if (repo === undefined) throw new GwaError('GWA_START_FAILED', 'the GWA is not started')
      return repo
    },
    operations: () => {
      if (ops === undefined) throw new GwaError('GWA_START_FAILED', 'the GWA is not started')
      return ops
    },
  }
}
