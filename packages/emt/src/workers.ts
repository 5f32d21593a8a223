import cluster, { type Worker } from 'node:cluster'
import { fileURLToPath } from 'node:url'
import type { EmtConfig } from './config.js'
import { EmtError } from './errors.js'

/*
 * The primary side of a multi-process receiver (node:cluster). Workers run worker.ts with
 * tsx (no build step: each worker compiles the sources on load, which is its start-up cost)
 * and share one listening socket, each accepting from it (SCHED_NONE), so the TLS handshakes,
 * CMS checks and commits of different gateways run on different cores. Each worker has its own store connection: SQLite in WAL mode tolerates
 * several writer processes (each worker's group commit takes the write lock with
 * BEGIN IMMEDIATE, the others wait up to busy_timeout); PostgreSQL is multi-writer anyway.
 */

export const WORKER_CONFIG_ENV = 'SMGW_EMT_WORKER_CONFIG'
export const WORKER_LOG_LEVEL_ENV = 'SMGW_EMT_WORKER_LOG_LEVEL'

/** Primary → worker. `start` answers `ready` (secrets travel over the IPC channel, not the environment). */
export type WorkerMessage =
  | { readonly type: 'start'; readonly ticketKeys?: string }
  | { readonly type: 'reload-crls'; readonly id: number }
  | { readonly type: 'close' }
/** Worker → primary. */
export type WorkerReport =
  | { readonly type: 'ready' }
  | { readonly type: 'listening'; readonly port: number }
  | { readonly type: 'failed'; readonly error: string }
  | { readonly type: 'crls-reloaded'; readonly id: number; readonly error?: string }

export interface WorkerPool {
  /** The shared gateway port. */
  readonly port: number
  reloadCrls(): Promise<void>
  close(): Promise<void>
}

/** How long a worker may take to start (tsx compiles the sources in each worker). */
const START_TIMEOUT_MS = 120_000
const CLOSE_TIMEOUT_MS = 10_000

/**
 * Forks `config.workers` receiver workers and resolves once every one listens on the shared
 * port. `ticketKeys` (TLS session tickets) go to every worker, so that any worker resumes a
 * session another one started (the cluster hands connections round robin).
 */
export async function startWorkerPool(config: EmtConfig, logLevel: string, ticketKeys: Uint8Array | undefined, onExit: (pid: number | undefined, code: number | null) => void): Promise<WorkerPool> {
  if (!cluster.isPrimary) throw new EmtError('EMT_START_FAILED', 'receiver workers cannot start workers')
  // The workers accept from the shared socket themselves instead of the primary handing each
  // connection over IPC (round robin): 8–15 % less CPU per message in four alternating bench wan
  // runs (README "Performance"). node's own NODE_CLUSTER_SCHED_POLICY=rr still chooses round
  // robin (the tests do, to reach both workers for certain). Read by node at the first fork.
  if (process.env.NODE_CLUSTER_SCHED_POLICY === undefined) cluster.schedulingPolicy = cluster.SCHED_NONE
  cluster.setupPrimary({
    exec: fileURLToPath(new URL('./worker.ts', import.meta.url)),
    execArgv: ['--import', import.meta.resolve('tsx')],
    args: [],
  })
  const env = {
    [WORKER_CONFIG_ENV]: JSON.stringify({ ...config, workers: 1, api: undefined }),
    [WORKER_LOG_LEVEL_ENV]: logLevel,
    TSX_TSCONFIG_PATH: fileURLToPath(new URL('../../../tsconfig.json', import.meta.url)),
  }
  const workers: Worker[] = []
  let closing = false
  const close = async (): Promise<void> => {
    closing = true
    await Promise.all(workers.map((w) => new Promise<void>((resolve) => {
      if (w.isDead()) { resolve(); return }
      const timer = setTimeout(() => { w.process.kill('SIGKILL') }, CLOSE_TIMEOUT_MS)
      w.once('exit', () => { clearTimeout(timer); resolve() })
      try {
        w.send({ type: 'close' } satisfies WorkerMessage)
      } catch {
        w.process.kill('SIGTERM')
      }
    })))
  }
  try {
    const ports = await Promise.all(Array.from({ length: config.workers }, () => new Promise<number>((resolve, reject) => {
      const w = cluster.fork(env)
      workers.push(w)
      const timer = setTimeout(() => { reject(new Error(`a worker did not start within ${String(START_TIMEOUT_MS / 1000)} s`)) }, START_TIMEOUT_MS)
      const onMessage = (m: WorkerReport) => {
        if (m.type === 'ready') w.send({ type: 'start', ...(ticketKeys === undefined ? {} : { ticketKeys: Buffer.from(ticketKeys).toString('base64') }) } satisfies WorkerMessage)
        if (m.type === 'listening') { clearTimeout(timer); resolve(m.port) }
        if (m.type === 'failed') { clearTimeout(timer); reject(new Error(m.error)) }
      }
      w.on('message', onMessage)
      w.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`a worker exited (${String(code)})`))
      })
    })))
    // A worker that dies later is not replaced: the cluster hands connections to the others; the owner is told.
    for (const w of workers) w.once('exit', (code) => { if (!closing) onExit(w.process.pid, code) })
    const port = ports[0] ?? 0
    if (ports.some((p) => p !== port)) throw new Error(`workers listen on different ports: ${ports.join(', ')}`)
    let nextId = 0
    return {
      port,
      reloadCrls: async () => {
        if (closing) throw new EmtError('EMT_START_FAILED', 'the receiver is closed')
        const id = ++nextId
        await Promise.all(workers.map((w) => new Promise<void>((resolve, reject) => {
          const onMessage = (m: WorkerReport) => {
            if (m.type !== 'crls-reloaded' || m.id !== id) return
            w.off('message', onMessage)
            if (m.error === undefined) resolve()
            else reject(new EmtError('EMT_CONFIG_INVALID', `a worker could not reload the CRLs: ${m.error}`))
          }
          w.on('message', onMessage)
          w.send({ type: 'reload-crls', id } satisfies WorkerMessage)
        })))
      },
      close,
    }
  } catch (err) {
    await close()
    throw new EmtError('EMT_START_FAILED', `receiver workers did not start: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
}
