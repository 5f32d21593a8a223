import { describe, expect, it } from 'vitest'
import { retentionRequest } from './retention.js'

describe('retentionRequest (MsbG: at the latest N years after the end of the year, legal time)', () => {
  const o = { retentionYears: 3, replayWindowDays: 30 }

  it('in 2026, periods that ended in 2022 or before go: up to 1 January 2023 00:00 German time', () => {
    const now = new Date('2026-11-30T12:00:00.000Z')
    expect(retentionRequest(now, o)).toEqual({
      periodEndAtOrBefore: new Date('2022-12-31T23:00:00.000Z'),
      createdBefore: new Date('2026-10-31T12:00:00.000Z'),
    })
  })

  it('the year turns at German midnight, not at UTC midnight', () => {
    // 31 December 2025, 23:30 UTC is already 1 January 2026 in Germany: 2022 is due.
    expect(retentionRequest(new Date('2025-12-31T23:30:00.000Z'), o).periodEndAtOrBefore).toEqual(new Date('2022-12-31T23:00:00.000Z'))
    // 22:59 UTC is 23:59 on 31 December 2025 in Germany: 2021 is due, 2022 not yet.
    expect(retentionRequest(new Date('2025-12-31T22:59:00.000Z'), o).periodEndAtOrBefore).toEqual(new Date('2021-12-31T23:00:00.000Z'))
  })

  it('a shorter retention moves the boundary; the replay window sets which rows stay', () => {
    const now = new Date('2026-07-01T10:00:00.000Z')
    expect(retentionRequest(now, { retentionYears: 1, replayWindowDays: 365 })).toEqual({
      periodEndAtOrBefore: new Date('2024-12-31T23:00:00.000Z'),
      createdBefore: new Date('2025-07-01T10:00:00.000Z'),
    })
  })
})
