import { encodeWirelessTelegram, type DataRecordInput, type FrameFormat, type WirelessTelegramInput } from '@smgw/mbus'
import { SimError } from '../errors.js'
import { toLegalTime } from '../profiles/legal-time.js'
import { createRandom } from '../random.js'
import { circuitTemperaturesC, heatDemandW, waterFlowLph } from './models.js'

export type WmbusMeterKind = 'water' | 'heat' | 'gas' | 'hca'
export type WmbusSecurityMode = 0 | 5 | 7

/** EN 13757-3:2018 Table 3 device types (via OMS Vol. 2). */
export const WMBUS_DEVICE_TYPES: Readonly<Record<WmbusMeterKind, number>> = { water: 0x07, heat: 0x04, gas: 0x03, hca: 0x08 }

export interface WmbusMeterOptions {
  readonly kind: WmbusMeterKind
  /** 8 decimal digits. */
  readonly id: string
  /** Three-letter FLAG id (default SIM). */
  readonly manufacturer?: string
  readonly version?: number
  /** OMS security mode (default 5; 7 sends ELL + AFL + TPL as OMS Vol. 2 profile B does). */
  readonly mode?: WmbusSecurityMode
  /** AES-128 meter key; required for modes 5 and 7. */
  readonly key?: Uint8Array
  /** Link-layer block CRCs: 'A' or 'B'; absent = frame without CRCs (as receivers deliver them). */
  readonly crc?: FrameFormat
  readonly seed: number
  readonly accessNumberStart?: number
  readonly messageCounterStart?: number
  /** Start value of the main register in its unit (m³ water/gas, kWh heat, units HCA). */
  readonly initialRegister?: number
}

/** What one telegram carried. */
export interface WmbusMeterValues {
  readonly at: Date
  readonly kind: WmbusMeterKind
  readonly accessNumber: number
  readonly messageCounter?: number
  /** Water/gas: volume m³; heat: energy Wh and volume m³; hca: units. As encoded (rounded to the register resolution). */
  readonly volumeM3?: number
  readonly energyWh?: number
  readonly powerW?: number
  readonly flowM3h?: number
  readonly flowTemperatureC?: number
  readonly returnTemperatureC?: number
  readonly hcaUnits?: number
  readonly date?: string
}

export interface WmbusEmission {
  readonly bytes: Uint8Array
  readonly values: WmbusMeterValues
}

export interface WmbusMeter {
  next(at: Date): WmbusEmission
}

const MAX_STEP_MS = 60_000

/**
 * A wireless M-Bus meter (water, heat, gas, heat cost allocator): integrates its consumption
 * model and emits one OMS telegram per call, access number (and in mode 7 the AFL message
 * counter) incremented each time.
 */
