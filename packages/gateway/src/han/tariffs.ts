import type { TariffProfile } from '../taf/profile.js'

/** What a tariff profile does with the consumer's data, in plain words (the page's "who gets what" list). */
export function describeUseCase(p: TariffProfile): string {
  const to = p.recipients.map((r) => `${r.id} (${r.role.replace(/-/g, ' ')})`).join(', ')
  const meters = [...new Set(p.channels.map((c) => c.meterId))].join(', ')
  const pseudonym = p.recipients.some((r) => r.pseudonymise) ? ' under a pseudonym' : ''
  switch (p.useCase) {
    case 'taf1':
      return `The reading of meter ${meters} at the end of each ${p.schedule.billingPeriod === 'monthly' ? 'month' : 'year'} goes to ${to} for your bill.`
    case 'taf2':
      return `The readings of your tariff registers (${p.registers.names.join(', ')}) of meter ${meters} at the end of each ${p.schedule.billingPeriod === 'daily' ? 'day' : p.schedule.billingPeriod === 'monthly' ? 'month' : 'year'} go to ${to} for your time-of-use tariff.`
    case 'taf6':
      return `The reading of meter ${meters} at the end of each day stays in the gateway for 42 days; ${to} may fetch it on request.`
    case 'taf7': {
      const send = 'everyHours' in p.schedule.send ? `every ${p.schedule.send.everyHours} hour${p.schedule.send.everyHours === 1 ? '' : 's'}` : `daily at ${p.schedule.send.dailyAt}`
      return `The readings of meter ${meters} every ${p.schedule.periodSeconds / 60} minutes (load profile) go to ${to}${pseudonym}, sent ${send}.`
    }
    case 'taf9':
      return `Current values of meter ${meters} go to ${to}${pseudonym} when they ask for them.`
    case 'taf10':
      return `Grid-status values of meter ${meters} go to ${to}${pseudonym} every ${p.schedule.everySeconds} seconds to keep the grid stable.`
    case 'taf14':
      return `Current values of meter ${meters} go to ${to}${pseudonym} every ${p.schedule.everySeconds} seconds (flexibility, e.g. for your heat pump or wallbox).`
  }
}
