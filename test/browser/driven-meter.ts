import { createSimulator, type Simulator } from '@smgw/sim'

// Test support: an SML meter for a real gateway whose clock the test drives, so that "a new
// reading" is one step and nothing waits on wall-clock time for the meter.

export interface DrivenSmlMeter {
  /** Not started yet: `start()` it, then point the gateway at `port()`. */
  readonly simulator: Simulator
  /** One meter file: the meter's clock moves on by its 2 s interval and the due timers fire. */
  readonly sendReading: () => void
}

/** An SML meter simulator listening on 127.0.0.1 (2 s interval, seed 8, no PV), its clock starting now. */
export function createDrivenSmlMeter(): DrivenSmlMeter {
  let now = Date.now()
  let timers: { at: number; fn: () => void }[] = []
  const simulator = createSimulator({ kind: 'sml', output: { kind: 'listen', host: '127.0.0.1', port: 0 }, intervalS: 2, meter: { seed: 8, pvPeakW: 0 } }, {
    now: () => new Date(now),
    setTimer: (ms, fn) => { const t = { at: now + ms, fn }; timers.push(t); return () => { timers = timers.filter((x) => x !== t) } },
  })
  return {
    simulator,
    sendReading: () => {
      now += 2000
      const due = timers.filter((t) => t.at <= now)
      timers = timers.filter((t) => t.at > now)
      for (const t of due) t.fn()
    },
  }
}
