export { LegalTimeError, isLegalTimeError } from './errors.js'
export type { LegalTimeErrorCode } from './errors.js'
export {
  SUMMER_TIME_RULES, legalOffset, toLegalTime, fromLegalTime, legalDayOf, formatLegalTime, parseLegalDay,
  startOfLegalDay, addLegalDays, startOfLegalMonth, addLegalMonths, legalIntervalEnds, legalDayHours,
} from './legal-time.js'
export type { LegalDateTime, FromLegalTimeOptions } from './legal-time.js'
export { easterSunday, nationalHolidays, isNationalHoliday } from './holidays.js'
export type { Holiday } from './holidays.js'
