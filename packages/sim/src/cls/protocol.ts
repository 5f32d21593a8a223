/*
 * The controllable device's line protocol (README "Controllable device"): one JSON object per
 * line (LF, a CR before it is ignored) in each direction, one answer line per command line.
 *
 *   {"cmd":"limit","kw":4.2}  → {"ok":true,"cmd":"limit","mode":"limited","limitKw":4.2,"powerKw":4.2}
 *   {"cmd":"release"}         → {"ok":true,"cmd":"release","mode":"normal","limitKw":null,"powerKw":9}
 *   {"cmd":"status"}          → {"ok":true,"cmd":"status","mode":…,"limitKw":…,"powerKw":…}
 *   anything else             → {"ok":false,"error":"MALFORMED"|"UNKNOWN_COMMAND"|"BELOW_MINIMUM"|"LINE_TOO_LONG","message":…}
 *
 * §14a EnWG (controllable consumer devices, BNetzA determination BK6-22-300, 2023): the grid
 * operator may reduce a device's grid draw, but never below the guaranteed minimum power of
 * 4.2 kW; a lower limit is refused (BELOW_MINIMUM). The same 4.2 kW is the safe limit the device
 * falls back to when its control channel is lost while a limit was active (service.ts).
 *
 * Pure: state and a line in, the answer and the next state out.
 */

export type ClsDeviceMode = 'normal' | 'limited' | 'fallback'

export interface ClsDeviceState {
  readonly mode: ClsDeviceMode
  /** The power limit in force, kW; null in normal mode. */
  readonly limitKw: number | null
}

export interface ClsDeviceRules {
  /** Power the device draws when not limited, kW. */
  readonly demandKw: number
  /** §14a EnWG guaranteed minimum: no limit below it is accepted; the fallback limit. */
  readonly safeLimitKw: number
}

export type ClsDeviceErrorCode = 'MALFORMED' | 'UNKNOWN_COMMAND' | 'BELOW_MINIMUM' | 'LINE_TOO_LONG'

export type ClsDeviceAnswer =
  | { readonly ok: true; readonly cmd: 'limit' | 'release' | 'status'; readonly mode: ClsDeviceMode; readonly limitKw: number | null; readonly powerKw: number }
  | { readonly ok: false; readonly error: ClsDeviceErrorCode; readonly message: string }

/** Largest accepted line, bytes (without the LF). */
export const CLS_DEVICE_MAX_LINE_BYTES = 1024
/** Highest limit accepted, kW (a household connection; keeps nonsense out). */
const MAX_LIMIT_KW = 1000

/** What the device draws now: its demand, capped by the limit in force. */
export function powerOf(state: ClsDeviceState, rules: ClsDeviceRules): number {
  return state.limitKw === null ? rules.demandKw : Math.min(rules.demandKw, state.limitKw)
}

/** Answers one command line; `next` is the state after it (unchanged for errors and `status`). */
export function answerCommand(state: ClsDeviceState, line: string, rules: ClsDeviceRules): { readonly answer: ClsDeviceAnswer; readonly next: ClsDeviceState } {
  const fail = (error: ClsDeviceErrorCode, message: string) => ({ answer: { ok: false as const, error, message }, next: state })
  let command: unknown
  try {
    command = JSON.parse(line)
  } catch {
    return fail('MALFORMED', 'not a JSON line')
  }
  if (typeof command !== 'object' || command === null || Array.isArray(command)) return fail('MALFORMED', 'not a JSON object')
  const { cmd, kw } = command as { cmd?: unknown; kw?: unknown }
  const ok = (c: 'limit' | 'release' | 'status', next: ClsDeviceState) => ({
    answer: { ok: true as const, cmd: c, mode: next.mode, limitKw: next.limitKw, powerKw: powerOf(next, rules) },
    next,
  })
  switch (cmd) {
    case 'status':
      return ok('status', state)
    case 'release':
      return ok('release', { mode: 'normal', limitKw: null })
    case 'limit': {
      if (typeof kw !== 'number' || !Number.isFinite(kw) || kw > MAX_LIMIT_KW) return fail('MALFORMED', `kw must be a number of kW up to ${MAX_LIMIT_KW}`)
      if (kw < rules.safeLimitKw) return fail('BELOW_MINIMUM', `§14a EnWG: at least ${rules.safeLimitKw} kW stay guaranteed; ${kw} kW is refused`)
      return ok('limit', { mode: 'limited', limitKw: kw })
    }
    default:
      return fail('UNKNOWN_COMMAND', 'cmd must be limit, release or status')
  }
}

/**
 * Splits a byte stream into lines (a push framer): `push` returns the complete lines and
 * whether the pending line grew beyond `maxLineBytes` (then the connection is to be dropped).
 */
export function createLineFramer(maxLineBytes = CLS_DEVICE_MAX_LINE_BYTES): { push(chunk: Uint8Array): { lines: string[]; overflow: boolean } } {
  let pending = Buffer.alloc(0)
  return {
    push(chunk) {
      pending = Buffer.concat([pending, chunk])
      const lines: string[] = []
      let nl: number
      while ((nl = pending.indexOf(0x0a)) >= 0) {
        if (nl > maxLineBytes + 1) return { lines, overflow: true }
        const line = pending.subarray(0, nl).toString('utf8')
        lines.push(line.endsWith('\r') ? line.slice(0, -1) : line)
        pending = pending.subarray(nl + 1)
      }
      return { lines, overflow: pending.length > maxLineBytes }
    },
  }
}
