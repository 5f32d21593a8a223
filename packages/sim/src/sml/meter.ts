import { createHash } from 'node:crypto'
import { encodeSmlFile, type SmlListEntry, type SmlMessageInput, type SmlValue } from '@smgw/sml'
import { SimError } from '../errors.js'
import type { PowerProfile } from '../profiles/standard.js'
import { createRandom } from '../random.js'
import type { SmlSimQuirk } from './quirks.js'

/** OBIS codes as SML objName bytes (IEC 62056-61:2006 A-B:C.D.E*F). */
export const SML_OBIS = {
  manufacturer: Uint8Array.of(0x81, 0x81, 0xc7, 0x82, 0x03, 0xff),
  serverId: Uint8Array.of(0x01, 0x00, 0x00, 0x00, 0x09, 0xff),
  importEnergy: Uint8Array.of(0x01, 0x00, 0x01, 0x08, 0x00, 0xff),
  exportEnergy: Uint8Array.of(0x01, 0x00, 0x02, 0x08, 0x00, 0xff),
  activePower: Uint8Array.of(0x01, 0x00, 0x10, 0x07, 0x00, 0xff),
  listName: Uint8Array.of(0x01, 0x00, 0x62, 0x0a, 0xff, 0xff),
} as const

/** DLMS unit codes (IEC 62056-62 / DLMS Blue Book unit table). */
const UNIT_WH = 30
const UNIT_W = 27

export interface SmlMeterOptions {
  /** SML server id (the meter's id, typically 10 bytes: 0Ah, 01h, FLAG id, version, serial). */
  readonly serverId: Uint8Array
  /** Three-letter FLAG manufacturer id for 129-129:199.130.3*255. */
  readonly manufacturer?: string
  /** Consumption (import) source, e.g. an H0 profile; absent: no consumption. */
  readonly consumption?: PowerProfile
  /** Generation (export) source, e.g. a PV profile; absent: no generation. */
  readonly generation?: PowerProfile
  readonly seed: number
  /** Relative power noise per file, uniform in ±noise (default 0.05). */
  readonly powerNoise?: number
  readonly quirks?: readonly SmlSimQuirk[]
  /** Add a per-file listSignature (a placeholder digest, see README; not a real meter signature). */
  readonly signature?: boolean
  /** Probability of a cut-off file with the `truncated` quirk (default 0.1). */
  readonly truncateProbability?: number
  readonly initialImportWh?: number
  readonly initialExportWh?: number
  /** secIndex (seconds since the meter started counting) of the first file. */
  readonly secIndexStart?: number
}

/** What the meter put into one file, as sent (registers at 0.1 Wh resolution). */
export interface SmlMeterValues {
  readonly at: Date
  readonly secIndex: number
  /** 1-0:1.8.0*255 in Wh (as sent: value × 10^-1). */
  readonly importWh: number
  /** 1-0:2.8.0*255 in Wh. */
  readonly exportWh: number
  /** 1-0:16.7.0*255 in W (positive: import). */
  readonly powerW: number
}

export interface SmlEmission {
  /** The bytes to put on the line: noise (quirk), then the file (possibly truncated). */
  readonly bytes: Uint8Array
  /** The complete file as encoded. */
  readonly file: Uint8Array
  readonly truncated: boolean
  readonly noiseBytes: number
  readonly values: SmlMeterValues
}

export interface SmlMeter {
  /** Advances the meter to `at` (integrating power since the last call) and emits one file. */
  next(at: Date): SmlEmission
}

/** Integration step: power is sampled at the midpoint of steps of at most this length. */
const MAX_STEP_MS = 60_000

/**
 * An SML electricity meter (eHZ style): integrates the net power of its profiles into the
 * import (1.8.0) and export (2.8.0) registers and emits OpenResponse, GetListResponse,
 * CloseResponse as one SML file per call, as push-mode meters do on their optical/wired
 * interface. Pure apart from its own state: time arrives as an argument, randomness is seeded.
 */
