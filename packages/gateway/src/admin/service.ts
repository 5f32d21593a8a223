import { readFile } from 'node:fs/promises'
import { createSignerVerifier, type AdminCommand, type SessionReason, type SignerVerifier } from '@smgw/admin-protocol'
import { decodeCertificates, decodePemOrDer, type SecretKeyModule } from '@smgw/crypto'
import { createTlsContext, decodeCertificate, parseName, type DistinguishedName, type TlsContext } from '@smgw/pki'
import type { Logger } from 'pino'
import type { AdminConfig, GatewayConfig } from '../config.js'
import { parseGatewayConfig } from '../config.js'
import { GatewayError } from '../errors.js'
import type { SystemLogEntry } from '../log/entries.js'
import { exportLog, exportLogSince } from '../log/export.js'
import { messageOf } from '../store/store.js'
import type { Store } from '../store/types.js'
import { parseTariffProfiles } from '../taf/profile.js'
import type { TafService } from '../taf/service.js'
import { assertAuthorized } from './access.js'
import type { CertificateManager, CertificateSummaryItem, ConfigOverrides } from './certificates.js'
import type { FirmwareManager } from './firmware.js'
import { installMeterKeys } from './meter-keys.js'
import type { ConfigVersions } from './profiles.js'
import type { ConsumerRequests } from './requests.js'
import { runAdminSession, type AdminSessionOutcome, type CommandHandlers } from './session.js'
import { createWakeUpListener, type WakeUpListener } from './wakeup.js'

/*
 * The administration service (docs/admin-protocol.md): the UDP wake-up listener, the admin
 * session with the GWA (on an accepted wake-up, at start, every `pollIntervalS`; one at a
 * time, a wake-up during a session is absorbed) and the command handlers, each a thin call
 * into the part that owns the change: configuration versions, the certificate and firmware
 * managers, the legal clock, the system log, the TAF service, the CLS channel.
 */

/** Admin state keys in the store (migration 5). */
const WAKE_UP_COUNTER = 'wakeup.counter'
const COMMAND_SEQUENCE = 'command.sequence'

/** The certificates and names the `admin` section's files hold, read once at start. */
export interface AdminFiles {
  /** The GWA's subject DN (of `gwaCertificate`). */
  readonly gwaSubject: DistinguishedName
  readonly manufacturerSubject?: DistinguishedName
  readonly trust: { readonly roots: readonly Uint8Array[]; readonly intermediates: readonly Uint8Array[]; readonly crls: readonly Uint8Array[]; readonly requireCrl: boolean }
  readonly initialIdentity: { readonly key: string; readonly certificate: Uint8Array; readonly chain: readonly Uint8Array[] }
}

export async function readAdminFiles(admin: AdminConfig): Promise<AdminFiles> {
  const certs = async (file: string, what: string): Promise<Uint8Array[]> => {
    try {
      const found = decodeCertificates(new Uint8Array(await readFile(file))).map((c) => c.der)
      if (found.length === 0) throw new Error('no certificate')
      return found
    } catch (err) {
      throw new GatewayError('CONFIG_INVALID', `${what}: cannot read certificates from ${file}: ${messageOf(err)}`, { cause: err })
    }
  }
  const subjectOf = async (file: string, what: string): Promise<DistinguishedName> => parseName(decodeCertificate((await certs(file, what))[0]!).subject)
  const crls = await Promise.all(admin.trust.crls.map(async (file) => {
    try {
      const [der] = decodePemOrDer(new Uint8Array(await readFile(file)), ['X509 CRL'], 'CERT_MALFORMED')
      if (der === undefined) throw new Error('empty')
      return der
    } catch (err) {
      throw new GatewayError('CONFIG_INVALID', `admin.trust.crls: cannot read a CRL from ${file}: ${messageOf(err)}`, { cause: err })
    }
  }))
  let key: string
  try {
    key = await readFile(admin.initialIdentity.key, 'utf8')
  } catch (err) {
    throw new GatewayError('CONFIG_INVALID', `admin.initialIdentity.key: cannot read ${admin.initialIdentity.key}: ${messageOf(err)}`, { cause: err })
  }
  return {
    gwaSubject: await subjectOf(admin.gwaCertificate, 'admin.gwaCertificate'),
    ...(admin.manufacturerCertificate === undefined ? {} : { manufacturerSubject: await subjectOf(admin.manufacturerCertificate, 'admin.manufacturerCertificate') }),
    trust: {
      roots: (await Promise.all(admin.trust.roots.map((f) => certs(f, 'admin.trust.roots')))).flat(),
      intermediates: (await Promise.all(admin.trust.intermediates.map((f) => certs(f, 'admin.trust.intermediates')))).flat(),
      crls,
      requireCrl: admin.trust.requireCrl,
    },
    initialIdentity: {
      key,
      certificate: (await certs(admin.initialIdentity.certificate, 'admin.initialIdentity.certificate'))[0]!,
      chain: (await Promise.all(admin.initialIdentity.chain.map((f) => certs(f, 'admin.initialIdentity.chain')))).flat(),
    },
  }
}

