/**
 * The legal day of an instant: the calendar date in German legal time (MEZ/MESZ,
 * Europe/Berlin; Einheiten- und Zeitgesetz §4, 2008), as YYYY-MM-DD. Day heads of the
 * logs are cut at these boundaries. Pure: the instant is an argument; the time-zone
 * rules come from the ICU data of the runtime.
 */
const BERLIN = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Berlin', year: 'numeric', month: '2-digit', day: '2-digit' })

export function legalDayOf(time: Date): string {
  const parts = BERLIN.formatToParts(time)
  const part = (type: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === type)?.value ?? ''
  return `${part('year')}-${part('month')}-${part('day')}`
}
