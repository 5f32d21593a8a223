import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createLiveConnection, LIVE_BACKOFF, reconnectDelayMs, type LiveConnectionDeps, type LiveSource, type LiveStatus } from './live.js'

describe('reconnectDelayMs (the backoff schedule)', () => {
  it('doubles from 1 s up to the 30-s cap, each delay between half and all of its step', () => {
    const steps = [1, 2, 3, 4, 5, 6, 7, 8, 20]
    expect(steps.map((a) => reconnectDelayMs(a, () => 0))).toEqual([500, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000, 15_000])
    expect(steps.map((a) => reconnectDelayMs(a, () => 1))).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000])
    expect(reconnectDelayMs(3, () => 0.5)).toBe(3000)
    expect(reconnectDelayMs(2, () => 0, { firstMs: 100, capMs: 150 })).toBe(75)
  })

  it('never exceeds the cap, never falls below half the step, and never shrinks as attempts grow (any random value, even out of range)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 10_000 }), fc.double({ min: -1, max: 2, noNaN: true }), (attempt, r) => {
      const d = reconnectDelayMs(attempt, () => r)
      const step = Math.min(LIVE_BACKOFF.capMs, LIVE_BACKOFF.firstMs * 2 ** Math.min(attempt - 1, 30))
      expect(d).toBeGreaterThanOrEqual(step / 2)
      expect(d).toBeLessThanOrEqual(LIVE_BACKOFF.capMs)
      expect(reconnectDelayMs(attempt + 1, () => r)).toBeGreaterThanOrEqual(d)
    }))
  })

  it('refuses an attempt that is not a positive integer (RangeError)', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => reconnectDelayMs(bad, () => 0)).toThrow(RangeError)
  })
})

type Listener = (event: { readonly data?: unknown }) => void
interface FakeSource extends LiveSource { closed: boolean; emit(type: string, data?: string): void }

/** A world with hand-moved time, fake streams and a session check the test answers. */
function world(options: { random?: number } = {}) {
  let now = 0
  let timers: { at: number; fn: () => void }[] = []
  const sources: FakeSource[] = []
  const statuses: LiveStatus[] = []
  const readings: string[] = []
  let resyncs = 0
  const checks: { resolve: (go: boolean) => void; reject: (err: Error) => void }[] = []
  const deps: LiveConnectionDeps = {
    open: () => {
      const listeners = new Map<string, Listener[]>()
      const s: FakeSource = {
        closed: false,
        addEventListener: (type, l) => { listeners.set(type, [...(listeners.get(type) ?? []), l]) },
        close: () => { s.closed = true },
        emit: (type, data) => { for (const l of listeners.get(type) ?? []) l(data === undefined ? {} : { data }) },
      }
      sources.push(s)
      return s
    },
    check: () => new Promise((resolve, reject) => { checks.push({ resolve, reject }) }),
    setTimer: (ms, fn) => {
      const t = { at: now + ms, fn }
      timers.push(t)
      return () => { timers = timers.filter((x) => x !== t) }
    },
    random: () => options.random ?? 0,
    onStatus: (s) => { statuses.push(s) },
    onReading: (d) => { readings.push(d) },
    onResync: () => { resyncs++ },
  }
  const advance = (ms: number): void => {
    const until = now + ms
    for (;;) {
      const next = timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0]
      if (next === undefined) break
      timers = timers.filter((t) => t !== next)
      now = next.at
      next.fn()
    }
    now = until
  }
  const open = () => sources.filter((s) => !s.closed)
  return { deps, sources, statuses, readings, checks, advance, open, resyncs: () => resyncs, timers: () => timers.length }
}

/** Lets the promise callbacks of an answered check run. */
const settle = (): Promise<void> => new Promise((resolve) => { setTimeout(resolve, 0) })

