import { readFile } from 'node:fs/promises'
import { createKeyObjectSigner, decodeCertificates, decodePrivateKey, signerFromModule, type SecretKeyModule, type SecurityModule, type Signer } from '@smgw/crypto'
import type { MeterKey } from '@smgw/mbus'
import type { Logger } from 'pino'
import { createCertificateManager, type CertificateManager } from './admin/certificates.js'
import { createFirmwareManager, type FirmwareManager } from './admin/firmware.js'
import { createConfigVersions } from './admin/profiles.js'
import { createConsumerRequests } from './admin/requests.js'
import { applyCertificateOverrides, createAdminService, readAdminFiles, verifierFollowingCrls, type AdminService } from './admin/service.js'
import { formatCanonicalJson } from './canonical-json.js'
import type { GatewayConfig, MeterConfig, MeterKeys } from './config.js'
import { GatewayError } from './errors.js'
import { createHanService, type HanService, type HanUiFile } from './han/service.js'
import { readWanTlsMaterial } from './wan/material.js'
import { createClsService, type ClsService } from './cls/service.js'
import type { SystemLogEntry } from './log/entries.js'
import { createGatewayLogs, type GatewayLogs } from './log/writer.js'
import { createLmnAdapterSet } from './lmn/adapters.js'
import { resolveModuleMeterKeys } from './lmn/wmbus/keys.js'
import { DEFAULT_RETENTION } from './retention/policy.js'
import { createRetentionService, type RetentionService } from './retention/service.js'
import type { LegalClock, LegalClockState } from './time/legal-clock.js'
import { createTimeService, type TimeService } from './time/ntp-client.js'
import { createOutbound, type Outbound } from './outbound.js'
import { consumersByMeter, PSEUDONYM_KEY_ID } from './config.js'
import type { LmnEvent, LmnSink } from './lmn/types.js'
import { messageOf, openStore } from './store/store.js'
import { parseTariffProfiles, type TariffProfile } from './taf/profile.js'
import type { ReadingInput, Store } from './store/types.js'

export interface GatewayDeps {
  readonly now?: () => Date
  /** Schedules `fn` after `ms`, returns a cancel function (default setTimeout); tests drive time with it. */
  readonly setTimer?: (ms: number, fn: () => void) => () => void
  readonly logger?: Logger
  /** Meter keys by key ID (from `readMeterKeys`, the --keys file). */
  readonly keys?: MeterKeys
  /** The security module holding meter keys by key ID (config `meterKeys`; opened and closed by the caller). */
  readonly keyModule?: SecretKeyModule
  /** The security module that holds the SIG key when the configuration names `logs.sigKeyLabel` (opened and closed by the caller). */
  readonly sigModule?: SecurityModule
  /** The SIG key and certificate; default: from `config.logs` at start. */
  readonly sig?: { readonly signer: Signer; readonly certificate: Uint8Array }
  /** Firmware version for the `gateway-started` entry (with `admin.firmware`: the factory version, before any update). */
  readonly firmware?: string
  /** The HAN page (default: the @smgw/han-ui build); `false`: none (tests). */
  readonly hanUi?: ReadonlyMap<string, HanUiFile> | false
}

export interface MeterStatus {
  readonly id: string
  readonly kind: 'sml' | 'wmbus'
  /** 'waiting': nothing received yet and not yet overdue; 'silent': `silentAfterMissed` intervals missed. */
  readonly state: 'waiting' | 'ok' | 'silent'
  /** Readings committed to the store since start. */
  readonly stored: number
  readonly lastReadingAt?: Date
  /** Telegrams whose key was rejected since start. */
  readonly keyRejected: number
  /** Bytes on this meter's line that were not part of a valid file. */
  readonly garbageBytes: number
}

export interface GatewayStatus {
  readonly state: 'idle' | 'starting' | 'running' | 'closing' | 'closed'
  readonly meters: readonly MeterStatus[]
  /** Readings committed since start. */
  readonly stored: number
  /** Readings received but not yet committed. */
  readonly pending: number
  /** wM-Bus IDs heard that are not configured. */
  readonly unknownMeters: readonly string[]
  /** Bytes that belonged to no valid frame, all transports. */
  readonly garbageBytes: number
  /** Local ports of listening transports (UDP), in configuration order of the transports. */
  readonly ports: readonly number[]
  /** Legal time (with a `time` section): the clock's state, the offset applied to the system clock, the last sync (legal time). */
  readonly time?: { readonly state: LegalClockState; readonly offsetMs: number; readonly lastSync?: Date }
}

