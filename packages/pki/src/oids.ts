/** Object identifiers, named as in the standard that defines them; the arc in a comment. */

// RFC 5480 §2.1.1: id-ecPublicKey { iso(1) member-body(2) us(840) ansi-X9-62(10045) keyType(2) 1 }
export const id_ecPublicKey = '1.2.840.10045.2.1'
// RFC 5758 §3.2: ecdsa-with-SHA256/384/512 { ... ansi-X9-62(10045) signatures(4) ecdsa-with-SHA2(3) 2/3/4 }
export const ecdsa_with_SHA256 = '1.2.840.10045.4.3.2'
export const ecdsa_with_SHA384 = '1.2.840.10045.4.3.3'
export const ecdsa_with_SHA512 = '1.2.840.10045.4.3.4'

// RFC 5280 §4.2.1: id-ce { joint-iso-ccitt(2) ds(5) 29 }
export const id_ce_subjectKeyIdentifier = '2.5.29.14'
export const id_ce_keyUsage = '2.5.29.15'
export const id_ce_subjectAltName = '2.5.29.17'
export const id_ce_issuerAltName = '2.5.29.18'
export const id_ce_basicConstraints = '2.5.29.19'
export const id_ce_cRLNumber = '2.5.29.20'
export const id_ce_cRLReasons = '2.5.29.21'
export const id_ce_invalidityDate = '2.5.29.24'
export const id_ce_nameConstraints = '2.5.29.30'
export const id_ce_cRLDistributionPoints = '2.5.29.31'
export const id_ce_certificatePolicies = '2.5.29.32'
export const id_ce_policyConstraints = '2.5.29.36'
export const id_ce_authorityKeyIdentifier = '2.5.29.35'
export const id_ce_extKeyUsage = '2.5.29.37'
export const id_ce_inhibitAnyPolicy = '2.5.29.54'
// RFC 5280 §4.2.2.1: id-pe-authorityInfoAccess { id-pe 1 }
export const id_pe_authorityInfoAccess = '1.3.6.1.5.5.7.1.1'

// RFC 5280 §4.2.1.12: id-kp { id-pkix 3 }
export const id_kp_serverAuth = '1.3.6.1.5.5.7.3.1'
export const id_kp_clientAuth = '1.3.6.1.5.5.7.3.2'
export const anyExtendedKeyUsage = '2.5.29.37.0'

// RFC 4519 / X.520 attribute types { joint-iso-ccitt(2) ds(5) attributeType(4) n }
export const id_at_commonName = '2.5.4.3'
export const id_at_serialNumber = '2.5.4.5'
export const id_at_countryName = '2.5.4.6'
export const id_at_localityName = '2.5.4.7'
export const id_at_organizationName = '2.5.4.10'
export const id_at_organizationalUnitName = '2.5.4.11'

// RFC 2985 §5.4.2: pkcs-9-at-extensionRequest { pkcs-9 14 }
export const id_pkcs9_at_extensionRequest = '1.2.840.113549.1.9.14'

// RFC 5652 §4: id-data { pkcs-7 1 }, the eContentType of a renewal request (renewal.ts)
export const id_data = '1.2.840.113549.1.7.1'
