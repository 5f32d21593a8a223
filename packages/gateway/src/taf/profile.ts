import { z } from 'zod'
import { GatewayError } from '../errors.js'

/*
 * Tariff profiles (TR-03109-1 v1.1 "Tarifanwendungsfälle"; DOMAIN.md "Tariff use cases"):
 * which use case, which meter channels, for whom, when, with which registers. The
 * administrator sets them (the administration issue); until then they come from a local
 * profile file, a JSON array of profiles, checked here once at the edge.
 *
 * Rules this schema enforces beyond shapes (README "Tariff use cases" gives the reasons):
 *  - recipients are unique per profile; nobody else ever receives anything (principle 5);
 *  - TAF 1 and TAF 2 recipients are never pseudonymised: billing-period and tariff-register
 *    readings are billed to this consumer, so the biller needs the metering point;
 *  - TAF 10 goes to the grid operator only (issue 6: "grid-status values to the grid operator");
 *  - aggregation only where a use case delivers series (TAF 7, 10, 14), over ≥ 5 metering
 *    points per OBIS code (principle 3), and never together with a pseudonym;
 *  - electricity channels (OBIS A = 1) of register use cases (1, 2, 6, 7) are cumulative
 *    registers, D = 8; of actual-value use cases (9, 10, 14) instantaneous values, D = 7
 *    (IEC 62056-61:2006 §5.5 value group D: 7 instantaneous value, 8 time integral 1).
 */

export const TAF_USE_CASES = ['taf1', 'taf2', 'taf6', 'taf7', 'taf9', 'taf10', 'taf14'] as const
export type TafUseCase = (typeof TAF_USE_CASES)[number]

/** Market roles a recipient can have (DOMAIN.md "Actors"). */
export const RECIPIENT_ROLES = ['supplier', 'grid-operator', 'metering-point-operator', 'direct-marketer', 'emt'] as const

const id = (max: number) => z.string().regex(new RegExp(`^[A-Za-z0-9._:-]{1,${max}}$`), `1–${max} characters A–Z a–z 0–9 . _ : -`)
/** OBIS `A-B:C.D.E` or `A-B:C.D.E*F` (IEC 62056-61), groups 0–255; F defaults to 255. */
const obis = z.string()
  .regex(/^\d{1,3}-\d{1,3}:\d{1,3}\.\d{1,3}\.\d{1,3}(\*\d{1,3})?$/, 'an OBIS code A-B:C.D.E or A-B:C.D.E*F')
  .refine((s) => s.split(/[-:.*]/).every((g) => Number(g) <= 255), 'OBIS groups are 0–255')
  .transform((s) => (s.includes('*') ? s : `${s}*255`))
/** A local legal clock time 'HH:MM'; '24:00' is the end of the day. */
const clock = z.string().regex(/^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'a clock time HH:MM (00:00–24:00)')

export const TafChannel = z.strictObject({
  /** The meter ID as configured for the LMN (the store's meter_id). */
  meterId: id(64),
  /** OBIS code of the channel, as it goes into the message. */
  obis,
  /** The store's quantity key when it is not the OBIS code (wireless M-Bus meters: 'volume', 'energy', …). */
  quantity: id(64).optional(),
  /** Aggregating profiles only: the metering point this channel measures. */
  meteringPoint: id(64).optional(),
  /**
   * Bits of the meter's own status word that mean a meter error (value status meterError).
   * Default: 0 for SML (the FNN status word's bit assignment is manufacturer documentation,
   * not in @smgw/sml; configure it per meter type), 0x1a for wireless M-Bus quantities
   * (EN 13757-7:2018 TPL status byte: application error states 10/11, bit 3 permanent, bit 4 temporary error).
   */
  meterErrorMask: z.int().min(0).max(0xffff_ffff).optional(),
})
export type TafChannel = z.output<typeof TafChannel>

export const TafRecipient = z.strictObject({
  /** SM-PKI participant ID of the market participant (the WAN maps it to its certificates). */
  id: id(32),
  role: z.enum(RECIPIENT_ROLES),
  /** Send a per-recipient pseudonym instead of the metering point ID (principle 3). */
  pseudonymise: z.boolean().default(false),
})
export type TafRecipient = z.output<typeof TafRecipient>

const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const
export type Weekday = (typeof WEEKDAYS)[number]

export const SwitchingWindow = z.strictObject({
  register: id(32),
  days: z.array(z.enum(WEEKDAYS)).min(1).max(7),
  /** Local legal time, inclusive. */
  from: clock,
  /** Local legal time, exclusive; after `from`. */
  to: clock,
})

