import { z } from 'zod'
import { SimError } from './errors.js'
import { SML_SIM_QUIRKS, isSmlSimQuirk } from './sml/quirks.js'

const hex = (bytes?: number) =>
  z
    .string()
    .regex(/^(?:[0-9a-fA-F]{2})+$/, 'hex bytes')
    .refine((s) => bytes === undefined || s.length === bytes * 2, `${String(bytes)} bytes`)

const port = z.number().int().min(0).max(65_535)
const host = z.string().min(1).default('127.0.0.1')

export const SmlMeterConfig = z
  .object({
    /** Server id as hex (default 0A 01 'SIM' 00 + the seed as 5-digit hex serial). */
    serverId: hex().optional(),
    manufacturer: z.string().regex(/^[A-Z]{3}$/).default('SIM'),
    profile: z.enum(['h0', 'g0', 'pv']).default('h0'),
    /** Annual consumption of the h0/g0 profile. */
    annualKwh: z.number().positive().default(3500),
    /** PV peak power in W: the pv profile's plant, or a plant behind an h0/g0 consumer (0 = none). */
    pvPeakW: z.number().min(0).optional(),
    seed: z.number().int().min(0).max(0xffffffff).default(1),
    quirks: z.array(z.string()).default([]),
    signature: z.boolean().default(false),
    powerNoise: z.number().min(0).max(0.5).default(0.05),
    truncateProbability: z.number().min(0).max(1).default(0.1),
    initialImportWh: z.number().min(0).default(0),
    initialExportWh: z.number().min(0).default(0),
  })
  .strict()

export const WmbusMeterConfig = z
  .object({
    kind: z.enum(['water', 'heat', 'gas', 'hca']).default('water'),
    id: z.string().regex(/^\d{8}$/, '8 decimal digits').default('12345678'),
    manufacturer: z.string().regex(/^[A-Z]{3}$/).default('SIM'),
    version: z.number().int().min(0).max(255).default(1),
    mode: z.union([z.literal(0), z.literal(5), z.literal(7)]).default(5),
    key: hex(16).optional(),
    seed: z.number().int().min(0).max(0xffffffff).default(1),
    /** Link-layer block CRCs: format A, B, or none (as USB sticks in raw mode hand frames on). */
    crc: z.enum(['A', 'B', 'none']).default('none'),
  })
  .strict()

const SerialOutput = z.object({ kind: z.literal('serial'), path: z.string().min(1), baudRate: z.number().int().positive().default(9600) }).strict()

export const SmlSimulatorConfig = z
  .object({
    kind: z.literal('sml'),
    meter: SmlMeterConfig.default(SmlMeterConfig.parse({})),
    output: z.discriminatedUnion('kind', [
      SerialOutput,
      z.object({ kind: z.literal('tcp'), host, port: port.min(1) }).strict(),
      z.object({ kind: z.literal('listen'), host, port }).strict(),
    ]),
    /** Seconds between files (eHZ push meters: 1–4 s). */
    intervalS: z.number().min(1).max(4).default(2),
    /** Stop after this many files (default: run until closed). */
    count: z.number().int().positive().optional(),
  })
  .strict()

export const WmbusSimulatorConfig = z
  .object({
    kind: z.literal('wmbus'),
    meter: WmbusMeterConfig.default(WmbusMeterConfig.parse({ mode: 0 })),
    output: z.discriminatedUnion('kind', [SerialOutput, z.object({ kind: z.literal('udp'), host, port: port.min(1) }).strict()]),
    /** Seconds between telegrams (OMS meters: 16–96 s, EN 13757-4 mode T/C). */
    intervalS: z.number().min(16).max(96).default(32),
    /** Relative jitter of each interval, seeded (± share; result clamped to 16–96 s). */
    jitter: z.number().min(0).max(0.5).default(0.1),
    count: z.number().int().positive().optional(),
  })
  .strict()

export const SimulatorConfig = z.discriminatedUnion('kind', [SmlSimulatorConfig, WmbusSimulatorConfig])

export type SmlMeterConfig = z.output<typeof SmlMeterConfig>
export type WmbusMeterConfig = z.output<typeof WmbusMeterConfig>
export type SimulatorConfig = z.output<typeof SimulatorConfig>
export type SimulatorConfigInput = z.input<typeof SimulatorConfig>

/** Validates a simulator configuration once, at the edge; SIM_CONFIG with every problem listed. */
export function parseSimulatorConfig(input: unknown): SimulatorConfig {
  const result = SimulatorConfig.safeParse(input)
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')
    throw new SimError('SIM_CONFIG', `invalid simulator configuration: ${issues}`, { cause: result.error })
  }
  if (result.data.kind === 'sml') {
    const unknown = result.data.meter.quirks.filter((q) => !isSmlSimQuirk(q))
    if (unknown.length > 0) {
      throw new SimError('SIM_UNKNOWN_QUIRK', `unknown quirk ${unknown.join(', ')}; known: ${SML_SIM_QUIRKS.map((q) => q.name).join(', ')}`)
    }
  }
  if (result.data.kind === 'wmbus' && result.data.meter.mode !== 0 && result.data.meter.key === undefined) {
    throw new SimError('SIM_KEY', `security mode ${result.data.meter.mode} needs meter.key (32 hex digits)`)
  }
  return Object.freeze(result.data)
}

/** Validates one meter's configuration (as in `SimulatorConfig.meter`), for callers that only need the meter. */
export function parseSmlMeterConfig(input: unknown): SmlMeterConfig {
  const config = parseSimulatorConfig({ kind: 'sml', output: { kind: 'listen', port: 0 }, meter: input })
  if (config.kind !== 'sml') throw new SimError('SIM_CONFIG', 'not an SML meter')
  return config.meter
}

export function parseWmbusMeterConfig(input: unknown): WmbusMeterConfig {
  const config = parseSimulatorConfig({ kind: 'wmbus', output: { kind: 'udp', port: 1 }, meter: input })
  if (config.kind !== 'wmbus') throw new SimError('SIM_CONFIG', 'not a wireless M-Bus meter')
  return config.meter
}
