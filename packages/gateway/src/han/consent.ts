import type { Store } from '../store/types.js'
import { consumersOfProfile, type TafUseCase, type TariffProfile } from '../taf/profile.js'

/*
 * Legal basis per tariff use case (principle 1: nothing leaves the gateway without a
 * reason the consumer can see). The mapping and why:
 *
 *  - taf10 'legal-obligation': grid-status values for the grid operator's system
 *    responsibility (MsbG §56, §66(1) no. 6 and EnWG §11/§14: the operator must keep the grid
 *    stable); the consumer cannot opt out, so it is not withdrawable.
 *  - taf1 'contract': the billing-period register reading the supply contract is billed
 *    from (MsbG §60(3), GDPR Art. 6(1)(b)); without it there is no bill; not withdrawable.
 *  - every other use case 'consent' (GDPR Art. 6(1)(a), MsbG §70): tariff registers (taf2),
 *    daily values kept for retrieval (taf6), load profiles (taf7), actual values on request
 *    (taf9) and for flexibility (taf14) reveal behaviour at a finer grain than billing needs,
 *    so they rest on the consumer's consent and stop the moment it is withdrawn.
 *
 * A consent-based profile set up by the administrator counts as consented (the consent is
 * collected with the supply contract); the HAN records withdrawals and renewed consent.
 */
export type LegalBasis = 'legal-obligation' | 'contract' | 'consent'

export const LEGAL_BASIS: Readonly<Record<TafUseCase, LegalBasis>> = {
  taf1: 'contract', taf2: 'consent', taf6: 'consent', taf7: 'consent', taf9: 'consent', taf10: 'legal-obligation', taf14: 'consent',
}

/**
 * Whether a profile may send now: always for a basis other than consent; otherwise unless
 * one of its consumers withdrew consent (the TAF service's `consentGranted`).
 */
export function isConsentGranted(store: Store, profile: TariffProfile, consumerOf: ReadonlyMap<string, string>): boolean {
  if (LEGAL_BASIS[profile.useCase] !== 'consent') return true
  if (store.schemaVersion < 4) return true
  return consumersOfProfile(profile, consumerOf).every((c) => store.han.consents(c).find((r) => r.purpose === profile.id)?.granted !== false)
}
