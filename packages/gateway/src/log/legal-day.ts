import { legalDayOf as legalDayFromRules, isLegalTimeError } from '@smgw/legal-time'

/**
 * The legal day of an instant: the calendar date in German legal time (MEZ/MESZ;
 * EinhZeitG §4, 2008; Directive 2000/84/EC), as YYYY-MM-DD. Day heads of the logs are cut
 * at these boundaries. From @smgw/legal-time: computed from the rules, not from the host's
 * time-zone data.
 *
 * Never throws for a valid Date: the verifier reads times from files that may have been
 * edited, and an instant outside the rules' range (before 1980, after 9999) gets the date
 * at UTC+1 (MEZ, EinhZeitG §4(1)) instead of an error.
 */
export function legalDayOf(time: Date): string {
  try {
    return legalDayFromRules(time)
  } catch (err) {
    if (!isLegalTimeError(err) || err.code !== 'LEGAL_TIME_OUT_OF_RANGE') throw err
    const mez = new Date(time.getTime() + 3_600_000)
    return `${String(mez.getUTCFullYear()).padStart(4, '0')}-${String(mez.getUTCMonth() + 1).padStart(2, '0')}-${String(mez.getUTCDate()).padStart(2, '0')}`
  }
}