describe('createLiveConnection', () => {
  it('connects, goes live, passes readings on; a drop closes the stream, waits the first delay, asks for the session, reopens one stream and fetches the values once', async () => {
    const w = world()
    const live = createLiveConnection(w.deps)
    live.start()
    live.start()
    expect(w.sources).toHaveLength(1)
    expect(w.statuses).toEqual([{ state: 'connecting', attempt: 0 }])
    w.sources[0]!.emit('open')
    w.sources[0]!.emit('reading', '{"meterId":"m"}')
    expect(w.readings).toEqual(['{"meterId":"m"}'])
    expect(w.statuses.at(-1)).toEqual({ state: 'live', attempt: 0 })

    w.sources[0]!.emit('error')
    expect(w.sources[0]!.closed).toBe(true)
    expect(w.statuses.at(-1)).toEqual({ state: 'reconnecting', attempt: 1, retryInMs: 500 })
    // A late event of the closed stream changes nothing.
    w.sources[0]!.emit('error')
    w.sources[0]!.emit('reading', 'late')
    expect(w.readings).toHaveLength(1)
    w.advance(499)
    expect(w.checks).toHaveLength(0)
    w.advance(1)
    expect(w.checks).toHaveLength(1)
    expect(w.sources).toHaveLength(1)
    w.checks[0]!.resolve(true)
    await settle()
    expect(w.sources).toHaveLength(2)
    expect(w.open()).toEqual([w.sources[1]])
    expect(w.resyncs()).toBe(0)
    w.sources[1]!.emit('open')
    expect(w.resyncs()).toBe(1)
    expect(w.statuses.at(-1)).toEqual({ state: 'live', attempt: 0 })
    w.sources[1]!.emit('reading', 'again')
    expect(w.readings).toEqual(['{"meterId":"m"}', 'again'])
    live.stop()
    expect(w.open()).toEqual([])
    expect(w.timers()).toBe(0)
  })

  it('while the gateway is unreachable the delays grow to the cap and no stream is opened; the first answer opens exactly one', async () => {
    const w = world({ random: 1 })
    const live = createLiveConnection(w.deps)
    live.start()
    w.sources[0]!.emit('error') // never live: the gateway was already down
    const delays: number[] = []
    for (let i = 0; i < 7; i++) {
      const s = w.statuses.at(-1)!
      expect(s.state).toBe('reconnecting')
      delays.push(s.retryInMs!)
      w.advance(s.retryInMs!)
      w.checks.at(-1)!.reject(new Error('Failed to fetch'))
      await settle()
      expect(w.sources).toHaveLength(1)
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000])
    w.advance(w.statuses.at(-1)!.retryInMs!)
    w.checks.at(-1)!.resolve(true)
    await settle()
    expect(w.sources).toHaveLength(2)
    w.sources[1]!.emit('open')
    expect(w.statuses.at(-1)).toEqual({ state: 'live', attempt: 0 })
    // Values committed while down are fetched, even though the page had never been live.
    expect(w.resyncs()).toBe(1)
    // After being live, the next drop starts again at the first delay.
    w.sources[1]!.emit('error')
    expect(w.statuses.at(-1)).toEqual({ state: 'reconnecting', attempt: 1, retryInMs: 1000 })
    live.stop()
  })

  it('a check that says no (session ended, view left) ends the live view: no stream, no timer', async () => {
    const w = world()
    const live = createLiveConnection(w.deps)
    live.start()
    w.sources[0]!.emit('open')
    w.sources[0]!.emit('error')
    w.advance(500)
    w.checks[0]!.resolve(false)
    await settle()
    expect(w.sources).toHaveLength(1)
    expect(live.hasStream()).toBe(false)
    expect(w.timers()).toBe(0)
  })

  it('stop() while a check is pending: its answer opens nothing', async () => {
    const w = world()
    const live = createLiveConnection(w.deps)
    live.start()
    w.sources[0]!.emit('error')
    w.advance(500)
    live.stop()
    w.checks[0]!.resolve(true)
    await settle()
    expect(w.sources).toHaveLength(1)
    expect(w.timers()).toBe(0)
  })

  it('the heartbeat the server announces detects a dead connection: 2.5 intervals without an event drop it; heartbeats and readings keep it', async () => {
    const w = world()
    const live = createLiveConnection(w.deps)
    live.start()
    const s = w.sources[0]!
    s.emit('open')
    s.emit('hello', '{"heartbeatMs":1000}')
    for (let i = 0; i < 5; i++) {
      w.advance(2000)
      s.emit(i % 2 === 0 ? 'heartbeat' : 'reading', '{}')
    }
    expect(s.closed).toBe(false)
    w.advance(2499)
    expect(s.closed).toBe(false)
    w.advance(1)
    expect(s.closed).toBe(true)
    expect(w.statuses.at(-1)).toMatchObject({ state: 'reconnecting', attempt: 1 })
    w.advance(500)
    w.checks[0]!.resolve(true)
    await settle()
    // The new stream has no watchdog until its own hello.
    w.sources[1]!.emit('open')
    w.advance(60_000)
    expect(w.sources[1]!.closed).toBe(false)
    live.stop()
  })

  it('a hello without a usable interval arms no watchdog (malformed, too small, not JSON)', () => {
    for (const data of ['{"heartbeatMs":5}', '{"heartbeatMs":"1000"}', 'not json', '{}']) {
      const w = world()
      const live = createLiveConnection(w.deps)
      live.start()
      w.sources[0]!.emit('open')
      w.sources[0]!.emit('hello', data)
      w.advance(3_600_000)
      expect(w.sources[0]!.closed, data).toBe(false)
      live.stop()
    }
  })
})