export interface Gateway {
  /** Opens the store and logs, writes the start entries, starts every LMN adapter. */
  start(): Promise<void>
  /** Stops the adapters, commits the pending batch, writes `gateway-stopped`, closes the store. Idempotent. */
  close(reason?: 'sigterm' | 'admin' | 'update' | 'error'): Promise<void>
  status(): GatewayStatus
  /** Commits the pending readings now (also done by size and by the batch timer). */
  flush(): Promise<void>
  /** Checks every meter for silence against the clock (also run on the timer). */
  checkSilence(): Promise<void>
  /** The legal clock while running with a `time` section (TAF: `timeValidAt`; admin: `setTime`). */
  legalClock(): LegalClock | undefined
  /**
   * Calls `listener` with every batch of readings right after it is committed (the HAN's live
   * view); returns the unsubscribe. A listener that throws is logged and kept.
   */
  onReadings(listener: (batch: readonly ReadingInput[]) => void): () => void
  /** The HAN service's port while running with a `han` section. */
  hanPort(): number | undefined
  /**
   * Applies a new configuration without a restart (README "Reconfiguration"): meters, tariff
   * profiles, WAN recipients and TLS identity, retention, time source, SIG key, CLS devices and
   * pairings. The store, the logs and the HAN service keep running; readings of meters that stay
   * keep flowing; CLS channels whose device and pairing stay keep relaying. A change of
   * gatewayId, store, han, meterKeys or admin needs a restart. Calls run one after another.
   * Throws ADMIN_APPLY_FAILED, with the previous configuration running, when the new one cannot
   * be prepared or started.
   */
  reconfigure(next: GatewayConfig): Promise<void>
  /** The configuration running now. */
  config(): GatewayConfig
  /**
   * Meter keys were installed in the key module (`meter-keys`, `smgw gateway keys import`): the
   * wireless transports whose meters name one of `keyIds` read with them from now on, without a
   * restart; other adapters are not touched. Runs in line with `reconfigure`; never rejects.
   */
  meterKeysInstalled(keyIds: readonly string[]): Promise<void>
  /** The administration service while running with an `admin` section (wake-up port, sessions). */
  admin(): AdminService | undefined
  /** The CLS channel service while running with a `cls` section (README "CLS channel"). */
  cls(): ClsService | undefined
}

interface MeterState {
  readonly id: string
  readonly kind: 'sml' | 'wmbus'
  readonly intervalMs: number
  readonly silentAfterMissed: number
  readonly consumer: string | undefined
  state: 'waiting' | 'ok' | 'silent'
  since: number
  stored: number
  lastReadingAt: Date | undefined
  keyRejected: number
  keyRejectedLogged: boolean
  garbageBytes: number
}

const MAX_UNKNOWN = 1024
const GARBAGE_LOG_EVERY_MS = 60_000

/**
 * The gateway process (first slice): LMN adapters → batched, committed readings in the
 * store; unknown meters, rejected keys and silent meters in the logs (BSI-CC-PP-0073);
 * a consumer-log entry per committed batch of a meter that has a consumer.
 */