/**
 * The configuration with the identity the certificate manager installed (C's `overrides`):
 * the log SIG key in the security module, the operational WAN TLS identity, the CRLs in force.
 * A part the configuration cannot take (no `wan`, a SIG key label without a security module)
 * stays as it was.
 */
export function applyCertificateOverrides(config: GatewayConfig, o: ConfigOverrides): GatewayConfig {
  const next = JSON.parse(JSON.stringify(config)) as Record<string, unknown> & GatewayConfig
  const wan = next.wan === undefined ? undefined : { ...next.wan }
  if (o.logs !== undefined && config.meterKeys !== undefined) (next as { logs: unknown }).logs = { sigKeyLabel: o.logs.sigKeyLabel, sigCertificate: o.logs.sigCertificate }
  if (wan !== undefined && o.wanTls !== undefined) {
    const key = 'key' in o.wanTls ? { key: o.wanTls.key } : { keyLabel: o.wanTls.keyLabel }
    ;(wan as { tls: unknown }).tls = { ...key, certificate: o.wanTls.certificate, chain: [...o.wanTls.chain] }
  }
  if (wan !== undefined && o.crls !== undefined) (wan as { trust: unknown }).trust = { ...wan.trust, crls: [...o.crls] }
  if (wan !== undefined) (next as { wan: unknown }).wan = wan
  return parseGatewayConfig(next)
}

/**
 * A signer verifier that follows the CRLs in force (`update-crls`): prepared anew only when the
 * CRL set changes, since a prepared CMS verifier caches decoded certificates.
 */
export function verifierFollowingCrls(
  o: { readonly expectedSubject: DistinguishedName; readonly trust: AdminFiles['trust']; readonly notOwnRole: 'SIGNER_NOT_GWA' | 'SIGNER_NOT_MANUFACTURER' },
  crls: () => readonly Uint8Array[],
): SignerVerifier {
  let prepared: { crls: readonly Uint8Array[]; verifier: SignerVerifier } | undefined
  const current = (): SignerVerifier => {
    const now = crls()
    if (prepared === undefined || prepared.crls.length !== now.length || prepared.crls.some((c, i) => c !== now[i])) {
      prepared = {
        crls: now,
        verifier: createSignerVerifier({
          expectedSubject: o.expectedSubject, roots: o.trust.roots, intermediates: o.trust.intermediates, crls: now, requireCrl: o.trust.requireCrl, notOwnRole: o.notOwnRole,
        }),
      }
    }
    return prepared.verifier
  }
  return { open: (der, at) => current().open(der, at) }
}

