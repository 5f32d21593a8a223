import { METER_DATA_FORMAT, METER_DATA_VERSION, MeterDataError, encodeMeterData, type MeterDataMessage, type MeterSeries, type MeteringPoint } from '@smgw/meter-data'
import { GatewayError } from '../errors.js'
import { aggregateSeries } from './aggregate.js'
import type { TafComputation, TafSeries } from './compute.js'
import type { TafRecipient, TariffProfile } from './profile.js'
import { pseudonymOf } from './pseudonym.js'

/*
 * One meter-data message (@smgw/meter-data, format smgw-meter-data 1) per recipient of a
 * profile and computed period. Only the profile's recipients get one (principle 5): asking
 * for anyone else is TAF_RECIPIENT_UNKNOWN.
 *
 * The message ID is `${gatewayId}:${profileId}:${recipient}:${period end, epoch seconds}`:
 * deterministic, so a recomputation after a crash gives the same ID and the receiver
 * deduplicates (docs/wan-protocol.md: Idempotency-Key = messageId).
 */

export interface TafMessageOptions {
  readonly gatewayId: string
  readonly createdAt: Date
  /** The gateway's pseudonym secret (≥ 16 bytes); needed when a recipient is pseudonymised. */
  readonly pseudonymSecret?: Uint8Array
}

export interface TafMessage {
  readonly recipient: string
  readonly messageId: string
  readonly message: MeterDataMessage
  /** `encodeMeterData(message)`: the bytes to seal. */
  readonly bytes: Uint8Array
}

export function tafMessageId(gatewayId: string, profileId: string, recipient: string, periodEnd: Date): string {
  return `${gatewayId}:${profileId}:${recipient}:${Math.floor(periodEnd.getTime() / 1000)}`
}

const plain = (s: TafSeries): MeterSeries => ({
  obis: s.obis, scaler: s.scaler, kind: s.kind, values: [...s.values],
  ...(s.unit === undefined ? {} : { unit: s.unit }),
  ...(s.register === undefined ? {} : { register: s.register }),
  ...(s.periodSeconds === undefined ? {} : { periodSeconds: s.periodSeconds }),
})

/** The message for one recipient of the profile. */
export function buildTafMessage(profile: TariffProfile, computation: TafComputation, recipientId: string, options: TafMessageOptions): TafMessage {
  const recipient = profile.recipients.find((r) => r.id === recipientId)
  if (recipient === undefined) throw new GatewayError('TAF_RECIPIENT_UNKNOWN', `${recipientId} is not a recipient of tariff profile ${profile.id}: it receives nothing`)
  return build(profile, computation, recipient, options, seriesFor(profile, computation))
}

/** The messages for every recipient of the profile, in profile order. */
export function buildTafMessages(profile: TariffProfile, computation: TafComputation, options: TafMessageOptions): TafMessage[] {
  const series = seriesFor(profile, computation)
  return profile.recipients.map((r) => build(profile, computation, r, options, series))
}

interface Prepared { readonly series: MeterSeries[]; readonly aggregate?: { readonly group: string; readonly consumers: number } }

function seriesFor(profile: TariffProfile, computation: TafComputation): Prepared {
  const aggregate = 'aggregate' in profile ? profile.aggregate : undefined
  if (aggregate === undefined) return { series: computation.series.map(plain) }
  const summed = aggregateSeries(computation.series, aggregate.minConsumers)
  const consumers = Math.min(...summed.map((s) => s.consumers))
  return { series: summed.map(({ consumers: _, ...s }) => ({ ...s, values: [...s.values] })), aggregate: { group: aggregate.group, consumers } }
}

function build(profile: TariffProfile, computation: TafComputation, recipient: TafRecipient, options: TafMessageOptions, prepared: Prepared): TafMessage {
  let meteringPoint: MeteringPoint
  if (prepared.aggregate !== undefined) meteringPoint = { kind: 'aggregate', id: prepared.aggregate.group, consumers: prepared.aggregate.consumers }
  else if (recipient.pseudonymise) {
    if (options.pseudonymSecret === undefined) throw new GatewayError('TAF_INPUT_INVALID', `profile ${profile.id}: recipient ${recipient.id} is pseudonymised but no pseudonym secret was given`)
    meteringPoint = { kind: 'pseudonym', id: pseudonymOf(options.pseudonymSecret, recipient.id, profile.meteringPoint) }
  } else meteringPoint = { kind: 'metering-point', id: profile.meteringPoint }
  const messageId = tafMessageId(options.gatewayId, profile.id, recipient.id, computation.period.end)
  const message: MeterDataMessage = {
    format: METER_DATA_FORMAT,
    version: METER_DATA_VERSION,
    messageId,
    gatewayId: options.gatewayId,
    recipient: recipient.id,
    useCase: profile.useCase,
    createdAt: options.createdAt.toISOString(),
    meteringPoint,
    period: { start: computation.period.start.toISOString(), end: computation.period.end.toISOString() },
    series: prepared.series,
  }
  let bytes: Uint8Array
  try {
    bytes = encodeMeterData(message)
  } catch (err) {
    // A message this code built that its own schema refuses is a bug or an input outside the contract (an over-long ID).
    if (err instanceof MeterDataError) throw new GatewayError('TAF_INPUT_INVALID', `profile ${profile.id}: the message for ${recipient.id} is not valid: ${err.message}`, { cause: err })
    throw err
  }
  return { recipient: recipient.id, messageId, message, bytes }
}