export function createGateway(initialConfig: GatewayConfig, deps: GatewayDeps = {}): Gateway {
  /** The configuration running now; `reconfigure` replaces it. */
  let config = initialConfig
  const systemNow = deps.now ?? (() => new Date())
  /** Legal time once a time source is configured (README "Legal time"); everything is stamped with it. */
  const now = (): Date => time?.clock.now() ?? systemNow()
  const setTimer = deps.setTimer ?? ((ms, fn) => {
    const t = setTimeout(fn, ms)
    return () => { clearTimeout(t) }
  })
  const log = deps.logger?.child({ component: 'gateway' })
  const meters = new Map<string, MeterState>(config.meters.map((m) => [m.id, newMeterState(m)]))
  const unknown = new Set<string>()
  let state: GatewayStatus['state'] = 'idle'
  let store: Store | undefined
  let logs: GatewayLogs | undefined
  let pending: ReadingInput[] = []
  let cancelFlush: (() => void) | undefined
  let flushQueued = false
  let cancelSilence: (() => void) | undefined
  let stored = 0
  let garbageBytes = 0
  let lastGarbageLog = Number.NEGATIVE_INFINITY
  let logQueue: Promise<unknown> = Promise.resolve()
  let closing: Promise<void> | undefined
  let retention: RetentionService | undefined
  let time: TimeService | undefined
  let outbound: Outbound | undefined
  let han: HanService | undefined
  /** The tariff profiles the HAN shows: those of the configuration in force. */
  let hanProfiles: readonly TariffProfile[] = []
  let cls: ClsService | undefined
  let sig: { readonly signer: Signer; readonly certificate: Uint8Array } | undefined
  let admin: AdminService | undefined
  let certificates: CertificateManager | undefined
  let firmware: FirmwareManager | undefined
  /** Reconfigurations run one after another. */
  let reconfiguring: Promise<unknown> = Promise.resolve()
  const readingListeners = new Set<(batch: readonly ReadingInput[]) => void>()

  /** Every part writes through this one facade, so a new SIG key (reconfigure) reaches them all. */
  const writers = createSwitchableLogs()

  /** Log entries are appended in order; a failure is reported, never thrown into an adapter. */
  const writeLog = (what: string, append: (l: GatewayLogs) => Promise<unknown>): void => {
    const l = logs
    if (l === undefined) return
    logQueue = logQueue.then(() => append(l)).catch((err: unknown) => { log?.error({ err: messageOf(err), what }, 'log entry not written') })
  }

  const commit = (): void => {
    cancelFlush?.()
    cancelFlush = undefined
    flushQueued = false
    if (pending.length === 0 || store === undefined) return
    const batch = pending
    pending = []
    let ack: { firstId: number; lastId: number }
    try {
      ack = store.appendReadings(batch)
    } catch (err) {
      // Not acknowledged: the readings are lost to this gateway (the meter's registers are cumulative).
      log?.error({ err: messageOf(err), count: batch.length }, 'batch not stored')
      return
    }
    // The acknowledgement (README "Acknowledgement"): written only after the COMMIT returned,
    // so every id in firstId…lastId is durable; the crash test (test/e2e) holds the process to it.
    log?.debug({ count: batch.length, firstId: ack.firstId, lastId: ack.lastId }, 'readings stored')
    stored += batch.length
    for (const listener of readingListeners) {
      try {
        listener(batch)
      } catch (err) {
        log?.error({ err: messageOf(err) }, 'readings listener failed')
      }
    }
    const perMeter = new Map<string, number>()
    for (const r of batch) perMeter.set(r.meterId, (perMeter.get(r.meterId) ?? 0) + 1)
    for (const [id, count] of perMeter) {
      const m = meters.get(id)
      if (m === undefined) continue
      m.stored += count
      if (m.consumer !== undefined) {
        const consumer = m.consumer
        writeLog('data-processed', (l) => l.consumer(consumer, {
          type: 'data-processed',
          fields: { purpose: 'lmn-ingest', dataClass: 'meter-readings', text: `${count} reading${count === 1 ? '' : 's'} of meter ${id} received and stored` },
        }))
      }
    }
  }

  const scheduleCommit = (): void => {
    if (pending.length >= config.batch.maxReadings) {
      commit()
      return
    }
    if (config.batch.maxDelayMs === 0) {
      if (!flushQueued) {
        flushQueued = true
        queueMicrotask(() => { if (flushQueued) commit() })
      }
      return
    }
    cancelFlush ??= setTimer(config.batch.maxDelayMs, () => {
      cancelFlush = undefined
      commit()
    })
  }

  const sink: LmnSink = {
    readings(meterId, batch) {
      if (state !== 'running' && state !== 'closing') return
      const m = meters.get(meterId)
      if (m !== undefined) {
        if (m.state === 'silent') log?.info({ meter: meterId }, 'meter sends again')
        m.state = 'ok'
        m.since = now().getTime()
        m.lastReadingAt = now()
        m.keyRejectedLogged = false
      }
      pending.push(...batch)
      scheduleCommit()
    },
    event(e: LmnEvent) {
      switch (e.kind) {
        case 'unknown-meter': {
          const key = `${e.transport}/${e.meterId}`
          if (unknown.has(key) || unknown.size >= MAX_UNKNOWN) return
          unknown.add(key)
          log?.warn({ transport: e.transport, meter: e.meterId }, 'unknown LMN device ignored')
          writeLog('lmn-device-unknown', (l) => l.system({ type: 'lmn-device-unknown', fields: { transport: e.transport, meterId: e.meterId } }))
          return
        }
        case 'key-rejected': {
          const m = meters.get(e.meterId)
          if (m === undefined) return
          m.keyRejected++
          if (m.keyRejectedLogged) return
          m.keyRejectedLogged = true
          log?.warn({ transport: e.transport, meter: e.meterId, code: e.code }, 'meter key rejected')
          writeLog('meter-key-rejected', (l) => l.system({ type: 'meter-key-rejected', fields: { transport: e.transport, meterId: e.meterId } }))
          writeLog('meter-key-invalid', (l) => l.calibration({ type: 'meter-key-invalid', fields: { meterId: e.meterId } }))
          return
        }
        case 'garbage': {
          garbageBytes += e.bytes
          const m = e.meterId === undefined ? undefined : meters.get(e.meterId)
          if (m !== undefined) m.garbageBytes += e.bytes
          const t = now().getTime()
          if (t - lastGarbageLog >= GARBAGE_LOG_EVERY_MS) {
            lastGarbageLog = t
            log?.warn({ transport: e.transport, meter: e.meterId, code: e.code, bytes: e.bytes, total: garbageBytes }, 'bytes dropped on the LMN (logged at most once a minute)')
          }
          return
        }
        case 'link':
          log?.info({ transport: e.transport, meter: e.meterId, state: e.state, detail: e.detail }, 'LMN link')
      }
    },
  }

  const checkSilence = (): Promise<void> => {
    const t = now().getTime()
    for (const m of meters.values()) {
      if (m.state === 'silent') continue
      const missed = Math.floor((t - m.since) / m.intervalMs)
      if (missed < m.silentAfterMissed) continue
      m.state = 'silent'
      log?.warn({ meter: m.id, missedIntervals: missed }, 'meter silent')
      writeLog('meter-silent', (l) => l.calibration({ type: 'meter-silent', fields: { meterId: m.id, missedIntervals: missed } }))
    }
    return logQueue.then(() => undefined)
  }

  const scheduleSilence = (): void => {
    const every = Math.min(...[...meters.values()].map((m) => m.intervalMs))
    if (!Number.isFinite(every)) return
    cancelSilence = setTimer(every, () => {
      if (state !== 'running') return
      void checkSilence()
      scheduleSilence()
    })
  }

  const loadSig = async (c: GatewayConfig): Promise<{ signer: Signer; certificate: Uint8Array }> => {
    if (deps.sig !== undefined) return deps.sig
    const logs = c.logs
    if ('sigKeyLabel' in logs && deps.sigModule === undefined) {
      throw new GatewayError('CONFIG_INVALID', `logs.sigKeyLabel ${logs.sigKeyLabel}: the gateway was started without its security module`)
    }
    try {
      const signer = 'sigKeyLabel' in logs
        ? await signerFromModule(deps.sigModule!, logs.sigKeyLabel)
        : createKeyObjectSigner(decodePrivateKey(new Uint8Array(await readFile(logs.sigKey))))
      const [cert] = decodeCertificates(new Uint8Array(await readFile(logs.sigCertificate)))
      if (cert === undefined) throw new Error(`no certificate in ${logs.sigCertificate}`)
      return { signer, certificate: cert.der }
    } catch (err) {
      throw new GatewayError('CONFIG_INVALID', `logs: cannot load the SIG key or certificate: ${messageOf(err)}`, { cause: err })
    }
  }

  const loggerDep = deps.logger === undefined ? {} : { logger: deps.logger }

  /** The time service of a `time` section (not started); undefined without one. */
  const createTime = (c: GatewayConfig): TimeService | undefined => c.time === undefined ? undefined : createTimeService(c.time, {
    systemNow, setTimer, ...loggerDep,
    calibration: (entry) => {
      writeLog(entry.type, (l) => l.calibration(entry))
      return logQueue
    },
  })

  /** Reads every file `tariffs` and `wan` name and prepares the stages (not started): what can fail, fails here. */
  const prepareOutbound = (c: GatewayConfig, s: Store, l: GatewayLogs, signing: { readonly signer: Signer; readonly certificate: Uint8Array }): Promise<Outbound | undefined> => createOutbound(c, {
    store: s, logs: l, now, setTimer, sig: signing, ...loggerDep,
    ...(deps.sigModule === undefined ? {} : { module: deps.sigModule }),
    ...(deps.keys?.get(PSEUDONYM_KEY_ID) === undefined ? {} : { pseudonymSecret: deps.keys.get(PSEUDONYM_KEY_ID) }),
    ...(c.time === undefined ? {} : { invalidTime: () => time?.clock.invalidPeriods() ?? [] }),
  })

  // Retention always runs (defaults without a `retention` section): deleting is a legal duty, not an option.
  // What a tariff profile has not processed yet is kept (retention never deletes undelivered data).
  const createRetention = (c: GatewayConfig, s: Store, l: GatewayLogs, o: Outbound | undefined): RetentionService => createRetentionService({
    policy: c.retention ?? DEFAULT_RETENTION,
    consumers: consumersByMeter(c),
    profiles: o?.profiles ?? [],
  }, { store: s, logs: l, now, setTimer, ...loggerDep })

  /** The LMN adapters; a reconfiguration or a key installation changes only the transports concerned. */
  const lmn = createLmnAdapterSet(sink, { now, setTimer, ...loggerDep })

  /** Meter keys by key ID: the --keys file's, and those the security module holds for the wireless meters of `c`. */
  const meterKeysFor = async (c: GatewayConfig): Promise<Map<string, MeterKey>> => {
    const moduleKeys = deps.keyModule === undefined ? undefined : await resolveModuleMeterKeys(deps.keyModule, c)
    if (moduleKeys !== undefined && moduleKeys.missing.length > 0) log?.warn({ keyIds: moduleKeys.missing }, 'meter keys not in the security module')
    return new Map<string, MeterKey>([...(deps.keys ?? []), ...(moduleKeys?.keys ?? [])])
  }

  /** Brings the adapters to `c`: only transports whose meters, keys or line changed are touched; `renew`: key IDs just installed. */
  const applyAdapters = async (c: GatewayConfig, renew?: ReadonlySet<string>): Promise<void> => {
    const report = await lmn.apply(c, await meterKeysFor(c), renew)
    log?.info({ ...report }, 'LMN adapters applied')
  }

  const closeAdapters = (): Promise<void> => lmn.close((a, err) => { log?.error({ transport: a.transport, err: messageOf(err) }, 'adapter did not close cleanly') })

  /**
   * After `meter-keys` (docs/admin-protocol.md): the wireless transports whose meters name one
   * of `keyIds` take the keys now in the module, without a restart; in line with reconfigurations.
   * A failure is logged, not thrown: the keys are installed and the next start takes them.
   */
  const meterKeysInstalled = (keyIds: readonly string[]): Promise<void> => {
    const run = reconfiguring.then(async () => {
      if (state !== 'running') return
      try {
        await applyAdapters(config, new Set(keyIds))
      } catch (err) {
        log?.error({ keyIds, err: messageOf(err) }, 'LMN adapters did not take the installed meter keys')
      }
    })
    reconfiguring = run.catch(() => undefined)
    return run
  }

  /** Meters that stay keep their state and counters; new ones start waiting; removed ones are forgotten. */
  const updateMeters = (c: GatewayConfig): void => {
    const since = now().getTime()
    const next = new Map(c.meters.map((m) => {
      const old = meters.get(m.id)
      const state = newMeterState(m)
      return [m.id, old === undefined ? { ...state, since } : { ...old, intervalMs: state.intervalMs, silentAfterMissed: state.silentAfterMissed, consumer: state.consumer, kind: state.kind }] as const
    }))
    meters.clear()
    for (const [id, m] of next) meters.set(id, m)
  }

  /**
   * The parts a reconfiguration replaces, stopped in reverse order of the data flow; what `keep`
   * names stays. The LMN adapters keep running (startParts changes only the transports that
   * changed): their readings go to the pending batch, which the store takes in either case.
   */
  const stopParts = async (keep: { time: boolean }): Promise<void> => {
    cancelSilence?.()
    cancelSilence = undefined
    commit()
    await outbound?.close()
    outbound = undefined
    await retention?.close()
    retention = undefined
    if (!keep.time) {
      await time?.close()
      time = undefined
    }
  }

  /** Starts the parts of `c` that are not running (the counterpart of stopParts). */
  const startParts = async (c: GatewayConfig, s: Store, l: GatewayLogs, prepared: Outbound | undefined, fresh: { time: boolean }): Promise<void> => {
    if (fresh.time) {
      time = createTime(c)
      await time?.start()
    }
    outbound = prepared
    retention = createRetention(c, s, l, outbound)
    await retention.start()
    await outbound?.start()
    updateMeters(c)
    await applyAdapters(c)
    scheduleSilence()
  }

  /**
   * Applies `next` to the running gateway (README "Reconfiguration"). Everything that reads
   * files is prepared first, while the old parts run: a certificate or key that does not load
   * changes nothing. Then the old parts stop and the new ones start; if one fails to start,
   * the previous configuration is started again and ADMIN_APPLY_FAILED is thrown.
   */
  const applyConfig = async (next: GatewayConfig): Promise<void> => {
    const s = store
    const l = logs
    if (state !== 'running' || s === undefined || l === undefined || sig === undefined) throw new GatewayError('ADMIN_APPLY_FAILED', `the gateway is ${state}, not running: nothing to reconfigure`)
    const previous = config
    const same = (k: keyof GatewayConfig): boolean => formatCanonicalJson(previous[k] ?? null) === formatCanonicalJson(next[k] ?? null)
    const restartOnly = RESTART_ONLY_SECTIONS.filter((k) => !same(k))
    if (restartOnly.length > 0) throw new GatewayError('ADMIN_APPLY_FAILED', `${restartOnly.join(', ')} change only with a restart of the gateway`)
    const keep = { time: same('time') }
    const previousSig = sig
    let nextSig = sig
    let nextOutbound: Outbound | undefined
    let nextHanProfiles = hanProfiles
    try {
      if (!same('logs')) {
        nextSig = await loadSig(next)
        // The new certificate must carry the new key: createGatewayLogs checks it, and throws before anything changed.
        createGatewayLogs({ store: s, signer: nextSig.signer, certificate: nextSig.certificate, now })
      }
      nextOutbound = await prepareOutbound(next, s, l, nextSig)
      if (han !== undefined) nextHanProfiles = await readTariffProfiles(next)
    } catch (err) {
      throw new GatewayError('ADMIN_APPLY_FAILED', `the new configuration cannot be prepared; the running one stays: ${messageOf(err)}`, { cause: err })
    }
    await stopParts(keep)
    try {
      config = next
      if (nextSig !== previousSig) await switchSig(s, nextSig)
      await startParts(next, s, l, nextOutbound, { time: !keep.time })
    } catch (err) {
      log?.error({ err: messageOf(err) }, 'the new configuration did not start; putting the previous one back')
      await stopParts(keep)
      config = previous
      try {
        if (sig !== previousSig) await switchSig(s, previousSig)
        await startParts(previous, s, l, await prepareOutbound(previous, s, l, previousSig), { time: !keep.time })
      } catch (restoreErr) {
        log?.error({ err: messageOf(restoreErr) }, 'the previous configuration did not start again')
        throw new GatewayError('ADMIN_APPLY_FAILED', `the new configuration did not start (${messageOf(err)}), and the previous one did not start again: ${messageOf(restoreErr)}`, { cause: err })
      }
      throw new GatewayError('ADMIN_APPLY_FAILED', `the new configuration did not start; the previous one runs again: ${messageOf(err)}`, { cause: err })
    }
    hanProfiles = nextHanProfiles
    // Last, after everything else started: closing a channel cannot be undone by a rollback.
    if (!same('cls')) await applyCls(next.cls, l)
    s.saveConfigVersion(next)
    log?.info({ meters: meters.size, adapters: lmn.adapters().length }, 'gateway reconfigured')
  }

  /**
   * The CLS service of a configuration; it asks for the WAN TLS identity and trust of the
   * configuration in force at each open (installed certificates, reconfigure).
   */
  const createCls = (section: NonNullable<GatewayConfig['cls']>, l: GatewayLogs): ClsService => createClsService(section, {
    gatewayId: config.gatewayId, logs: l, now, setTimer, ...loggerDep,
    tls: () => {
      if (config.wan === undefined) throw new GatewayError('CONFIG_INVALID', 'the CLS channel needs a wan section')
      return readWanTlsMaterial(config.wan, deps.sigModule)
    },
  })

  /**
   * A changed `cls` section (README "CLS channel"): the service takes it while running — channels
   * whose device or pairing changed close (`reconfigured`), the others keep relaying; a section
   * that appears starts the service, one that goes closes every channel.
   */
  const applyCls = async (section: GatewayConfig['cls'], l: GatewayLogs): Promise<void> => {
    if (section === undefined) {
      const running = cls
      cls = undefined
      await running?.close('reconfigured')
    } else if (cls === undefined) {
      cls = createCls(section, l)
    } else {
      await cls.reconfigure(section)
    }
  }

  /** A new SIG key signs from the next log entry on; entries already queued are written with the old one. */
  const switchSig = async (s: Store, next: { readonly signer: Signer; readonly certificate: Uint8Array }): Promise<void> => {
    await logQueue
    await writers.switchTo(createGatewayLogs({ store: s, signer: next.signer, certificate: next.certificate, now, ...loggerDep }))
    sig = next
  }

  const reconfigure = (next: GatewayConfig): Promise<void> => {
    const run = reconfiguring.then(() => applyConfig(next))
    reconfiguring = run.catch(() => undefined)
    return run
  }

  const systemEntry = (entry: SystemLogEntry): Promise<unknown> => {
    writeLog(entry.type, (l) => l.system(entry))
    return logQueue
  }

  const shutdown = async (reason: 'sigterm' | 'admin' | 'update' | 'error'): Promise<void> => {
    state = 'closing'
    // The administration first: no session may reconfigure a gateway that is closing.
    await admin?.close()
    admin = undefined
    await cls?.close()
    cls = undefined
    await han?.close()
    han = undefined
    cancelSilence?.()
    cancelSilence = undefined
    await closeAdapters()
    await outbound?.close()
    outbound = undefined
    await time?.close()
    time = undefined
    await retention?.close()
    retention = undefined
    commit()
    if (logs !== undefined && store !== undefined) writeLog('gateway-stopped', (l) => l.system({ type: 'gateway-stopped', fields: { reason } }))
    await logQueue
    store?.close()
    state = 'closed'
    log?.info({ stored }, 'gateway stopped')
  }

  return {
    async start() {
      if (state !== 'idle') return
      state = 'starting'
      try {
        // Administered (docs/admin-protocol.md): the identity the GWA had installed replaces the configured SIG key and WAN TLS identity.
        const adminConfig = config.admin
        const adminFiles = adminConfig === undefined ? undefined : await readAdminFiles(adminConfig)
        if (adminConfig !== undefined && adminFiles !== undefined) {
          certificates = createCertificateManager({ stateDir: adminConfig.stateDir, gatewayId: config.gatewayId, trust: adminFiles.trust, initialIdentity: adminFiles.initialIdentity }, {
            ...(deps.sigModule === undefined ? {} : { module: deps.sigModule }), log: (e) => { writeLog(e.type, (l) => l.system(e)) }, now, ...loggerDep,
          })
          const manager = certificates
          await manager.load()
          config = applyCertificateOverrides(config, manager.overrides())
          if (adminConfig.firmware !== undefined && adminFiles.manufacturerSubject !== undefined) {
            firmware = createFirmwareManager({ dir: adminConfig.firmware.dir, healthTimeoutS: adminConfig.firmware.healthTimeoutS, factoryVersion: deps.firmware ?? '0.1.0' }, {
              verifier: verifierFollowingCrls({ expectedSubject: adminFiles.manufacturerSubject, trust: adminFiles.trust, notOwnRole: 'SIGNER_NOT_MANUFACTURER' }, () => manager.crls()),
              log: (e) => { writeLog(e.type, (l) => l.system(e)) },
              calibrationLog: (e) => { writeLog(e.type, (l) => l.calibration(e)) },
              now, ...loggerDep,
            })
          }
        }
        const signing = await loadSig(config)
        sig = signing
        // Legal time (README "Legal time"): synchronised at start and every pollIntervalS, events in the calibration log.
        time = createTime(config)
        store = openStore(config.store.path, { now, ...loggerDep })
        logs = writers.start(createGatewayLogs({ store, signer: signing.signer, certificate: signing.certificate, now, ...loggerDep }))
        const s = store
        const l = logs
        const before = s.latestConfigVersion()
        const version = s.saveConfigVersion(config)
        // A firmware update left half-way by a crash is rolled back before anything else runs: a trial that did not report healthy never becomes active.
        await firmware?.boot()
        writeLog('gateway-started', (l) => l.system({ type: 'gateway-started', fields: { firmware: firmware?.version() ?? deps.firmware ?? '0.1.0' } }))
        writeLog('store-opened', (l) => l.system({ type: 'store-opened', fields: { schemaVersion: s.schemaVersion } }))
        if (before?.version !== version.version) writeLog('config-changed', (l) => l.system({ type: 'config-changed', fields: { version: version.version, sha256: version.sha256, by: 'local' } }))
        writeLog('seal', (l) => l.sealFinishedDays())
        await logQueue
        await time?.start()
        outbound = await prepareOutbound(config, s, l, signing)
        retention = createRetention(config, s, l, outbound)
        await retention.start()
        await outbound?.start()
        if (config.han !== undefined) {
          hanProfiles = await readTariffProfiles(config)
          han = createHanService(config, {
            store: s, logs: l, now, inForce: () => ({ meters: config.meters, profiles: hanProfiles }),
            onReadings: (listener) => { readingListeners.add(listener); return () => { readingListeners.delete(listener) } },
            status: () => ({ state, meters: [...meters.values()].map((m) => ({ id: m.id, kind: m.kind, state: m.state, keyRejected: m.keyRejected, garbageBytes: m.garbageBytes, ...(m.lastReadingAt === undefined ? {} : { lastReadingAt: m.lastReadingAt }) })) }),
            ...(deps.hanUi === undefined ? {} : { ui: deps.hanUi }),
            ...(deps.logger === undefined ? {} : { logger: deps.logger }),
          })
          await han.start()
        }
        if (config.cls !== undefined) cls = createCls(config.cls, l)
        const since = now().getTime()
        for (const m of meters.values()) m.since = since
        state = 'running'
        await applyAdapters(config)
        scheduleSilence()
        if (adminConfig !== undefined && adminFiles !== undefined) {
          admin = createAdminService(adminConfig, {
            gatewayId: config.gatewayId, files: adminFiles, store: s, system: systemEntry, now, setTimer,
            versions: createConfigVersions({ stateDir: adminConfig.stateDir }, { current: () => config, reconfigure, log: systemEntry }),
            config: () => config, reconfigure,
            timeStatus: () => (time === undefined ? { state: 'no-time-source' } : timeStatus(time.clock)),
            taf: () => outbound?.taf,
            ...(certificates === undefined ? {} : { certificates }),
            ...(firmware === undefined ? {} : { firmware }),
            factoryFirmware: deps.firmware ?? '0.1.0',
            // `meter-keys`: imported into the meter key module, then the wireless meters naming them read with them.
            ...(deps.keyModule === undefined ? {} : { meterKeyModule: deps.keyModule }),
            meterKeysInstalled,
            // `cls-open` (docs/admin-protocol.md): the CLS service in force opens the channel (a reconfiguration may add or remove it); its refusals are the command's error.
            clsOpen: (c) => openClsFor(cls)(c),
            // The consumers' requests made on the HAN travel in the report and come back as `answer-request` (absent without a HAN service).
            ...(config.han === undefined ? {} : { consumerRequests: createConsumerRequests({ store: s, consumerLog: (c, e) => l.consumer(c, e), now, ...loggerDep }) }),
            ...loggerDep,
          })
          await admin.start()
        }
        log?.info({ meters: meters.size, adapters: lmn.adapters().length, store: config.store.path }, 'gateway running')
      } catch (err) {
        await shutdown('error')
        throw err
      }
    },
    close(reason = 'admin') {
      if (state === 'idle' || (state === 'closed' && closing === undefined)) {
        state = 'closed'
        return Promise.resolve()
      }
      closing ??= shutdown(reason)
      return closing
    },
    status: () => ({
      state,
      stored,
      pending: pending.length,
      garbageBytes,
      unknownMeters: [...unknown].map((k) => k.slice(k.indexOf('/') + 1)),
      ports: lmn.adapters().flatMap((a) => {
        const p = a.port?.()
        return p === undefined ? [] : [p]
      }),
      ...(time === undefined ? {} : { time: timeStatus(time.clock) }),
      meters: [...meters.values()].map((m) => ({
        id: m.id, kind: m.kind, state: m.state, stored: m.stored, keyRejected: m.keyRejected, garbageBytes: m.garbageBytes,
        ...(m.lastReadingAt === undefined ? {} : { lastReadingAt: m.lastReadingAt }),
      })),
    }),
    async flush() {
      commit()
      await logQueue
    },
    checkSilence,
    legalClock: () => time?.clock,
    onReadings(listener) {
      readingListeners.add(listener)
      return () => { readingListeners.delete(listener) }
    },
    hanPort: () => han?.port(),
    reconfigure,
    config: () => config,
    meterKeysInstalled,
    admin: () => admin,
    cls: () => cls,
  }
}