export const TariffRegisters = z.strictObject({
  /** Register names, e.g. ['HT', 'NT']. */
  names: z.array(id(32)).min(2).max(8),
  /** The register active outside every window. */
  default: id(32),
  /** Weekly switching schedule in local legal time; windows of one day must not overlap. */
  switching: z.array(SwitchingWindow).min(1).max(64),
  /** Nationwide public holidays count as Sundays ('sunday') or as their weekday ('weekday', default). */
  holidays: z.enum(['sunday', 'weekday']).default('weekday'),
})
export type TariffRegisters = z.output<typeof TariffRegisters>

const Aggregate = z.strictObject({
  /** The aggregate's identifier in the message (kind 'aggregate'). */
  group: id(64),
  minConsumers: z.int().min(5).default(5),
})

const common = {
  /** Profile ID, unique in the file; part of every message ID. */
  id: id(32),
  /** The metering point (e.g. MeLo ID) the profile's channels measure. */
  meteringPoint: id(64),
  channels: z.array(TafChannel).min(1).max(64),
  recipients: z.array(TafRecipient).min(1).max(16),
  /**
   * A register value at a boundary is the last reading at or before it, no older than this
   * (seconds). Default: 3 % of the registration period (27 s for 15 min, TR-03109-1's time
   * tolerance), at most 900 s, at least 1 s. Beyond it: gap.
   */
  toleranceSeconds: z.int().min(1).max(86_400).optional(),
}

const divisorOfHour = z.int().min(1).max(3600).refine((n) => 3600 % n === 0, 'must divide 3600 (boundaries on the local clock)')

export const TariffProfile = z.discriminatedUnion('useCase', [
  z.strictObject({ ...common, useCase: z.literal('taf1'), schedule: z.strictObject({ billingPeriod: z.enum(['monthly', 'yearly']) }) }),
  z.strictObject({ ...common, useCase: z.literal('taf2'), schedule: z.strictObject({ billingPeriod: z.enum(['daily', 'monthly', 'yearly']) }), registers: TariffRegisters }),
  z.strictObject({ ...common, useCase: z.literal('taf6') }),
  z.strictObject({
    ...common,
    useCase: z.literal('taf7'),
    schedule: z.strictObject({
      periodSeconds: divisorOfHour.default(900),
      send: z.union([
        z.strictObject({ everyHours: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4), z.literal(6), z.literal(8), z.literal(12), z.literal(24)]) }),
        z.strictObject({ dailyAt: clock.refine((c) => c !== '24:00', 'dailyAt is 00:00–23:59') }),
      ]),
    }),
    aggregate: Aggregate.optional(),
  }),
  z.strictObject({ ...common, useCase: z.literal('taf9') }),
  z.strictObject({ ...common, useCase: z.literal('taf10'), schedule: z.strictObject({ everySeconds: divisorOfHour }), aggregate: Aggregate.optional() }),
  z.strictObject({ ...common, useCase: z.literal('taf14'), schedule: z.strictObject({ everySeconds: divisorOfHour }), aggregate: Aggregate.optional() }),
]).superRefine((p, ctx) => {
  const issue = (path: PropertyKey[], message: string) => { ctx.addIssue({ code: 'custom', path, message }) }
  const seen = new Set<string>()
  p.recipients.forEach((r, i) => {
    if (seen.has(r.id)) issue(['recipients', i, 'id'], `recipient ${r.id} is named twice`)
    seen.add(r.id)
    if ((p.useCase === 'taf1' || p.useCase === 'taf2') && r.pseudonymise) issue(['recipients', i, 'pseudonymise'], `${p.useCase} readings are billed to this metering point: no pseudonym`)
    if (p.useCase === 'taf10' && r.role !== 'grid-operator') issue(['recipients', i, 'role'], 'taf10 grid-status values go to the grid operator only')
  })
  const channels = new Set<string>()
  const seriesKeys = new Set<string>()
  const register = p.useCase === 'taf1' || p.useCase === 'taf2' || p.useCase === 'taf6' || p.useCase === 'taf7'
  p.channels.forEach((c, i) => {
    const key = `${c.meterId}\u0000${c.obis}`
    if (channels.has(key)) issue(['channels', i], `channel ${c.meterId} ${c.obis} is named twice`)
    channels.add(key)
    const [a, , , d] = c.obis.split(/[-:.*]/).map(Number)
    if (a === 1 && register && d !== 8) issue(['channels', i, 'obis'], `${p.useCase} needs a cumulative register (OBIS D = 8), not ${c.obis}`)
    if (a === 1 && !register && d !== 7) issue(['channels', i, 'obis'], `${p.useCase} needs an instantaneous value (OBIS D = 7), not ${c.obis}`)
    const aggregating = 'aggregate' in p && p.aggregate !== undefined
    if (c.meteringPoint !== undefined && !aggregating) issue(['channels', i, 'meteringPoint'], 'a channel names its own metering point only in an aggregating profile')
    // A message's series carry no meter ID: one series per OBIS code (per metering point when aggregating).
    const seriesKey = `${aggregating ? (c.meteringPoint ?? p.meteringPoint) : ''}\u0000${c.obis}`
    if (seriesKeys.has(seriesKey)) issue(['channels', i, 'obis'], `${c.obis} is measured twice${aggregating ? ' at one metering point' : ''}: the message could not tell the series apart`)
    seriesKeys.add(seriesKey)
  })
  if (p.useCase === 'taf2') {
    const names = new Set(p.registers.names)
    if (names.size !== p.registers.names.length) issue(['registers', 'names'], 'register names must be unique')
    if (!names.has(p.registers.default)) issue(['registers', 'default'], `${p.registers.default} is not one of the register names`)
    const byDay = new Map<string, { from: number; to: number; i: number }[]>()
    p.registers.switching.forEach((w, i) => {
      if (!names.has(w.register)) issue(['registers', 'switching', i, 'register'], `${w.register} is not one of the register names`)
      const from = clockMinutes(w.from)
      const to = clockMinutes(w.to)
      if (to <= from) issue(['registers', 'switching', i, 'to'], 'to must be after from (a window lies within one day)')
      for (const day of w.days) {
        const list = byDay.get(day) ?? []
        const clash = list.find((o) => from < o.to && o.from < to)
        if (clash !== undefined) issue(['registers', 'switching', i], `overlaps window ${clash.i} on ${day}`)
        list.push({ from, to, i })
        byDay.set(day, list)
      }
    })
  }
  if ('aggregate' in p && p.aggregate !== undefined) {
    const { minConsumers } = p.aggregate
    p.recipients.forEach((r, i) => { if (r.pseudonymise) issue(['recipients', i, 'pseudonymise'], 'an aggregate has no metering point to pseudonymise') })
    const points = new Map<string, Set<string>>()
    for (const c of p.channels) points.set(c.obis, (points.get(c.obis) ?? new Set()).add(c.meteringPoint ?? p.meteringPoint))
    for (const [code, set] of points) {
      if (set.size < minConsumers) issue(['aggregate', 'minConsumers'], `${code} is measured at ${set.size} metering points, fewer than ${minConsumers}`)
    }
  }
})
export type TariffProfile = z.output<typeof TariffProfile>
export type TariffProfileOf<U extends TafUseCase> = Extract<TariffProfile, { useCase: U }>

