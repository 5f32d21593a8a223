// Real `smgw` processes for the whole-system tests and bench/crash.ts: the gateway with its
// standard error parsed line by line (status lines and pino diagnostics are JSON), and a
// one-shot `smgw …` run. Node with the CLI's bin script, as a user runs it.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))
export const smgwBin = fileURLToPath(new URL('../../../packages/cli/bin/smgw.js', import.meta.url))

/** One acknowledgement of the gateway: readings firstId…lastId are committed (packages/gateway/README.md "Acknowledgement"). */
export interface GatewayAck {
  readonly count: number
  readonly firstId: number
  readonly lastId: number
}

export interface GatewayProcess {
  readonly pid: number | undefined
  /** Acknowledgements in the order the process wrote them. */
  readonly acks: readonly GatewayAck[]
  /** Every JSON line of standard error, in order (status lines have `event`, pino lines `level`). */
  readonly lines: readonly Record<string, unknown>[]
  /** Standard error lines that were not JSON (e.g. a crash before the logger exists). */
  readonly text: readonly string[]
  /** Resolves once `predicate` holds (checked on every line and at exit); rejects after `timeoutMs` or when the process ended first. */
  waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void>
  /** Called for each acknowledgement as its line arrives (before `waitFor` predicates run). */
  onAck(fn: (ack: GatewayAck) => void): void
  signal(signal: NodeJS.Signals): void
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

export interface GatewayProcessOptions {
  readonly keys?: string
  /** Extra `smgw gateway` arguments. */
  readonly args?: readonly string[]
}

/**
 * Starts `smgw gateway --config FILE --json --status-interval 0 --log-level debug`: status
 * lines and debug diagnostics (among them the acknowledgements) on standard error.
 */
export function startGatewayProcess(config: string, options: GatewayProcessOptions = {}): GatewayProcess {
  const args = [smgwBin, 'gateway', '--config', config, '--json', '--status-interval', '0', '--log-level', 'debug',
    ...(options.keys === undefined ? [] : ['--keys', options.keys]), ...(options.args ?? [])]
  const child: ChildProcess = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] })
  const acks: GatewayAck[] = []
  const lines: Record<string, unknown>[] = []
  const text: string[] = []
  const ackListeners: ((ack: GatewayAck) => void)[] = []
  const waiters = new Set<() => void>()
  let ended = false
  let rest = ''
  const wake = (): void => { for (const w of [...waiters]) w() }
  child.stderr?.on('data', (chunk: Buffer) => {
    rest += chunk.toString('utf8')
    let nl: number
    while ((nl = rest.indexOf('\n')) >= 0) {
      const line = rest.slice(0, nl)
      rest = rest.slice(nl + 1)
      let parsed: unknown
      try {
        parsed = JSON.parse(line)
      } catch {
        text.push(line)
        continue
      }
      if (typeof parsed !== 'object' || parsed === null) {
        text.push(line)
        continue
      }
      const record = parsed as Record<string, unknown>
      lines.push(record)
      const ack = ackOf(record)
      if (ack !== undefined) {
        acks.push(ack)
        for (const fn of ackListeners) fn(ack)
      }
    }
    wake()
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      ended = true
      wake()
      resolve({ code, signal })
    })
  })
  return {
    pid: child.pid,
    acks,
    lines,
    text,
    onAck(fn) { ackListeners.push(fn) },
    signal(signal) { child.kill(signal) },
    exited,
    waitFor(predicate, timeoutMs, what) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (predicate()) finish()
          else if (ended) finish(new Error(`gateway process ended before ${what}: ${[...text, ...lines.slice(-5).map((l) => JSON.stringify(l))].join('\n')}`))
        }
        const timer = setTimeout(() => { finish(new Error(`gateway process: no ${what} within ${timeoutMs} ms`)) }, timeoutMs)
        const finish = (err?: Error): void => {
          clearTimeout(timer)
          waiters.delete(check)
          if (err === undefined) resolve()
          else reject(err)
        }
        waiters.add(check)
        check()
      })
    },
  }
}

/** The acknowledgement line: `{"msg":"readings stored","count":…,"firstId":…,"lastId":…}`. */
export function ackOf(line: Readonly<Record<string, unknown>>): GatewayAck | undefined {
  if (line.msg !== 'readings stored') return undefined
  const { count, firstId, lastId } = line
  if (typeof count !== 'number' || typeof firstId !== 'number' || typeof lastId !== 'number') return undefined
  return { count, firstId, lastId }
}