/** The admin handler of `cls-open`: the channel is opened at the GWA's request (access table: gwa → cls.open). */
function openClsFor(cls: ClsService | undefined): (c: { readonly deviceId: string; readonly emtId: string; readonly endpoint: string; readonly timeoutS: number }) => Promise<Record<string, unknown>> {
  return async (c) => {
    if (cls === undefined) throw new GatewayError('CLS_FAILED', 'this gateway has no cls section: no controllable devices are configured')
    const opened = await cls.open({ deviceId: c.deviceId, emtId: c.emtId, endpoint: c.endpoint, timeoutS: c.timeoutS, requestedBy: 'gwa' })
    return { channelId: opened.channelId, timeoutS: opened.timeoutS }
  }
}

async function readTariffProfiles(c: GatewayConfig): Promise<readonly TariffProfile[]> {
  return c.tariffs === undefined ? [] : parseTariffProfiles(await readFile(c.tariffs.profiles, 'utf8'))
}

function timeStatus(clock: LegalClock): NonNullable<GatewayStatus['time']> {
  const s = clock.status()
  return { state: s.state, offsetMs: s.offsetMs, ...(s.lastSync === undefined ? {} : { lastSync: s.lastSync }) }
}

/** Sections a running gateway cannot take over: its identity, the store, the HAN service, the key module, the administration. */
const RESTART_ONLY_SECTIONS = ['gatewayId', 'store', 'han', 'meterKeys', 'admin'] as const satisfies readonly (keyof GatewayConfig)[]

