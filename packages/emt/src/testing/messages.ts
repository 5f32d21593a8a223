import { VALUE_STATUS, type MeterDataMessage } from '@smgw/meter-data'

/** A TAF 7 day (quarter hours ending after `dayStartUtc`) of one metering point; for tests and the bench. */
export function sampleTaf7Message(o: {
  readonly gatewayId?: string
  readonly recipient?: string
  readonly messageId?: string
  readonly meteringPoint?: string
  /** UTC instant of legal midnight (the interval start of the first value). */
  readonly dayStart?: string
  readonly values?: number
  readonly createdAt?: string
  /** Indexes of values that are gaps. */
  readonly gaps?: readonly number[]
  readonly first?: bigint
} = {}): MeterDataMessage {
  const gatewayId = o.gatewayId ?? 'smgw-0001'
  const start = Date.parse(o.dayStart ?? '2026-11-22T23:00:00.000Z')
  const n = o.values ?? 96
  const gaps = new Set(o.gaps ?? [])
  let register = o.first ?? 123_456_700n
  const values = Array.from({ length: n }, (_, i) => {
    register += BigInt(10 + (i % 7))
    const time = new Date(start + (i + 1) * 900_000).toISOString()
    return gaps.has(i) ? { time, value: null, status: VALUE_STATUS.gap } : { time, value: register.toString(), status: 0 }
  })
  return {
    format: 'smgw-meter-data', version: 1,
    messageId: o.messageId ?? `${gatewayId}:taf7:1`,
    gatewayId,
    recipient: o.recipient ?? 'emt-1',
    useCase: 'taf7',
    createdAt: o.createdAt ?? new Date(start + n * 900_000 + 60_000).toISOString(),
    meteringPoint: { kind: 'pseudonym', id: o.meteringPoint ?? 'p-3f9a01' },
    period: { start: new Date(start).toISOString(), end: new Date(start + n * 900_000).toISOString() },
    series: [{ obis: '1-0:1.8.0*255', unit: 'Wh', scaler: -1, kind: 'profile', periodSeconds: 900, values }],
  }
}
