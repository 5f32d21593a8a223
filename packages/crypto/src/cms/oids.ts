// Object identifiers, named as in the RFC that defines them, with the arc in a comment.

/** RFC 5652 §4: { iso(1) member-body(2) us(840) rsadsi(113549) pkcs(1) pkcs7(7) 1 } */
export const id_data = '1.2.840.113549.1.7.1'
/** RFC 5652 §5.1: pkcs7 2 */
export const id_signedData = '1.2.840.113549.1.7.2'
/** RFC 5652 §6.1: pkcs7 3 */
export const id_envelopedData = '1.2.840.113549.1.7.3'
/** RFC 5083 §1: { ... pkcs-9(9) smime(16) ct(1) 23 } */
export const id_ct_authEnvelopedData = '1.2.840.113549.1.9.16.1.23'
/** RFC 5652 §11.1: pkcs-9 3 */
export const id_contentType = '1.2.840.113549.1.9.3'
/** RFC 5652 §11.2: pkcs-9 4 */
export const id_messageDigest = '1.2.840.113549.1.9.4'
/** RFC 5652 §11.3: pkcs-9 5 */
export const id_signingTime = '1.2.840.113549.1.9.5'

/** RFC 3565 §4.1 / NIST: { joint-iso-itu-t(2) country(16) us(840) organization(1) gov(101) csor(3) nistAlgorithms(4) aes(1) } */
export const id_aes128_CBC = '2.16.840.1.101.3.4.1.2'
export const id_aes256_CBC = '2.16.840.1.101.3.4.1.42'
/** RFC 3565 §2.3.2: aes 5 / aes 45 */
export const id_aes128_wrap = '2.16.840.1.101.3.4.1.5'
export const id_aes192_wrap = '2.16.840.1.101.3.4.1.25'
export const id_aes256_wrap = '2.16.840.1.101.3.4.1.45'
/** RFC 5084 §3.2: aes 6 / aes 46 */
export const id_aes128_GCM = '2.16.840.1.101.3.4.1.6'
export const id_aes256_GCM = '2.16.840.1.101.3.4.1.46'

/** RFC 5753 §7.1.4: { iso(1) identified-organization(3) certicom(132) schemes(1) 11 n } */
export const dhSinglePass_stdDH_sha256kdf_scheme = '1.3.132.1.11.1'
export const dhSinglePass_stdDH_sha384kdf_scheme = '1.3.132.1.11.2'
export const dhSinglePass_stdDH_sha512kdf_scheme = '1.3.132.1.11.3'
/** RFC 5753 §7.1.4: certicom schemes 14 n (cofactor ECDH; identical for the cofactor-1 curves we allow) */
export const dhSinglePass_cofactorDH_sha256kdf_scheme = '1.3.132.1.14.1'
export const dhSinglePass_cofactorDH_sha384kdf_scheme = '1.3.132.1.14.2'
export const dhSinglePass_cofactorDH_sha512kdf_scheme = '1.3.132.1.14.3'
