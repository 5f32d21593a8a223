import { ReportedRequest, type AdminCommand } from '@smgw/admin-protocol'
import type { Logger } from 'pino'
import { GatewayError, isGatewayError } from '../errors.js'
import { ConsumerLogEntry } from '../log/entries.js'
import type { HanRequestKind, HanRequestRow } from '../store/han.js'
import { MAX_REPORTED_REQUESTS } from '../store/han.js'
import { messageOf } from '../store/store.js'
import type { Store } from '../store/types.js'

/*
 * The consumers' requests on their way to the administrator and back (docs/admin-protocol.md:
 * the report's `requests`, the `answer-request` command). GDPR Art. 16, 17 and 21 requests and
 * tariff choices are made on the HAN page; the gateway cannot carry them out itself, so each
 * travels in the admin report until the GWA answers it. Every step is written to the log of
 * the consumer it belongs to, and only to that one (PP-0073 consumer log; principle 7).
 */

export type AnswerRequestCommand = Extract<AdminCommand, { type: 'answer-request' }>

export interface ConsumerRequestsDeps {
  /** The HAN tables (schema 6). */
  readonly store: Pick<Store, 'han'>
  /** Appends to one consumer's log; resolves after the commit. */
  readonly consumerLog: (consumer: string, entry: ConsumerLogEntry) => Promise<unknown>
  /** Legal time. */
  readonly now: () => Date
  readonly logger?: Logger
}

export interface ConsumerRequests {
  /** The report's `requests`: the open requests of every consumer, oldest first, at most 256. */
  reported(): ReportedRequest[]
  /**
   * The GWA accepted a report (HTTP 200): of its requests, those still `received` become
   * `pending`, each with a `request-forwarded` entry in its consumer's log. Never rejects
   * (a failure is logged; the requests are reported again at the next session).
   */
  forwarded(requests: readonly ReportedRequest[]): Promise<void>
  /**
   * The `answer-request` handler: sets state and note, writes `request-answered` to the
   * consumer's log → `{requestId, state}`. REQUEST_UNKNOWN, REQUEST_CLOSED.
   */
  answer(command: AnswerRequestCommand): Promise<{ requestId: number; state: string }>
}

/** The request in the words of the consumer-log text. */
const KIND_WORDS: Readonly<Record<HanRequestKind, string>> = {
  deletion: 'deletion request',
  rectification: 'rectification request',
  objection: 'objection',
  'tariff-choice': 'tariff choice',
}

const STATE_WORDS = { 'in-progress': 'being worked on', done: 'done', rejected: 'rejected' } as const

export function createConsumerRequests(deps: ConsumerRequestsDeps): ConsumerRequests {
  const log = deps.logger?.child({ component: 'admin-requests' })
  const han = deps.store.han

  return {
    reported() {
      const out: ReportedRequest[] = []
      for (const r of han.openRequests(MAX_REPORTED_REQUESTS)) {
        const item = { id: r.id, consumer: r.consumer, kind: r.kind, state: r.state, createdAt: r.createdAt.toISOString(), text: r.text }
        // A row the report's schema refuses (an edited store) would make the whole report
        // invalid and stop every session: it is left out and said so, and stays in the store.
        const checked = ReportedRequest.safeParse(item)
        if (checked.success) out.push(checked.data)
        else log?.error({ request: r.id, problem: checked.error.issues[0]?.message }, 'consumer request not reportable; left out of the report')
      }
      return out
    },

    async forwarded(requests) {
      let changed: HanRequestRow[]
      try {
        changed = han.markRequestsForwarded(requests.filter((r) => r.state === 'received').map((r) => r.id), deps.now())
      } catch (err) {
        log?.error({ err: messageOf(err) }, 'forwarded requests not marked; they are reported again')
        return
      }
      for (const r of changed) {
        try {
          await deps.consumerLog(r.consumer, {
            type: 'request-forwarded',
            fields: { kind: r.kind, request: r.id, text: `Your ${KIND_WORDS[r.kind]} (request ${String(r.id)}) was passed on to the gateway administrator.` },
          })
        } catch (err) {
          log?.error({ err: messageOf(err), request: r.id }, 'request-forwarded entry not written')
        }
      }
    },

    async answer(c) {
      const at = deps.now()
      const row = han.answerRequest(c.requestId, { state: c.state, note: c.note, at })
      const text = `The gateway administrator answered your ${KIND_WORDS[row.kind]} (request ${String(row.id)}): ${STATE_WORDS[c.state]}.${c.note === '' ? '' : ` Note: ${c.note}`}`
      try {
        await deps.consumerLog(row.consumer, { type: 'request-answered', fields: { kind: row.kind, request: row.id, state: c.state, note: c.note, text } })
      } catch (err) {
        // The answer is stored (the consumer's page shows it); the GWA learns, with the log's own code, that the entry is missing.
        throw new GatewayError(isGatewayError(err) ? err.code : 'STORE_WRITE_FAILED', `request ${String(row.id)} is ${c.state}, but its consumer-log entry was not written: ${messageOf(err)}`, { cause: err })
      }
      return { requestId: row.id, state: row.state }
    },
  }
}