export interface AdminServiceDeps {
  readonly gatewayId: string
  readonly files: AdminFiles
  /** Admin state (wake-up counter, last sequence) and the system log for `read-log`. */
  readonly store: Store
  /** Appends to the system log (resolves after commit). */
  readonly system: (entry: SystemLogEntry) => Promise<unknown>
  /** Legal time. */
  readonly now: () => Date
  readonly setTimer: (ms: number, fn: () => void) => () => void
  readonly versions: ConfigVersions
  /** The running configuration and its replacement (Gateway.config / Gateway.reconfigure). */
  config(): GatewayConfig
  reconfigure(next: GatewayConfig): Promise<void>
  /** The legal clock's state for the report and `set-time-source`. */
  timeStatus(): { readonly state: string; readonly offsetMs?: number; readonly lastSync?: Date }
  /** The TAF service of the running configuration (for `taf-request`). */
  taf(): TafService | undefined
  readonly certificates?: CertificateManager
  readonly firmware?: FirmwareManager
  /** The version running when there is no firmware manager. */
  readonly factoryFirmware: string
  /** The meter key module (config `meterKeys`) `meter-keys` imports into; without one the command is KEY_MODULE_FAILED. */
  readonly meterKeyModule?: SecretKeyModule
  /** After `meter-keys`: the wireless meters naming these key IDs read with the new keys (Gateway.meterKeysInstalled). */
  readonly meterKeysInstalled?: (keyIds: readonly string[]) => Promise<void>
  /** The consumers' requests (report `requests`, `answer-request`), when the gateway has a HAN service. */
  readonly consumerRequests?: ConsumerRequests
  /** The CLS channel (`cls-open`), when the gateway has one. */
  readonly clsOpen?: (c: Extract<AdminCommand, { type: 'cls-open' }>) => Promise<Record<string, unknown>>
  readonly logger?: Logger
}

export interface AdminService {
  /** Binds the wake-up port, opens a session if `contactAtStart`, starts the schedule. */
  start(): Promise<void>
  /** Stops the schedule and the listener, waits for a running session. Idempotent. */
  close(): Promise<void>
  /** Runs a session now unless one runs (then undefined: absorbed). */
  runSession(reason: SessionReason): Promise<AdminSessionOutcome | undefined>
  /** Resolves when no session runs. */
  idle(): Promise<void>
  /** The bound wake-up port while running. */
  wakeUpPort(): number | undefined
}

