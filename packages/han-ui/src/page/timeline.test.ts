import { describe, expect, it } from 'vitest'
import { describeLogEntry } from './timeline.js'

const time = '2026-11-23T23:01:00.000Z'

describe('describeLogEntry', () => {
  it('words a delivery: recipient, use case, which values, when, signed and encrypted', () => {
    const item = describeLogEntry({ seq: 7, time, type: 'data-sent', fields: { recipient: 'emt-1', purpose: 'taf7', dataClass: 'load-profile', text: '96 Wh values of 23 Nov 2026 for TAF 7 (load profile)' } }, 'en')
    expect(item).toEqual({
      seq: 7, kind: 'sent', when: '24/11/2026, 00:01', title: 'Sent to emt-1',
      detail: 'For TAF 7 (load-profile): 96 Wh values of 23 Nov 2026 for TAF 7 (load profile)',
      badges: ['signed and encrypted'],
    })
    expect(describeLogEntry({ seq: 7, time, type: 'data-sent', fields: { recipient: 'emt-1', purpose: 'taf7', dataClass: 'x', text: 'y' } }, 'de').badges).toEqual(['signiert und verschlüsselt'])
  })

  it('words processing, deletion, viewing and changes of use', () => {
    expect(describeLogEntry({ seq: 1, time, type: 'data-processed', fields: { purpose: 'taf10', dataClass: 'grid-status', text: 'computed' } }, 'de'))
      .toMatchObject({ kind: 'processed', title: 'Im Gateway verarbeitet', detail: 'Für TAF 10 (grid-status): computed', badges: [] })
    expect(describeLogEntry({ seq: 2, time, type: 'data-deleted', fields: { dataClass: 'readings', count: 96, text: 'retention' } }, 'en'))
      .toMatchObject({ kind: 'deleted', title: '96 records deleted', detail: 'readings: retention' })
    expect(describeLogEntry({ seq: 3, time, type: 'data-viewed', fields: { interface: 'han', text: 'log export' } }, 'en'))
      .toMatchObject({ kind: 'viewed', detail: 'Over the HAN interface: log export' })
    expect(describeLogEntry({ seq: 4, time, type: 'profile-changed', fields: { purpose: 'taf9', text: 'consent withdrawn' } }, 'en'))
      .toMatchObject({ kind: 'changed', title: 'Use changed', detail: 'TAF 9: consent withdrawn' })
  })

  it('words consent changes and requests made on the HAN', () => {
    expect(describeLogEntry({ seq: 8, time, type: 'consent-changed', fields: { purpose: 'taf7-a', granted: false, text: 'Consent withdrawn on the HAN.' } }, 'en'))
      .toMatchObject({ kind: 'consent', title: 'Consent withdrawn for taf7-a', detail: 'Consent withdrawn on the HAN.' })
    expect(describeLogEntry({ seq: 9, time, type: 'consent-changed', fields: { purpose: 'taf7-a', granted: true, text: 'x' } }, 'de').title).toBe('Einwilligung erteilt für taf7-a')
    expect(describeLogEntry({ seq: 10, time, type: 'request-received', fields: { kind: 'deletion', request: 3, text: 'Your deletion request 3 was received.' } }, 'de'))
      .toMatchObject({ kind: 'request', title: 'Anliegen eingegangen: Löschung', detail: 'Your deletion request 3 was received.' })
    expect(describeLogEntry({ seq: 11, time, type: 'request-received', fields: { kind: 'tariff-choice', request: 4, text: 't' } }, 'en').title).toBe('Request received: Tariff choice')
  })

  it('words the administrator\'s side of a request: passed on, answered with its state and note (the note word for word)', () => {
    expect(describeLogEntry({ seq: 12, time, type: 'request-forwarded', fields: { kind: 'deletion', request: 3, text: 'Your deletion request (request 3) was passed on to the gateway administrator.' } }, 'de'))
      .toMatchObject({ kind: 'request', title: 'Anliegen weitergegeben: Löschung', detail: 'Your deletion request (request 3) was passed on to the gateway administrator.' })
    const answered = { seq: 13, time, type: 'request-answered', fields: { kind: 'objection', request: 5, state: 'rejected', note: 'TAF 1 rests on your supply contract.', text: 'The gateway administrator answered your objection (request 5): rejected. Note: TAF 1 rests on your supply contract.' } }
    expect(describeLogEntry(answered, 'en')).toMatchObject({ kind: 'request', title: 'Request answered: Objection — rejected', detail: 'Answer of the gateway administrator: TAF 1 rests on your supply contract.' })
    expect(describeLogEntry(answered, 'de')).toMatchObject({ title: 'Anliegen beantwortet: Widerspruch — abgelehnt', detail: 'Antwort des Gateway-Administrators: TAF 1 rests on your supply contract.' })
    // Without a note the state is explained in the page's language.
    expect(describeLogEntry({ seq: 14, time, type: 'request-answered', fields: { kind: 'tariff-choice', request: 6, state: 'in-progress', note: '', text: 'x' } }, 'de'))
      .toMatchObject({ title: 'Anliegen beantwortet: Tarifwahl — in Bearbeitung', detail: 'Der Gateway-Administrator bearbeitet es.' })
  })

  it('shows an entry type it does not know with all its fields, never drops it', () => {
    expect(describeLogEntry({ seq: 5, time, type: 'meter-swapped', fields: { meterId: 'm-1', ok: false } }, 'en'))
      .toMatchObject({ kind: 'other', title: 'meter-swapped', detail: 'meterId: m-1; ok: false' })
  })
})
