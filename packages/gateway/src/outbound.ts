import { readFile } from 'node:fs/promises'
import { decodeCertificates, type SecurityModule, type Signer } from '@smgw/crypto'
import type { Logger } from 'pino'
import { readWanTlsMaterial } from './wan/material.js'
import { consumersByMeter, type GatewayConfig } from './config.js'
import { GatewayError } from './errors.js'
import type { GatewayLogs } from './log/writer.js'
import { isConsentGranted } from './han/consent.js'
import { messageOf } from './store/store.js'
import type { OutboxItem, Store } from './store/types.js'
import type { TimeInvalidPeriod } from './taf/compute.js'
import { consumersOfProfile, parseTariffProfiles, type TariffProfile } from './taf/profile.js'
import { createTafService, TAF_DATA_CLASS, type TafService } from './taf/service.js'
import { createDeliveryService, formatDeliveryText, type DeliveryDescription, type DeliveryService } from './wan/delivery.js'
import { createMessageSealer } from './wan/seal.js'

/*
 * The outbound half of the gateway, in the order the data flows (store → taf → wan): the
 * tariff profiles are computed at their legal-time boundaries, each result is signed and
 * encrypted for each of its recipients and put into the outbox in the same transaction that
 * moves the profile's watermark, and the delivery service sends the outbox over mutual TLS.
 * Built from the `tariffs` and `wan` sections; without `tariffs` nothing is computed, but
 * whatever the outbox holds (e.g. from before a profile was removed) is still delivered.
 */

export interface OutboundDeps {
  readonly store: Store
  readonly logs: GatewayLogs
  /** Legal time (the legal clock's `now` when a time source is configured). */
  readonly now: () => Date
  readonly setTimer: (ms: number, fn: () => void) => () => void
  /** The gateway's SIG key and certificate (the same that signs the log heads). */
  readonly sig: { readonly signer: Signer; readonly certificate: Uint8Array }
  /** The pseudonym secret (key ID `pseudonym` in the key file); needed by pseudonymising profiles. */
  readonly pseudonymSecret?: Uint8Array
  /** Periods without assured legal time: their values carry the timeInvalid status bit. */
  readonly invalidTime?: () => readonly TimeInvalidPeriod[]
  readonly random?: () => number
  /** The gateway's security module: holds the TLS key when the configuration names `wan.tls.keyLabel`. */
  readonly module?: SecurityModule
  readonly logger?: Logger
}

export interface Outbound {
  /** The IDs of the configured tariff profiles (retention keeps what they have not processed). */
  readonly profiles: readonly string[]
  readonly taf: TafService | undefined
  readonly delivery: DeliveryService
  start(): Promise<void>
  /** Stops the TAF stage first (no new outbox items), then delivery. Idempotent. */
  close(): Promise<void>
}

/**
 * Reads the files the `tariffs` and `wan` sections name and prepares the stages;
 * CONFIG_INVALID for anything unreadable or inconsistent (a profile recipient that is not a
 * configured WAN recipient, a pseudonymising profile without a pseudonym secret).
 * Undefined when the configuration has no `wan` section.
 */