export function createAdminService(config: AdminConfig, deps: AdminServiceDeps): AdminService {
  const log = deps.logger?.child({ component: 'admin' })
  const { files, store } = deps
  let state: 'idle' | 'running' | 'closed' = 'idle'
  let running: Promise<AdminSessionOutcome> | undefined
  let cancelSchedule: (() => void) | undefined
  let listener: WakeUpListener | undefined
  let activeVersion = 0

  const system = (entry: SystemLogEntry): void => {
    deps.system(entry).catch((err: unknown) => { log?.error({ err: messageOf(err), type: entry.type }, 'admin log entry not written') })
  }
  const counter = (key: string): number => Number(store.getAdminState(key) ?? '0')
  // The certificate manager starts from the configured CRLs and `update-crls` replaces them.
  const crls = (): readonly Uint8Array[] => deps.certificates?.crls() ?? files.trust.crls
  /** The wake-up listener holds one verifier; this one follows update-crls. */
  const verifier = verifierFollowingCrls({ expectedSubject: files.gwaSubject, trust: files.trust, notOwnRole: 'SIGNER_NOT_GWA' }, crls)
  const tls = (): TlsContext => createTlsContext({
    profile: 'wan',
    identity: deps.certificates?.tlsIdentity() ?? { key: files.initialIdentity.key, cert: files.initialIdentity.certificate, chain: files.initialIdentity.chain },
    trust: { roots: files.trust.roots, intermediates: files.trust.intermediates, crls: crls(), requireCrl: files.trust.requireCrl },
  }, { now: deps.now })

  /** After a certificate change: the running configuration takes the new identity (SIG key, WAN TLS, CRLs). */
  const takeOverIdentity = async (): Promise<void> => {
    if (deps.certificates === undefined) return
    const current = deps.config()
    const next = applyCertificateOverrides(current, deps.certificates.overrides())
    if (JSON.stringify(next) !== JSON.stringify(current)) await deps.reconfigure(next)
  }

  /**
   * Destroys the replaced module keys that are due (certificates.ts destroyRetiredKeys) — only
   * after the running configuration took over the new identity, and never a key it still names
   * (`logs.sigKeyLabel`, `wan.tls.keyLabel`). A failure is logged; the keys are tried again after
   * the next session.
   */
  const destroyRetiredKeys = async (): Promise<void> => {
    if (deps.certificates === undefined) return
    const { logs, wan } = deps.config()
    const inUse = new Set([...('sigKeyLabel' in logs ? [logs.sigKeyLabel] : []), ...(wan !== undefined && 'keyLabel' in wan.tls ? [wan.tls.keyLabel] : [])])
    try {
      await deps.certificates.destroyRetiredKeys(inUse)
    } catch (err) {
      log?.warn({ err: err instanceof Error ? err.message : String(err) }, 'retired keys not destroyed: tried again after the next session')
    }
  }

  const handlers: CommandHandlers = {
    profile: async (c) => {
      const r = await deps.versions.applyProfile(c)
      activeVersion = r.version
      return r
    },
    'rollback-profile': async (c) => {
      const r = await deps.versions.rollback(c.version)
      activeVersion = r.version
      return { version: r.version }
    },
    'set-time-source': async (c) => {
      await deps.versions.setTimeSource(c.time)
      const t = deps.timeStatus()
      return { state: t.state, ...(t.offsetMs === undefined ? {} : { offsetMs: t.offsetMs }) }
    },
    'read-log': (c) => {
      // The access table refused every other log before this runs; asked again here so no other path can export one.
      assertAuthorized('gwa', c.log === 'system' ? 'log.system.read' : c.log === 'calibration' ? 'log.calibration.read' : 'log.consumer.read.own')
      if (c.log !== 'system') throw new GatewayError('FORBIDDEN', `the GWA reads the system log only, not the ${c.log} log`)
      // sinceSeq: what the GWA has not read yet, as whole legal days anchored on a signed head (log/export.ts chainSince).
      const text = c.sinceSeq === undefined ? exportLog(store, 'system', '') : exportLogSince(store, 'system', '', c.sinceSeq)
      return Promise.resolve({ export: Buffer.from(text).toString('base64') })
    },
    'taf-request': async (c) => {
      const taf = deps.taf()
      const tariffs = deps.config().tariffs
      if (taf === undefined || tariffs === undefined) throw new GatewayError('TAF_INPUT_INVALID', 'no tariff profiles are configured')
      const profile = parseTariffProfiles(await readFile(tariffs.profiles, 'utf8')).find((p) => p.id === c.profileId)
      if (profile === undefined) throw new GatewayError('TAF_INPUT_INVALID', `no tariff profile ${c.profileId}`)
      if (profile.useCase !== `taf${String(c.useCase)}`) throw new GatewayError('TAF_INPUT_INVALID', `profile ${c.profileId} is ${profile.useCase}, not taf${String(c.useCase)}`)
      let messages = 0
      for (const r of profile.recipients) {
        await taf.request(profile.id, r.id)
        messages++
      }
      return { messages }
    },
    ...(deps.certificates === undefined ? {} : {
      'generate-csr': (c) => deps.certificates!.generateCsr({ kinds: c.kinds }),
      'install-certificates': async (c) => {
        const r = await deps.certificates!.install({ certificates: c.certificates, chain: c.chain ?? [] })
        await takeOverIdentity()
        await destroyRetiredKeys()
        return r
      },
      'update-crls': async (c) => {
        const r = await deps.certificates!.updateCrls({ crls: c.crls })
        await takeOverIdentity()
        return r
      },
    }),
    ...(deps.firmware === undefined ? {} : { firmware: (c) => deps.firmware!.install({ package: c.package }) as unknown as Promise<Record<string, unknown>> }),
    ...(deps.clsOpen === undefined ? {} : { 'cls-open': deps.clsOpen }),
    ...(deps.consumerRequests === undefined ? {} : { 'answer-request': (c) => deps.consumerRequests!.answer(c) }),
    // Always handled: without a key module or an ENC certificate the GWA learns why (KEY_MODULE_FAILED, KEYS_UNREADABLE), not UNSUPPORTED.
    'meter-keys': (c) => installMeterKeys(c, {
      gatewayId: deps.gatewayId, module: deps.meterKeyModule, log: deps.system,
      encIdentity: () => deps.certificates?.encIdentity() ?? Promise.resolve(undefined),
      retiredEncIdentities: () => deps.certificates?.retiredEncIdentities() ?? Promise.resolve([]),
      keysInstalled: deps.meterKeysInstalled ?? (() => Promise.resolve()),
      ...(deps.logger === undefined ? {} : { logger: deps.logger }),
    }),
  }

  const certificateSummary = (): CertificateSummaryItem[] => deps.certificates?.summary() ?? (() => {
    const c = decodeCertificate(files.initialIdentity.certificate)
    return [{ kind: 'gs' as const, serial: c.serialHex, notAfter: c.notAfter.toISOString(), source: 'initial' as const }]
  })()

  const session = (reason: SessionReason): Promise<AdminSessionOutcome> => runAdminSession(reason, {
    endpoint: config.endpoint, gwaSubject: files.gwaSubject, requestTimeoutMs: config.requestTimeoutMs, commandMaxAgeS: config.commandMaxAgeS, freshnessS: config.wakeUp.freshnessS,
  }, {
    gatewayId: deps.gatewayId,
    tls,
    verifier,
    report: () => {
      const t = deps.timeStatus()
      return {
        firmware: { version: deps.firmware?.version() ?? deps.factoryFirmware },
        profileVersion: activeVersion,
        certificates: certificateSummary(),
        time: { state: t.state, ...(t.offsetMs === undefined ? {} : { offsetMs: t.offsetMs }), ...(t.lastSync === undefined ? {} : { lastSync: t.lastSync.toISOString() }) },
        ...(deps.consumerRequests === undefined ? {} : { requests: deps.consumerRequests.reported() }),
      }
    },
    // The GWA has the report: its requests are with the administrator now (received → pending).
    ...(deps.consumerRequests === undefined ? {} : { reportAccepted: (r) => deps.consumerRequests!.forwarded(r.requests ?? []) }),
    lastSequence: () => counter(COMMAND_SEQUENCE),
    acceptSequence: (n) => { store.setAdminState(COMMAND_SEQUENCE, String(n)) },
    handlers,
    log: system,
    now: deps.now,
    setTimer: deps.setTimer,
    ...(deps.logger === undefined ? {} : { logger: deps.logger }),
  })

  const runSession = (reason: SessionReason): Promise<AdminSessionOutcome | undefined> => {
    if (state !== 'running') return Promise.resolve(undefined)
    if (running !== undefined) {
      log?.info({ reason }, 'admin session already running: absorbed')
      return Promise.resolve(undefined)
    }
    // After each session: a retired ENC key whose grace ran out goes (certificates.ts RETIRED_ENC_KEY_MS).
    // The session counts as over first, so a wake-up in the meantime is not absorbed; the
    // certificate manager runs the destruction and a new session's changes one after the other.
    const run = session(reason).finally(() => { running = undefined }).finally(destroyRetiredKeys)
    running = run
    return run
  }

  const schedule = (): void => {
    if (config.pollIntervalS === 0 || state !== 'running') return
    cancelSchedule = deps.setTimer(config.pollIntervalS * 1000, () => {
      cancelSchedule = undefined
      void runSession('schedule').finally(schedule)
    })
  }

  return {
    async start() {
      if (state !== 'idle') return
      activeVersion = await deps.versions.activeAtStart()
      listener = createWakeUpListener(config.wakeUp, {
        gatewayId: deps.gatewayId, verifier, now: deps.now,
        lastCounter: () => counter(WAKE_UP_COUNTER),
        acceptCounter: (n) => { store.setAdminState(WAKE_UP_COUNTER, String(n)) },
        log: (e) => { system({ type: 'wake-up', fields: { result: e.result, ...(e.source === undefined ? {} : { source: e.source.slice(0, 64) }), ...(e.count === undefined ? {} : { count: e.count }) } }) },
        onWakeUp: () => { void runSession('wake-up') },
        setTimer: deps.setTimer,
        ...(deps.logger === undefined ? {} : { logger: deps.logger }),
      })
      await listener.start()
      state = 'running'
      log?.info({ wakeUpPort: listener.port(), endpoint: config.endpoint }, 'administration running')
      if (config.contactAtStart) void runSession('start')
      schedule()
    },
    async close() {
      if (state === 'closed') return
      state = 'closed'
      cancelSchedule?.()
      cancelSchedule = undefined
      await listener?.close()
      await running?.catch(() => undefined)
    },
    runSession,
    async idle() {
      while (running !== undefined) await running.catch(() => undefined)
    },
    wakeUpPort: () => (state === 'running' ? listener?.port() : undefined),
  }
}
