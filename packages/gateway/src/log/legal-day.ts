/**
 * The legal day of an instant: the calendar date in German legal time (MEZ/MESZ;
 * EinhZeitG §4, 2008; Directive 2000/84/EC), as YYYY-MM-DD. Day heads of the logs are cut
 * at these boundaries. From @smgw/legal-time: computed from the rules, not from the host's
 * time-zone data.
 */
export { legalDayOf } from '@smgw/legal-time'