export async function createOutbound(config: GatewayConfig, deps: OutboundDeps): Promise<Outbound | undefined> {
  const wan = config.wan
  if (wan === undefined) return undefined
  const profiles = config.tariffs === undefined ? [] : await readProfiles(config.tariffs.profiles)
  checkProfiles(profiles, new Set(wan.recipients.map((r) => r.id)), deps.pseudonymSecret !== undefined)

  const one = async (file: string, what: string): Promise<Uint8Array> => {
    const [der] = await certificates(file, what)
    if (der === undefined) throw new GatewayError('CONFIG_INVALID', `${what}: no certificate in ${file}`)
    return der
  }
  const many = async (files: readonly string[], what: string): Promise<Uint8Array[]> => (await Promise.all(files.map((f) => certificates(f, what)))).flat()
  const sealer = createMessageSealer({
    signer: deps.sig.signer,
    sigCertificate: deps.sig.certificate,
    chain: await many(wan.sigChain, 'wan.sigChain'),
    contentEncryption: wan.contentEncryption,
    recipients: await Promise.all(wan.recipients.map(async (r, i) => ({ id: r.id, encCertificate: await one(r.encCertificate, `wan.recipients[${i}].encCertificate`) }))),
  }, { now: deps.now })

  const consumersOf = consumersByMeter(config)
  const byId = new Map(profiles.map((p) => [p.id, p]))
  const describe = (item: OutboxItem): DeliveryDescription => {
    // Message IDs are `<gatewayId>:<profile>:<recipient>:<period end>` (taf/message.ts).
    const profile = byId.get(item.messageId?.split(':')[1] ?? '')
    const consumers = profile === undefined ? [] : consumersOfProfile(profile, consumersOf)
    return { consumers, dataClass: profile === undefined ? item.purpose : TAF_DATA_CLASS[profile.useCase], text: formatDeliveryText(item) }
  }
  const delivery = createDeliveryService({
    recipients: wan.recipients.map(({ encCertificate: _enc, ...r }) => r),
    tls: await readWanTlsMaterial(wan, deps.module),
    ...(wan.retry === undefined ? {} : { retry: wan.retry }),
    batchSize: wan.batchSize,
    requestTimeoutMs: wan.requestTimeoutMs,
  }, {
    store: deps.store, logs: deps.logs, describe, now: deps.now, setTimer: deps.setTimer,
    ...(deps.random === undefined ? {} : { random: deps.random }),
    ...(deps.logger === undefined ? {} : { logger: deps.logger }),
  })
  // A committed TAF run wakes delivery at once (its own timer may be sleeping until the next retry).
  const kick = (): void => { void delivery.kick() }
  const store: Store = {
    ...deps.store,
    commitTafRun: (run) => {
      const r = deps.store.commitTafRun(run)
      kick()
      return r
    },
    enqueueOutbox: (item) => {
      const id = deps.store.enqueueOutbox(item)
      kick()
      return id
    },
  }
  const taf = profiles.length === 0 ? undefined : createTafService({
    gatewayId: config.gatewayId,
    profiles,
    consumers: Object.fromEntries(consumersOf),
  }, {
    store, seal: (bytes, recipient) => sealer.seal(bytes, recipient), now: deps.now, setTimer: deps.setTimer, logs: deps.logs,
    ...(deps.pseudonymSecret === undefined ? {} : { pseudonymSecret: deps.pseudonymSecret }),
    ...(deps.invalidTime === undefined ? {} : { invalidTime: deps.invalidTime }),
    ...(deps.logger === undefined ? {} : { logger: deps.logger }),
    // The consumer's consent, as recorded by the HAN service (README "HAN service"), read at each period.
    consentGranted: (profileId) => {
      const p = byId.get(profileId)
      return p === undefined || isConsentGranted(deps.store, p, consumersOf)
    },
  })
  return {
    profiles: profiles.map((p) => p.id),
    taf,
    delivery,
    async start() {
      await delivery.start()
      await taf?.start()
    },
    async close() {
      await taf?.close()
      await delivery.close()
    },
  }
}

async function readProfiles(file: string): Promise<readonly TariffProfile[]> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new GatewayError('CONFIG_INVALID', `tariffs.profiles: cannot read ${file}: ${messageOf(err)}`, { cause: err })
  }
  try {
    return parseTariffProfiles(text)
  } catch (err) {
    throw new GatewayError('CONFIG_INVALID', `tariffs.profiles (${file}): ${messageOf(err)}`, { cause: err })
  }
}

/** Principle 5: a profile may only name recipients the WAN section can reach (and encrypt to). */
function checkProfiles(profiles: readonly TariffProfile[], recipients: ReadonlySet<string>, hasSecret: boolean): void {
  const problems = profiles.flatMap((p) => [
    ...p.recipients.filter((r) => !recipients.has(r.id)).map((r) => `profile ${p.id}: recipient ${r.id} is not in wan.recipients`),
    ...(!hasSecret && p.recipients.some((r) => r.pseudonymise) ? [`profile ${p.id} pseudonymises: the key file needs a 'pseudonym' secret`] : []),
  ])
  if (problems.length > 0) throw new GatewayError('CONFIG_INVALID', `tariff profiles do not fit the configuration:\n  ${problems.join('\n  ')}`)
}

async function certificates(file: string, what: string): Promise<Uint8Array[]> {
  try {
    return decodeCertificates(new Uint8Array(await readFile(file))).map((c) => c.der)
  } catch (err) {
    throw new GatewayError('CONFIG_INVALID', `${what}: cannot read certificates from ${file}: ${messageOf(err)}`, { cause: err })
  }
}