/** The UDP ports from the gateway's `running` status line, once it has been written. */
export function udpPortsOf(gateway: GatewayProcess): number[] | undefined {
  const running = gateway.lines.find((l) => l.event === 'running')
  return running === undefined ? undefined : (running.ports as number[])
}

export interface SmgwRun {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `smgw ARGS…` to its end (bounded by `timeoutMs`, then SIGKILL). */
export function runSmgw(args: readonly string[], timeoutMs = 60_000): Promise<SmgwRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [smgwBin, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString('utf8') })
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString('utf8') })
    const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
    child.on('error', reject)
    child.on('close', (status) => {
      clearTimeout(timer)
      resolve({ status, stdout, stderr })
    })
  })
}

/** Any long-running `smgw …` process: standard output and standard error read line by line. */
export interface SmgwProcess {
  readonly pid: number | undefined
  /** Standard output lines, in order (JSON lines parsed into `json` as well). */
  readonly stdout: readonly string[]
  readonly stderr: readonly string[]
  /** Every line of either stream that parsed as a JSON object, in arrival order. */
  readonly json: readonly Record<string, unknown>[]
  /** Resolves once `predicate` holds (checked on every line and at exit); rejects after `timeoutMs` or when the process ended first. */
  waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void>
  signal(signal: NodeJS.Signals): void
  /** True until the process has exited. */
  running(): boolean
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

/** Starts `smgw ARGS…` (e.g. `emt serve`, `sim sml`, `sim ntp`) with both output streams read. */
export function startSmgwProcess(args: readonly string[], name = args.slice(0, 2).join(' ')): SmgwProcess {
  const child: ChildProcess = spawn(process.execPath, [smgwBin, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
  const stdout: string[] = []
  const stderr: string[] = []
  const json: Record<string, unknown>[] = []
  const waiters = new Set<() => void>()
  let ended = false
  const wake = (): void => { for (const w of [...waiters]) w() }
  const reader = (into: string[]) => {
    let rest = ''
    return (chunk: Buffer): void => {
      rest += chunk.toString('utf8')
      let nl: number
      while ((nl = rest.indexOf('\n')) >= 0) {
        const line = rest.slice(0, nl)
        rest = rest.slice(nl + 1)
        into.push(line)
        if (line.startsWith('{')) {
          try {
            const parsed: unknown = JSON.parse(line)
            if (typeof parsed === 'object' && parsed !== null) json.push(parsed as Record<string, unknown>)
          } catch { /* not JSON: kept as text */ }
        }
      }
      wake()
    }
  }
  child.stdout?.on('data', reader(stdout))
  child.stderr?.on('data', reader(stderr))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      ended = true
      wake()
      resolve({ code, signal })
    })
  })
  return {
    pid: child.pid,
    stdout,
    stderr,
    json,
    exited,
    running: () => !ended,
    signal(signal) { if (!ended) child.kill(signal) },
    waitFor(predicate, timeoutMs, what) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (predicate()) finish()
          else if (ended) finish(new Error(`${name} ended before ${what}: ${[...stdout, ...stderr].slice(-8).join('\n')}`))
        }
        const timer = setTimeout(() => { finish(new Error(`${name}: no ${what} within ${timeoutMs} ms`)) }, timeoutMs)
        const finish = (err?: Error): void => {
          clearTimeout(timer)
          waiters.delete(check)
          if (err === undefined) resolve()
          else reject(err)
        }
        waiters.add(check)
        check()
      })
    },
  }
}

/** The processes a test file started: `track` each as it starts, `killAll` in afterAll (SIGKILL, then every exit awaited). */
export interface ProcessTracker {
  readonly track: <P extends SmgwProcess | GatewayProcess>(p: P) => P
  readonly killAll: () => Promise<void>
}

export function createProcessTracker(): ProcessTracker {
  const running = new Set<SmgwProcess | GatewayProcess>()
  return {
    track: (p) => {
      running.add(p)
      void p.exited.then(() => { running.delete(p) })
      return p
    },
    killAll: async () => {
      const all = [...running]
      for (const p of all) p.signal('SIGKILL')
      await Promise.all(all.map((p) => p.exited))
    },
  }
}