export function createWmbusMeter(options: WmbusMeterOptions): WmbusMeter {
  const mode = options.mode ?? 5
  if (!/^\d{8}$/.test(options.id)) throw new SimError('SIM_CONFIG', `meter id must be 8 decimal digits, got ${options.id}`)
  const manufacturer = options.manufacturer ?? 'SIM'
  if (!/^[A-Z]{3}$/.test(manufacturer)) throw new SimError('SIM_CONFIG', `manufacturer must be three letters A–Z, got ${manufacturer}`)
  if (mode !== 0 && options.key?.length !== 16) throw new SimError('SIM_KEY', `security mode ${mode} needs a 16-byte key`)
  if (!(options.kind in WMBUS_DEVICE_TYPES)) throw new SimError('SIM_CONFIG', `unknown meter kind: ${options.kind as string}`)
  const random = createRandom(options.seed)
  let accessNumber = (options.accessNumberStart ?? random.int(0, 255)) & 0xff
  let messageCounter = options.messageCounterStart ?? random.int(1, 10_000)
  // Register state: water/gas m³, heat Wh and m³, HCA units.
  let register = options.initialRegister ?? 0
  let heatVolume = 0
  let last: number | undefined
  const address = { manufacturer, id: options.id, version: options.version ?? 0x01, deviceType: WMBUS_DEVICE_TYPES[options.kind] }

  /** Rate of the main register per hour at an instant, and the matching instantaneous readings. */
  const rate = (at: Date, factor: number): { perHour: number; powerW: number; flowM3h: number } => {
    switch (options.kind) {
      case 'water': {
        const lph = waterFlowLph(at) * factor
        return { perHour: lph / 1000, powerW: 0, flowM3h: lph / 1000 }
      }
      case 'heat': {
        const w = heatDemandW(at) * factor
        const { flow, ret } = circuitTemperaturesC(w)
        // Volume flow from P = ρ·c·V̇·ΔT with water ≈ 1.163 Wh/(l·K).
        return { perHour: w, powerW: w, flowM3h: w / (1.163 * (flow - ret)) / 1000 }
      }
      case 'gas': {
        // Gas boiler: about 10 kWh per m³ (H-gas, Brennwert ≈ 11.1 kWh/m³, boiler efficiency ≈ 0.9).
        const w = heatDemandW(at) * factor
        return { perHour: w / 10_000, powerW: w, flowM3h: w / 10_000 }
      }
      case 'hca':
        // Heat cost allocator: one unit per 100 Wh of radiator output (a scale, as set per radiator).
        return { perHour: (heatDemandW(at) * factor * 0.6) / 100, powerW: 0, flowM3h: 0 }
    }
  }

  return {
    next(at) {
      const ms = at.getTime()
      if (!Number.isFinite(ms)) throw new SimError('SIM_TIME', 'invalid instant')
      if (last !== undefined && ms < last) throw new SimError('SIM_TIME', `time went backwards: ${at.toISOString()}`)
      const factor = 0.8 + random.next() * 0.4
      if (last !== undefined) {
        const steps = Math.max(1, Math.ceil((ms - last) / MAX_STEP_MS))
        const dt = (ms - last) / steps
        for (let i = 0; i < steps; i++) {
          const r = rate(new Date(last + (i + 0.5) * dt), factor)
          register += (r.perHour * dt) / 3_600_000
          heatVolume += (r.flowM3h * dt) / 3_600_000
        }
      }
      last = ms
      accessNumber = (accessNumber + 1) & 0xff
      const now = rate(at, factor)
      const t = toLegalTime(at)
      const date = `${t.year}-${String(t.month).padStart(2, '0')}-${String(t.day).padStart(2, '0')}`
      // EN 13757-3:2018 Annex A type G date: day 1–5, month 8–11, year bits 5–7 (low) and 12–15 (high).
      const yy = t.year % 100
      const typeG = t.day | ((yy & 0x07) << 5) | (t.month << 8) | ((yy >> 3) << 12)
      const records: DataRecordInput[] = []
      let values: WmbusMeterValues
      switch (options.kind) {
        case 'water': {
          const litres = Math.floor(register * 1000)
          const lph = Math.round(now.flowM3h * 1000)
          records.push(
            { coding: 'bcd8', vif: Uint8Array.of(0x13), raw: litres }, // VIF 13h: volume 10⁻³ m³
            { coding: 'bcd6', vif: Uint8Array.of(0x3b), raw: lph }, // VIF 3Bh: volume flow 10⁻³ m³/h
            { coding: 'int16', vif: Uint8Array.of(0x6c), raw: typeG }, // VIF 6Ch: date type G
          )
          values = { at, kind: 'water', accessNumber, volumeM3: litres / 1000, flowM3h: lph / 1000, date }
          break
        }
        case 'heat': {
          const kwh = Math.floor(register / 1000)
          const vol = Math.floor(heatVolume * 100)
          const w = Math.round(now.powerW)
          const { flow, ret } = circuitTemperaturesC(now.powerW)
          const flowT = Math.round(flow * 10)
          const retT = Math.round(ret * 10)
          const lph = Math.round(now.flowM3h * 1000)
          records.push(
            { coding: 'bcd8', vif: Uint8Array.of(0x06), raw: kwh }, // VIF 06h: energy 10³ Wh
            { coding: 'bcd8', vif: Uint8Array.of(0x14), raw: vol }, // VIF 14h: volume 10⁻² m³
            { coding: 'bcd6', vif: Uint8Array.of(0x2b), raw: w }, // VIF 2Bh: power W
            { coding: 'bcd6', vif: Uint8Array.of(0x3b), raw: lph }, // VIF 3Bh: volume flow 10⁻³ m³/h
            { coding: 'bcd4', vif: Uint8Array.of(0x5a), raw: flowT }, // VIF 5Ah: flow temperature 10⁻¹ °C
            { coding: 'bcd4', vif: Uint8Array.of(0x5e), raw: retT }, // VIF 5Eh: return temperature 10⁻¹ °C
            { coding: 'int16', vif: Uint8Array.of(0x6c), raw: typeG },
          )
          values = { at, kind: 'heat', accessNumber, energyWh: kwh * 1000, volumeM3: vol / 100, powerW: w, flowM3h: lph / 1000, flowTemperatureC: flowT / 10, returnTemperatureC: retT / 10, date }
          break
        }
        case 'gas': {
          const litres = Math.floor(register * 1000)
          records.push(
            { coding: 'bcd8', vif: Uint8Array.of(0x13), raw: litres },
            { coding: 'int16', vif: Uint8Array.of(0x6c), raw: typeG },
          )
          values = { at, kind: 'gas', accessNumber, volumeM3: litres / 1000, date }
          break
        }
        case 'hca': {
          const units = Math.floor(register)
          records.push(
            { coding: 'bcd6', vif: Uint8Array.of(0x6e), raw: units }, // VIF 6Eh: units for H.C.A.
            { coding: 'int16', vif: Uint8Array.of(0x6c), raw: typeG },
          )
          values = { at, kind: 'hca', accessNumber, hcaUnits: units, date }
          break
        }
      }
      let input: WirelessTelegramInput = {
        address,
        tpl: { kind: 'short', accessNumber },
        records,
        ...(options.crc ? { crc: options.crc } : {}),
        ...(options.key ? { key: options.key } : {}),
      }
      if (mode === 5) input = { ...input, security: { mode: 5 } }
      if (mode === 7) {
        messageCounter = (messageCounter + 1) >>> 0
        // OMS Vol. 2 Issue 4 security profile B: ELL (CI 8Ch) + AFL with MCR and 8-byte CMAC + TPL mode 7.
        input = { ...input, ell: { accessNumber }, security: { mode: 7, messageCounter } }
        values = { ...values, messageCounter }
      }
      try {
        return { bytes: encodeWirelessTelegram(input), values }
      } catch (err) {
        throw new SimError('SIM_ENCODE', `M-Bus encoder refused the telegram: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
      }
    },
  }
}
