import process from 'node:process'
import { pino } from 'pino'
import { EmtConfig } from './config.js'
import { createEmtReceiver } from './receiver.js'
import { WORKER_CONFIG_ENV, WORKER_LOG_LEVEL_ENV, type WorkerMessage, type WorkerReport } from './workers.js'

/*
 * A gateway-facing worker of `createEmtReceiver` with `workers` > 1 (node:cluster): the
 * receiver without the REST API, listening on the primary's shared socket. It says it is
 * ready, starts on the primary's `start` (which carries the shared TLS ticket keys), reports its
 * port once listening, reloads CRLs and closes on the primary's messages.
 */
const send = (report: WorkerReport) => { process.send?.(report) }
const config = EmtConfig.parse({ ...(JSON.parse(process.env[WORKER_CONFIG_ENV] ?? '{}') as object), workers: 1, api: undefined })
const logger = pino({ level: process.env[WORKER_LOG_LEVEL_ENV] ?? 'info', base: { component: 'smgw-emt', worker: process.pid } }, pino.destination(2))
let receiver: ReturnType<typeof createEmtReceiver> | undefined
const start = (ticketKeys: string | undefined): void => {
  const r = createEmtReceiver(config, { logger, ...(ticketKeys === undefined ? {} : { ticketKeys: new Uint8Array(Buffer.from(ticketKeys, 'base64')) }) })
  receiver = r
  r.start().then(() => { send({ type: 'listening', port: r.ports().gateway }) }, (err: unknown) => {
    send({ type: 'failed', error: err instanceof Error ? err.message : String(err) })
    process.exit(1)
  })
}
process.on('message', (m: WorkerMessage) => {
  if (m.type === 'start') {
    if (receiver === undefined) start(m.ticketKeys)
  } else if (receiver === undefined) {
    process.exit(0)
  } else if (m.type === 'reload-crls') {
    receiver.reloadCrls().then(() => { send({ type: 'crls-reloaded', id: m.id }) }, (err: unknown) => { send({ type: 'crls-reloaded', id: m.id, error: String(err) }) })
  } else {
    void receiver.close().finally(() => { process.exit(0) })
  }
})
send({ type: 'ready' })
