import { constants as cryptoConstants, randomBytes, type X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { createCmsDecryptor, createCmsVerifier, nativeEcdhStatus } from '@smgw/crypto'
import { IDEMPOTENCY_HEADER, METER_DATA_PATH } from '@smgw/meter-data'
import { createPathValidator, createTlsContext, peerCertificateOfSession, toTlsRejection, type PathValidator, type TlsContext, type ValidationResult } from '@smgw/pki'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { createApi } from './api.js'
import type { EmtConfig } from './config.js'
import { EmtError } from './errors.js'
import { gatewayIdOfRdns } from './identity.js'
import { createIntake, SignerPathRejected, type IntakeResult } from './intake.js'
import { openReceiverKeys, readCrls, readIdentityMaterial, readTrustMaterial, type TrustMaterial } from './material.js'
import { openRepository } from './repository/open.js'
import { applyRetention, RETENTION_INTERVAL_MS } from './retention.js'
import { loadSignatureMemo, type StoredSignatureMemo } from './signature-memo.js'
import type { EmtRepository } from './repository/types.js'
import { startWorkerPool, type WorkerPool } from './workers.js'

export interface EmtReceiverDeps {
  /** pino logger; the receiver logs through children { component: 'emt-intake' | 'emt-api' }. */
  readonly logger: Logger
  /** Clock for certificate/CRL validity, the replay window and receive times (default: system clock). */
  readonly now?: () => Date
  /** A repository to use instead of opening `config.storage` (not closed by the receiver). */
  readonly repository?: EmtRepository
  /**
   * The 48-byte TLS session ticket keys (node's `ticketKeys`): workers get their primary's, so
   * a ticket issued by one worker resumes on another. Default: random per receiver start.
   */
  readonly ticketKeys?: Uint8Array
}

export interface EmtReceiverPorts {
  /** The gateway-facing mutual-TLS port. */
  readonly gateway: number
  /** The REST API port (undefined without `api` in the configuration). */
  readonly api: number | undefined
}

export interface EmtReceiver {
  start(): Promise<void>
  close(): Promise<void>
  /** Bound ports after start. */
  ports(): EmtReceiverPorts
  /**
   * Re-reads the CRL files (new TLS handshakes and messages are checked against them) and the
   * store's remembered signatures (gateways registered with their certificates since the start).
   */
  reloadCrls(): Promise<void>
  /** The repository in use (after start). */
  repository(): EmtRepository
}

/** The HTTP status of each outcome of the intake (docs/wan-protocol.md). */
const STATUS = { stored: 201, duplicate: 200 } as const
const REJECTION_STATUS = 400 // every refusal is a 4xx: refused for good
const UNAVAILABLE_STATUS = 503

/**
 * The market participant's receiver: a fastify 5 app over node:https with the SM-PKI TLS
 * context (TLS 1.2, TR-03109-3 suites, client certificate required), each client checked by
 * our path validation ('tls-client', CRLs) before any request is read; POST /v1/meter-data
 * runs the checks of docs/wan-protocol.md in order and answers only after the commit.
 */
export function createEmtReceiver(config: EmtConfig, deps: EmtReceiverDeps): EmtReceiver {
  const now = deps.now ?? (() => new Date())
  const log = deps.logger.child({ component: 'emt-intake' })
  let started = false
  let startPromise: Promise<void> | undefined
  const undo: (() => Promise<void>)[] = []
  let repo: EmtRepository | undefined
  let gatewayApp: FastifyInstance | undefined
  let apiApp: FastifyInstance | undefined
  let trust: TrustMaterial | undefined
  let tlsContext: TlsContext | undefined
  // One path validator for the TLS clients ('tls-client') and the SIG certificates ('sig'): the
  // same trust material, so the sub-CA a gateway sends is decoded and verified once for both.
  let pathValidator: PathValidator | undefined
  let makeTlsContext: ((crls: readonly Uint8Array[]) => TlsContext) | undefined
  const peers = new WeakMap<object, string | undefined>()
  let pool: WorkerPool | undefined

  // The certificate signatures verified before, kept in the store (restarts, CRL reloads, registration).
  let signatureMemo: StoredSignatureMemo | undefined
  // `previous`: the validator being replaced (CRL reload) hands over the sub-CAs it learned, so
  // resumed TLS sessions (leaf only) still find their path.
  const buildValidator = (t: TrustMaterial, previous?: PathValidator): PathValidator => createPathValidator({
    roots: t.roots, intermediates: [...t.intermediates, ...(previous?.learnedIntermediates() ?? [])], crls: t.crls,
    requireCrl: config.pki.requireCrl, maxCached: config.certificateCache,
    ...(signatureMemo === undefined ? {} : { signatureMemo }),
  })
  const ticketKeys = config.sessionTickets ? (deps.ticketKeys ?? new Uint8Array(randomBytes(48))) : undefined

  /**
   * Retention now and every 24 h on this process's repository, beside the intake (a large
   * backlog must not hold up the start); a failure is logged and the next run tries again.
   * Closing waits for a run in progress before the repository closes.
   */
  const startRetention = (repository: EmtRepository): void => {
    let running: Promise<void> = Promise.resolve()
    const apply = async (): Promise<void> => {
      try {
        const r = await applyRetention(repository, now(), config)
        if (r.messages + r.values + r.signatures > 0) {
          log.info({ event: 'retention', messages: r.messages, values: r.values, signatures: r.signatures, periodEndAtOrBefore: r.request.periodEndAtOrBefore.toISOString() },
            `retention: ${String(r.values)} values and ${String(r.messages)} messages deleted, ${String(r.signatures)} remembered signatures of expired certificates forgotten`)
        }
      } catch (err) {
        log.error({ event: 'retention-failed', err }, 'retention failed; it runs again in 24 h')
      }
    }
    const run = () => { running = running.then(apply) }
    run()
    const timer = setInterval(run, RETENTION_INTERVAL_MS)
    timer.unref()
    undo.push(async () => { clearInterval(timer); await running })
  }

  const startApi = async (repository: EmtRepository): Promise<void> => {
    if (config.api === undefined) return
    const token = (await readFile(config.api.tokenFile, 'utf8')).trim()
    if (token.length < 16) throw new EmtError('EMT_CONFIG_INVALID', `api.tokenFile: the token must have at least 16 characters`)
    apiApp = createApi({ repository, token, participantId: config.participantId, now, logger: deps.logger.child({ component: 'emt-api' }) })
    await apiApp.listen({ host: config.api.host, port: config.api.port })
    const a = apiApp
    undo.push(() => a.close())
  }

  /** workers > 1: this process opens the store (migrations) and serves the REST API; the workers serve the gateways. */
  const startPrimary = async (): Promise<void> => {
    if (deps.repository !== undefined || deps.now !== undefined) {
      throw new EmtError('EMT_START_FAILED', 'workers > 1: the workers open config.storage and use the system clock (no injected repository or clock)')
    }
    const opened = await openRepository(config.storage)
    repo = opened
    undo.push(() => opened.close())
    const p = await startWorkerPool(config, deps.logger.level, ticketKeys, (pid, code) => {
      log.error({ event: 'worker-exited', pid: pid ?? null, code }, 'a receiver worker exited; the others keep serving')
    })
    pool = p
    undo.push(async () => { pool = undefined; await p.close() })
    startRetention(opened)
    await startApi(opened)
  }

  const start = async (): Promise<void> => {
    try {
      if (config.workers > 1) {
        await startPrimary()
        started = true
        log.info({ event: 'started', ports: ports(), workers: config.workers }, 'receiver workers listening')
        return
      }
      trust = await readTrustMaterial(config)
      const identity = await readIdentityMaterial(config)
      // Both keys before anything listens; their modules stay open while the receiver serves (a token's TLS key signs through OpenSSL's engine).
      const keys = await openReceiverKeys(config)
      undo.push(keys.close)
      const t = trust
      makeTlsContext = (crls) => createTlsContext({
        profile: 'wan',
        identity: { key: keys.tls, cert: identity.tlsCertificate, chain: identity.tlsChain },
        trust: { roots: t.roots, intermediates: t.intermediates, crls, requireCrl: config.pki.requireCrl },
        ...(config.tls.ecdhCurves === undefined ? {} : { ecdhCurves: config.tls.ecdhCurves }),
      }, { now })
      tlsContext = makeTlsContext(trust.crls)
      if (deps.repository === undefined) {
        const opened = await openRepository(config.storage)
        repo = opened
        undo.push(() => opened.close())
      } else {
        repo = deps.repository
      }
      const memo = await loadSignatureMemo(repo, now(), (err) => { log.warn({ event: 'signature-memo-failed', err }, 'verified signatures not recorded; they are verified again after a restart') })
      signatureMemo = memo
      undo.push(() => memo.close())
      pathValidator = buildValidator(trust)
      const decryptor = createCmsDecryptor({ agreer: keys.agreer, certificate: identity.encCertificate })
      const verifier = createCmsVerifier({
        maxCachedCertificates: config.certificateCache,
        trust: (signerCertificate, carried) => {
          const validator = pathValidator
          if (validator === undefined) return Promise.reject(new Error('receiver closed'))
          const r = validator.validate({ leaf: signerCertificate, intermediates: carried, at: now(), purpose: 'sig' })
          return r.ok ? Promise.resolve() : Promise.reject(new SignerPathRejected(r.reason, `signer certificate: ${r.reason} (${r.detail})`))
        },
      })
      const intake = createIntake({
        participantId: config.participantId, repository: repo, decryptor, verifier,
        replayWindowMs: config.replayWindowDays * 86_400_000, now,
      })

      const tlsOptions = {
        ...tlsContext.serverOptions,
        // The client chain is validated once, by our SM-PKI path validation in checkPeer, which
        // remembers the signatures it verified. OpenSSL given the roots verified the leaf's and
        // the sub-CA's signatures again on every full handshake (two brainpool verifies it cannot
        // remember) and added no rule of its own. An empty store leaves OpenSSL only the proof of
        // possession (CertificateVerify) and an empty certificate_authorities list, which lets the
        // client send its certificate (RFC 5246 §7.4.4).
        ca: [],
        ...(ticketKeys === undefined
          ? { secureOptions: (tlsContext.serverOptions.secureOptions ?? 0) | cryptoConstants.SSL_OP_NO_TICKET }
          : { ticketKeys: Buffer.from(ticketKeys) }),
      }
      gatewayApp = Fastify({
        logger: false,
        bodyLimit: config.maxBodyBytes,
        serverFactory: (handler) => {
          const server: HttpsServer = createHttpsServer({ ...tlsOptions, rejectUnauthorized: false }, handler)
          // Before the HTTP layer sees the socket: our path validation ('tls-client', CRLs) decides.
          server.prependListener('secureConnection', (socket: TLSSocket) => { checkPeer(socket) })
          server.on('tlsClientError', (err) => {
            const rejection = toTlsRejection(err)
            log.warn({ event: 'tls-refused', reason: rejection.reason ?? null }, rejection.message)
          })
          return server
        },
      })
      gatewayApp.removeAllContentTypeParsers()
      gatewayApp.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => { done(null, body) })
      gatewayApp.get('/health', () => ({ status: 'ok' }))
      gatewayApp.post(METER_DATA_PATH, async (request, reply) => {
        const tlsGatewayId = peers.get(request.raw.socket)
        const header = request.headers[IDEMPOTENCY_HEADER]
        const body = Buffer.isBuffer(request.body) ? new Uint8Array(request.body.buffer, request.body.byteOffset, request.body.byteLength) : new Uint8Array(0)
        let result: IntakeResult
        try {
          result = await intake.receive({ body, idempotencyKey: typeof header === 'string' ? header : undefined, tlsGatewayId })
        } catch (err) {
          log.error({ event: 'intake-failed', gateway: tlsGatewayId ?? null, err }, 'message not stored: storage or internal failure')
          return reply.code(UNAVAILABLE_STATUS).send({ code: err instanceof EmtError ? err.code : 'INTERNAL', message: 'not stored; try again later' })
        }
        switch (result.status) {
          case 'stored':
          case 'duplicate':
            log.info({ event: result.status, gateway: result.gatewayId, messageId: result.messageId }, `message ${result.status}`)
            return reply.code(STATUS[result.status]).send({ status: result.status, messageId: result.messageId })
          case 'rejected':
            log.warn({ event: 'rejected', code: result.code, gateway: tlsGatewayId ?? null, messageId: result.messageId ?? null }, result.message)
            return reply.code(REJECTION_STATUS).send({ code: result.code, message: result.message.slice(0, 1000) })
          case 'unavailable':
            log.error({ event: 'trust-unavailable', reason: result.reason, gateway: tlsGatewayId ?? null }, result.message)
            return reply.code(UNAVAILABLE_STATUS).send({ code: result.reason, message: 'the receiver cannot check certificates now; try again later' })
        }
      })
      gatewayApp.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, _request, reply) => {
        const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500
        log.warn({ event: 'request-error', status, code: err.code ?? null }, err.message)
        // 4xx answers carry a REJECTION_CODE (the gateway reads them with decodeDeliveryRejection): too large or unreadable is MALFORMED.
        return reply.code(status).send(status < 500 ? { code: 'MALFORMED', message: err.message.slice(0, 1000) } : { code: 'INTERNAL', message: 'internal error' })
      })
      await gatewayApp.listen({ host: config.listen.host, port: config.listen.port })
      const g = gatewayApp
      undo.push(() => g.close())

      startRetention(repo)
      await startApi(repo)
      started = true
      // Whether an ENC key held in memory agrees through the native binding (half the CPU of node:crypto's ECDH).
      log.info({ event: 'started', ports: ports(), rememberedSignatures: memo.loaded, nativeEcdh: nativeEcdhStatus() }, 'receiver listening')
    } catch (err) {
      await rollback()
      if (err instanceof EmtError) throw err
      throw new EmtError('EMT_START_FAILED', `the receiver could not start: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
  }

  const checkPeer = (socket: TLSSocket): void => {
    const ctx = tlsContext
    const refuse = (reason: string | undefined, message: string) => {
      log.warn({ event: 'tls-refused', reason: reason ?? null, peer: socket.remoteAddress ?? null }, message)
      socket.destroy()
    }
    if (ctx === undefined) { refuse(undefined, 'receiver closing'); return }
    if (socket.getProtocol() !== 'TLSv1.2') { refuse(undefined, `protocol ${socket.getProtocol() ?? 'unknown'} is not TLSv1.2`); return }
    const validator = pathValidator
    const validate = (leaf: Uint8Array | undefined, sent: readonly Uint8Array[]): ValidationResult => leaf === undefined || validator === undefined
      ? { ok: false, reason: 'NO_PATH', detail: 'the peer sent no certificate', chain: [] }
      : validator.validate({ leaf, intermediates: sent, at: now(), purpose: 'tls-client' })
    // First the leaf alone, from the session's record of it, through the sub-CAs this process
    // knows (configured, or learned from an accepted chain): reading the chain the client sent
    // costs node a copy and a key decoding of each CA certificate in it (0.16 ms a handshake).
    const session = socket.getSession()
    const sessionLeaf = peerCertificateOfSession(session)
    session?.fill(0) // it holds the master secret
    let result = sessionLeaf === undefined ? undefined : validate(sessionLeaf, [])
    if (result?.ok !== true) {
      // Anything else is decided on the chain as the client sent it (leaf first), read from node's
      // lazily parsed X509Certificate: TlsContext.verifyPeer does the same through
      // getPeerCertificate(true), which formats every certificate into an object first (profiled).
      const [leaf, ...sent] = peerChainOf(socket.getPeerX509Certificate())
      result = validate(leaf, sent)
    }
    if (!result.ok) {
      // A resumed session carries the leaf only; a process that has not yet seen its sub-CA in a
      // full handshake (nor has it in pki.intermediates) cannot build the path. The gateway's
      // next attempt is a full handshake (it drops a session that failed).
      const resumed = socket.isSessionReused() ? ' in a resumed TLS session' : ''
      refuse(result.reason, `TLS client rejected${resumed}: ${result.reason} (${result.detail})`)
      return
    }
    // The leaf our validation decoded (chain[0]) names the gateway; no second parse of the peer certificate.
    peers.set(socket, gatewayIdOfRdns(result.chain[0]?.subjectRdns ?? []))
  }

  /** DER of a peer certificate and its issuers as node reports them, until one repeats (at most 16). */
  const peerChainOf = (certificate: X509Certificate | undefined): Uint8Array[] => {
    const out: Uint8Array[] = []
    for (let c = certificate; c !== undefined && out.length < 16; c = c.issuerCertificate) {
      const der = new Uint8Array(c.raw)
      if (out.some((o) => Buffer.compare(o, der) === 0)) break
      out.push(der)
    }
    return out
  }

  const rollback = async (): Promise<void> => {
    while (undo.length > 0) {
      const step = undo.pop()
      try {
        await step?.()
      } catch (err) {
        log.error({ event: 'close-failed', err }, 'a step of close failed')
      }
    }
    tlsContext = undefined
    pathValidator = undefined
    signatureMemo = undefined
  }

  const ports = (): EmtReceiverPorts => {
    const port = (app: FastifyInstance | undefined) => (app === undefined ? undefined : (app.server.address() as AddressInfo | null)?.port)
    const gateway = pool?.port ?? port(gatewayApp)
    if (gateway === undefined) throw new EmtError('EMT_START_FAILED', 'the receiver is not started')
    return { gateway, api: port(apiApp) }
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
      log.info({ event: 'closed' }, 'receiver closed')
    },
    ports,
    reloadCrls: async () => {
      if (pool !== undefined) {
        await pool.reloadCrls()
        log.info({ event: 'crls-reloaded', workers: config.workers }, 'CRLs reloaded in every worker')
        return
      }
      if (trust === undefined || makeTlsContext === undefined) throw new EmtError('EMT_START_FAILED', 'the receiver is not started')
      const crls = await readCrls(config)
      const rememberedSignatures = await signatureMemo?.reload(now())
      trust = { ...trust, crls }
      tlsContext = makeTlsContext(crls)
      pathValidator = buildValidator(trust, pathValidator)
      log.info({ event: 'crls-reloaded', crls: crls.length, rememberedSignatures }, 'CRLs and remembered signatures reloaded')
    },
    repository: () => {
      if (repo === undefined) throw new EmtError('EMT_START_FAILED', 'the receiver is not started')
      return repo
    },
  }
}
