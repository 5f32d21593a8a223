import { translate, type Language } from './i18n.js'
import { formatTime, purposeLabel } from './format.js'

/*
 * The consumer log as a readable timeline: one entry of GET /api/v1/log in words. The entry
 * types are the gateway's ConsumerLogEntry (packages/gateway/src/log/entries.ts); a type the
 * page does not know yet is still shown, with its fields, never dropped (principle 7).
 */

export interface LogEntry {
  readonly seq: number
  readonly time: string
  readonly type: string
  readonly fields: Readonly<Record<string, unknown>>
}

export type TimelineKind = 'sent' | 'processed' | 'deleted' | 'viewed' | 'changed' | 'consent' | 'request' | 'other'

export interface TimelineItem {
  readonly seq: number
  readonly kind: TimelineKind
  readonly when: string
  readonly title: string
  readonly detail: string
  /** Short facts shown as badges, e.g. 'signed and encrypted' for every data flow. */
  readonly badges: readonly string[]
}

const str = (value: unknown): string =>
  typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : ''

export function describeLogEntry(entry: LogEntry, lang: Language): TimelineItem {
  const f = entry.fields
  const base = { seq: entry.seq, when: formatTime(entry.time, lang) }
  const purpose = purposeLabel(str(f['purpose']))
  const dataClass = str(f['dataClass'])
  const text = str(f['text'])
  switch (entry.type) {
    case 'data-sent':
      return { ...base, kind: 'sent', title: translate(lang, 'log.sent.title', { recipient: str(f['recipient']) }),
        detail: translate(lang, 'log.sent.detail', { purpose, dataClass, text }), badges: [translate(lang, 'log.sent.secure')] }
    case 'data-processed':
      return { ...base, kind: 'processed', title: translate(lang, 'log.processed.title'),
        detail: translate(lang, 'log.processed.detail', { purpose, dataClass, text }), badges: [] }
    case 'data-deleted':
      return { ...base, kind: 'deleted', title: translate(lang, 'log.deleted.title', { count: str(f['count']) }),
        detail: translate(lang, 'log.deleted.detail', { dataClass, text }), badges: [] }
    case 'data-viewed':
      return { ...base, kind: 'viewed', title: translate(lang, 'log.viewed.title'),
        detail: translate(lang, 'log.viewed.detail', { interface: str(f['interface']).toUpperCase(), text }), badges: [] }
    case 'profile-changed':
      return { ...base, kind: 'changed', title: translate(lang, 'log.profile.title'),
        detail: translate(lang, 'log.profile.detail', { purpose, text }), badges: [] }
    case 'consent-changed':
      return { ...base, kind: 'consent', title: translate(lang, f['granted'] === true ? 'log.consent.granted' : 'log.consent.withdrawn', { purpose: str(f['purpose']) }),
        detail: text, badges: [] }
    case 'request-received':
      return { ...base, kind: 'request', title: translate(lang, 'log.request.title', { kind: requestKindWord(str(f['kind']), lang) }), detail: text, badges: [] }
    case 'request-forwarded':
      return { ...base, kind: 'request', title: translate(lang, 'log.forwarded.title', { kind: requestKindWord(str(f['kind']), lang) }), detail: text, badges: [] }
    case 'request-answered': {
      // The note is the administrator's own words; the rest is said in the page's language.
      const state = str(f['state'])
      const stateKey = ANSWER_STATES.find((s) => s === state)
      const note = str(f['note'])
      return {
        ...base, kind: 'request',
        title: translate(lang, 'log.answered.title', { kind: requestKindWord(str(f['kind']), lang), state: stateKey === undefined ? state : translate(lang, `state.${stateKey}`) }),
        detail: note !== '' ? translate(lang, 'log.answered.note', { note }) : stateKey === undefined ? text : translate(lang, `state.explain.${stateKey}`),
        badges: [],
      }
    }
    default:
      return { ...base, kind: 'other', title: translate(lang, 'log.other.title', { type: entry.type }),
        detail: Object.entries(f).map(([k, v]) => `${k}: ${str(v)}`).join('; '), badges: [] }
  }
}

const REQUEST_KINDS = ['deletion', 'rectification', 'objection', 'tariff-choice'] as const
const ANSWER_STATES = ['in-progress', 'done', 'rejected'] as const

function requestKindWord(kind: string, lang: Language): string {
  const key = REQUEST_KINDS.find((k) => k === kind)
  return key === undefined ? kind : translate(lang, `rights.kind.${key}`)
}

/** The log entry types the filter offers (the consumer log's types). */
export const LOG_TYPES = ['data-sent', 'data-processed', 'data-deleted', 'data-viewed', 'profile-changed', 'consent-changed', 'request-received', 'request-forwarded', 'request-answered'] as const