/** The consumers whose meters a profile reads. */
export function consumersOfProfile(profile: TariffProfile, consumerOf: ReadonlyMap<string, string>): string[] {
  return [...new Set(profile.channels.flatMap((c) => { const id = consumerOf.get(c.meterId); return id === undefined ? [] : [id] }))]
}

/** A profile file: a JSON array of profiles with unique IDs. */
export const TariffProfileFile = z.array(TariffProfile).max(256).superRefine((list, ctx) => {
  const ids = new Set<string>()
  list.forEach((p, i) => {
    if (ids.has(p.id)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `profile ${p.id} is defined twice` })
    ids.add(p.id)
  })
})

/** 'HH:MM' → minutes since local midnight (24:00 → 1440). */
export function clockMinutes(text: string): number {
  return Number(text.slice(0, 2)) * 60 + Number(text.slice(3, 5))
}

/**
 * Validates a profile file (JSON text or parsed JSON) once, at the edge, and returns the
 * profiles deep-frozen. Every problem is named by its path: TAF_PROFILE_INVALID
 * `[0].recipients[1].pseudonymise: taf1 readings are billed …`.
 */
export function parseTariffProfiles(input: unknown): readonly TariffProfile[] {
  let json = input
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input)
    } catch (err) {
      throw new GatewayError('TAF_PROFILE_INVALID', `tariff profile file is not JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
  }
  const r = TariffProfileFile.safeParse(json)
  if (!r.success) {
    const problems = r.error.issues.slice(0, 20).map((i) => `${formatIssuePath(i.path)}: ${i.message}`)
    throw new GatewayError('TAF_PROFILE_INVALID', `invalid tariff profiles: ${problems.join('; ')}`, { cause: r.error })
  }
  return deepFreeze(r.data)
}

function formatIssuePath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)'
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('')
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}