export function createSmlMeter(options: SmlMeterOptions): SmlMeter {
  if (options.serverId.length < 1 || options.serverId.length > 16) {
    throw new SimError('SIM_CONFIG', `serverId must be 1–16 bytes, got ${options.serverId.length}`)
  }
  const manufacturer = options.manufacturer ?? 'SIM'
  if (!/^[A-Z]{3}$/.test(manufacturer)) throw new SimError('SIM_CONFIG', `manufacturer must be three letters A–Z, got ${manufacturer}`)
  const quirks = new Set(options.quirks ?? [])
  const random = createRandom(options.seed)
  const noise = options.powerNoise ?? 0.05
  const truncateProbability = options.truncateProbability ?? 0.1
  let importWh = options.initialImportWh ?? 0
  let exportWh = options.initialExportWh ?? 0
  let last: number | undefined
  let firstMs: number | undefined
  let fileNo = 0

  const netPower = (ms: number, factor: number): number => {
    const at = new Date(ms)
    const load = options.consumption ? options.consumption.powerW(at) * factor : 0
    const gen = options.generation ? options.generation.powerW(at) : 0
    return load - gen
  }

  return {
    next(at) {
      const ms = at.getTime()
      if (!Number.isFinite(ms)) throw new SimError('SIM_TIME', 'invalid instant')
      if (last !== undefined && ms < last) throw new SimError('SIM_TIME', `time went backwards: ${at.toISOString()} before ${new Date(last).toISOString()}`)
      const factor = 1 + (random.next() * 2 - 1) * noise
      if (last !== undefined) {
        const steps = Math.max(1, Math.ceil((ms - last) / MAX_STEP_MS))
        const dt = (ms - last) / steps
        for (let i = 0; i < steps; i++) {
          const p = netPower(last + (i + 0.5) * dt, factor)
          const wh = (p * dt) / 3_600_000
          if (wh >= 0) importWh += wh
          else exportWh -= wh
        }
      }
      firstMs ??= ms
      last = ms
      fileNo++
      const secIndex = (options.secIndexStart ?? 0) + Math.floor((ms - firstMs) / 1000)
      const powerW = Math.round(netPower(ms, factor))
      const importRaw = Math.floor(importWh * 10)
      const exportRaw = Math.floor(exportWh * 10)
      const valList: SmlListEntry[] = [
        { objName: SML_OBIS.manufacturer, value: { type: 'bytes', value: new TextEncoder().encode(manufacturer) } },
        { objName: SML_OBIS.serverId, value: { type: 'bytes', value: options.serverId } },
        { objName: SML_OBIS.importEnergy, status: { type: 'uint32', value: 0x182 }, unit: UNIT_WH, scaler: -1, value: { type: 'int64', value: importRaw } },
        { objName: SML_OBIS.exportEnergy, status: { type: 'uint32', value: 0x182 }, unit: UNIT_WH, scaler: -1, value: { type: 'int64', value: exportRaw } },
        { objName: SML_OBIS.activePower, unit: UNIT_W, scaler: 0, value: powerValue(powerW, quirks) },
      ]
      const listSignature = options.signature === true ? placeholderSignature(options.serverId, secIndex, importRaw, exportRaw) : undefined
      const bodies = [
        { kind: 'openResponse', reqFileId: counterBytes(fileNo), serverId: options.serverId },
        {
          kind: 'getListResponse',
          serverId: options.serverId,
          listName: SML_OBIS.listName,
          actSensorTime: { kind: 'secIndex', secIndex },
          valList,
          ...(listSignature ? { listSignature } : {}),
        },
        { kind: 'closeResponse' },
      ] as const
      const messages: SmlMessageInput[] = bodies.map((body, i) => ({
        transactionId: counterBytes(fileNo * 4 + i),
        groupNo: 0,
        abortOnError: 0,
        body,
        // SML 1.04 SML_Message: TL index 5 is the messageBody tag; hint it to 2 bytes (63 0101).
        ...(quirks.has('u16-body-tag') ? { tl: [{ at: 5, size: 1, len: 2 }] } : {}),
      }))
      let file: Uint8Array
      try {
        file = encodeSmlFile({ messages })
      } catch (err) {
        throw new SimError('SIM_ENCODE', `SML encoder refused the file: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
      }
      let bytes = file
      let truncated = false
      let noiseBytes = 0
      if (quirks.has('truncated') && random.next() < truncateProbability) {
        truncated = true
        // Cut after the start sequence and before the end escape sequence, never right after
        // a 1Bh byte: the cut-off file is always reported as truncated and the next file
        // (whose start sequence follows) is always recognised.
        let cut = random.int(9, file.length - 9)
        while (file[cut - 1] === 0x1b) cut--
        bytes = file.subarray(0, cut)
      }
      if (quirks.has('noise')) {
        const junk = random.bytes(random.int(1, 16)).map((b) => (b === 0x1b ? 0 : b))
        noiseBytes = junk.length
        const out = new Uint8Array(junk.length + bytes.length)
        out.set(junk)
        out.set(bytes, junk.length)
        bytes = out
      }
      return { bytes, file, truncated, noiseBytes, values: { at, secIndex, importWh: importRaw / 10, exportWh: exportRaw / 10, powerW } }
    },
  }
}

/** 1-0:16.7.0 as eHZ meters send it, or as the named quirk mangles it. */
export function powerValue(powerW: number, quirks: ReadonlySet<SmlSimQuirk>): SmlValue {
  if (powerW < 0 && quirks.has('unsigned-negative-power')) {
    // QUIRK(generic eHZ): negative power in an Unsigned TL of the shortest signed width.
    if (powerW >= -0x80) return { type: 'uint8', value: powerW + 0x100 }
    if (powerW >= -0x8000) return { type: 'uint16', value: powerW + 0x1_0000 }
    return { type: 'uint32', value: powerW + 0x1_0000_0000 }
  }
  if (powerW >= 0x80 && powerW <= 0xffff && quirks.has('signed-positive-power')) {
    // QUIRK(DZG DVS74): positive power as the shortest unsigned bytes, typed Integer (top bit set).
    if (powerW <= 0xff) return { type: 'int8', value: powerW - 0x100 }
    if (powerW >= 0x8000) return { type: 'int16', value: powerW - 0x1_0000 }
  }
  return { type: 'int32', value: powerW }
}

function counterBytes(n: number): Uint8Array {
  return Uint8Array.of((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff)
}

/**
 * A stand-in for a meter's list signature: SHA-256 over serverId ‖ secIndex ‖ registers.
 * Not a signature (no key); it only fills the field so receivers can be tested with it present.
 */
function placeholderSignature(serverId: Uint8Array, secIndex: number, importRaw: number, exportRaw: number): Uint8Array {
  return new Uint8Array(createHash('sha256').update(serverId).update(`${secIndex}:${importRaw}:${exportRaw}`).digest())
}
