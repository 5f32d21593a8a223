import process from 'node:process'
import { pino } from 'pino'
import { EmtConfig } from './config.js'
import { createEmtReceiver } from './receiver.js'
import { WORKER_CONFIG_ENV, WORKER_LOG_LEVEL_ENV, type WorkerMessage, type WorkerReport } from './workers.js'

/*
 * A gateway-facing worker of `createEmtReceiver` with `workers` > 1 (node:cluster): the
 * receiver without the REST API, listening on the primary's shared socket. It reports its
 * port once listening, reloads CRLs and closes on the primary's messages.
 */
const send = (report: WorkerReport) => { process.send?.(report) }
const config = EmtConfig.parse({ ...(JSON.parse(process.env[WORKER_CONFIG_ENV] ?? '{}') as object), workers: 1, api: undefined })
const logger = pino({ level: process.env[WORKER_LOG_LEVEL_ENV] ?? 'info', base: { component: 'smgw-emt', worker: process.pid } }, pino.destination(2))
const receiver = createEmtReceiver(config, { logger })
process.on('message', (m: WorkerMessage) => {
  if (m.type === 'reload-crls') {
    receiver.reloadCrls().then(() => { send({ type: 'crls-reloaded', id: m.id }) }, (err: unknown) => { send({ type: 'crls-reloaded', id: m.id, error: String(err) }) })
  } else {
    void receiver.close().finally(() => { process.exit(0) })
  }
})
receiver.start().then(() => { send({ type: 'listening', port: receiver.ports().gateway }) }, (err: unknown) => {
  send({ type: 'failed', error: err instanceof Error ? err.message : String(err) })
  process.exit(1)
})