function newMeterState(m: MeterConfig): MeterState {
  return {
    id: m.id, kind: m.kind, intervalMs: m.intervalS * 1000, silentAfterMissed: m.silentAfterMissed, consumer: m.consumer,
    state: 'waiting', since: 0, stored: 0, lastReadingAt: undefined, keyRejected: 0, keyRejectedLogged: false, garbageBytes: 0,
  }
}

/**
 * A GatewayLogs whose writer can be replaced while others hold it (the HAN service, the
 * delivery service). Appends go through one queue, so an entry of the old writer is committed
 * before the new writer reads the chain's last entry: the chains stay gapless.
 */
function createSwitchableLogs(): { start(first: GatewayLogs): GatewayLogs; switchTo(next: GatewayLogs): Promise<void> } {
  let writer: GatewayLogs | undefined
  let tail: Promise<unknown> = Promise.resolve()
  const via = <T>(fn: (w: GatewayLogs) => Promise<T>): Promise<T> => {
    const run = tail.then(() => {
      if (writer === undefined) throw new GatewayError('STORE_CLOSED', 'the logs are not open')
      return fn(writer)
    })
    tail = run.catch(() => undefined)
    return run
  }
  const facade: GatewayLogs = {
    system: (entry) => via((w) => w.system(entry)),
    consumer: (consumerId, entry) => via((w) => w.consumer(consumerId, entry)),
    calibration: (entry) => via((w) => w.calibration(entry)),
    sealFinishedDays: () => via((w) => w.sealFinishedDays()),
  }
  return {
    start(first) {
      writer = first
      return facade
    },
    async switchTo(next) {
      await via(() => {
        writer = next
        return Promise.resolve()
      })
    },
  }
}
