import { createHash, type KeyObject } from 'node:crypto'
import type { HashName } from '@smgw/crypto'
import { importPublicKey, signatureAlgorithmByOid, verifyWithKey } from './algorithms.js'
import { decodeCertificate, type DecodedCertificate } from './certificate.js'
import { decodeCrl, type DecodedCrl } from './crl.js'
import { bytesEqual } from './der.js'
import {
  anyExtendedKeyUsage, id_ce_authorityKeyIdentifier, id_ce_basicConstraints, id_ce_certificatePolicies,
  id_ce_cRLDistributionPoints, id_ce_cRLNumber, id_ce_extKeyUsage, id_ce_inhibitAnyPolicy, id_ce_issuerAltName,
  id_ce_keyUsage, id_ce_nameConstraints, id_ce_policyConstraints, id_ce_subjectAltName, id_ce_subjectKeyIdentifier,
  id_kp_clientAuth, id_kp_serverAuth, id_pe_authorityInfoAccess,
} from './oids.js'

/** What the leaf certificate is checked for. */
export type ValidationPurpose = 'tls-client' | 'tls-server' | 'sig' | 'enc' | 'ca'

export const VALIDATION_PURPOSES: readonly ValidationPurpose[] = ['tls-client', 'tls-server', 'sig', 'enc', 'ca']

/** Why a path was rejected; each rule has its own code (listed in the README). */
export type ValidationReason =
  | 'MALFORMED' // the leaf does not decode
  | 'PROFILE' // decodes, but breaks an RFC 5280 profile rule (version, serial, criticality, AKI/SKI, empty names)
  | 'NO_PATH' // no chain to a configured root (or the path-building budget ran out)
  | 'BAD_SIGNATURE'
  | 'EXPIRED'
  | 'NOT_YET_VALID'
  | 'REVOKED'
  | 'CRL_MISSING' // requireCrl and no CRL of the issuer
  | 'CRL_EXPIRED' // the issuer's CRL is past nextUpdate (or has none)
  | 'CRL_INVALID' // the issuer's CRL does not verify, is not yet valid or breaks the CRL profile
  | 'KEY_USAGE'
  | 'EKU'
  | 'NOT_CA'
  | 'LEAF_IS_CA' // a CA certificate presented as an end entity
  | 'PATH_LENGTH' // pathLenConstraint or maxIntermediates exceeded
  | 'ALGORITHM_NOT_ALLOWED'
  | 'CURVE_NOT_ALLOWED'
  | 'UNKNOWN_CRITICAL_EXTENSION'

export interface ValidatePathOptions {
  /** The end-entity certificate, DER. */
  readonly leaf: Uint8Array
  /** Untrusted certificates that may complete the chain, DER, any order. */
  readonly intermediates?: readonly Uint8Array[]
  /** Trust anchors, DER. Their own signature is not checked; everything else is. */
  readonly roots: readonly Uint8Array[]
  /** CRLs, DER. A CRL applies to the certificates issued by the CA whose name and key it carries. */
  readonly crls?: readonly Uint8Array[]
  /** The validation time; compared at one-second granularity (RFC 5280 §4.1.2.5 encodes seconds). */
  readonly at: Date
  readonly purpose: ValidationPurpose
  /** When true, every certificate below the root needs a CRL of its issuer (CRL_MISSING otherwise). Default false. */
  readonly requireCrl?: boolean
  /** Maximum number of intermediates not counting self-issued ones (default 8). */
  readonly maxIntermediates?: number
}

export type ValidationResult =
  | { readonly ok: true; readonly chain: readonly DecodedCertificate[] }
  | { readonly ok: false; readonly reason: ValidationReason; readonly detail: string; readonly chain: readonly DecodedCertificate[] }

type Failure = { readonly reason: ValidationReason; readonly detail: string }

interface ExtensionRule {
  /** We act on it, so it may be critical. */
  readonly processed: boolean
  /** RFC 5280 criticality requirement. */
  readonly criticality: 'must' | 'must-not' | 'any'
}

/** RFC 5280 §4.2: the extensions we know, whether we process them and what criticality the profile demands. */
const EXTENSION_RULES: ReadonlyMap<string, ExtensionRule> = new Map<string, ExtensionRule>([
  [id_ce_basicConstraints, { processed: true, criticality: 'any' }], // §4.2.1.9 (critical in CAs: checked below)
  [id_ce_keyUsage, { processed: true, criticality: 'any' }], // §4.2.1.3
  [id_ce_extKeyUsage, { processed: true, criticality: 'any' }], // §4.2.1.12
  [id_ce_subjectKeyIdentifier, { processed: true, criticality: 'must-not' }], // §4.2.1.2
  [id_ce_authorityKeyIdentifier, { processed: true, criticality: 'must-not' }], // §4.2.1.1
  [id_ce_cRLDistributionPoints, { processed: true, criticality: 'any' }], // §4.2.1.13 (informational here)
  [id_ce_subjectAltName, { processed: true, criticality: 'any' }], // §4.2.1.6 (no name matching in the SM-PKI)
  [id_ce_issuerAltName, { processed: true, criticality: 'any' }], // §4.2.1.7
  [id_pe_authorityInfoAccess, { processed: false, criticality: 'must-not' }], // §4.2.2.1
  [id_ce_certificatePolicies, { processed: false, criticality: 'any' }], // §4.2.1.4: not processed
  [id_ce_nameConstraints, { processed: false, criticality: 'must' }], // §4.2.1.10: not processed
  [id_ce_policyConstraints, { processed: false, criticality: 'must' }], // §4.2.1.11: not processed
  [id_ce_inhibitAnyPolicy, { processed: false, criticality: 'must' }], // §4.2.1.14: not processed
])

/** RFC 5280 §5.2: CRL extensions we process; any other critical one makes the CRL unusable. */
const CRL_EXTENSIONS: readonly string[] = [id_ce_authorityKeyIdentifier, id_ce_cRLNumber]

const DEFAULT_MAX_INTERMEDIATES = 8
/** Upper bound on issuer candidates tried while building paths (pathological inputs end here). */
const PATH_BUILDING_BUDGET = 256
const EMPTY_NAME = new Uint8Array([0x30, 0x00])

/** The trust material of a {@link PathValidator}: decoded once, when it is created. */
export interface PathValidatorConfig {
  /** Trust anchors, DER. Their own signature is not checked; everything else is. */
  readonly roots: readonly Uint8Array[]
  /** Untrusted certificates that may complete any chain, DER, any order. */
  readonly intermediates?: readonly Uint8Array[]
  /** CRLs, DER. A CRL applies to the certificates issued by the CA whose name and key it carries. */
  readonly crls?: readonly Uint8Array[]
  /** When true, every certificate below the root needs a CRL of its issuer (CRL_MISSING otherwise). Default false. */
  readonly requireCrl?: boolean
  /** Maximum number of intermediates not counting self-issued ones (default 8). */
  readonly maxIntermediates?: number
  /** How many presented (leaf and intermediate) certificates to remember decoded; default 256. */
  readonly maxCached?: number
  /**
   * Verified certificate signatures remembered beyond this validator (a service's store, so
   * that a restart or a CRL update does not verify every peer's certificate again). Consulted
   * before a certificate's signature is verified, told of each one that verified. Whoever can
   * write it can make a signature count as verified: keep it where the service keeps its own data.
   */
  readonly signatureMemo?: SignatureMemo
  /**
   * How many CA certificates of accepted paths to keep as candidate intermediates for later
   * calls (default 32): a resumed TLS session (RFC 5077) carries the peer's leaf but not the
   * chain it sent at the full handshake. Candidates are untrusted like any presented one.
   */
  readonly maxLearned?: number
}

/**
 * Certificate signatures known to verify, by {@link signatureMemoKey}. Only the signature is
 * remembered: validity, revocation and every rule are checked on every validation.
 */
export interface SignatureMemo {
  has(key: string): boolean
  /** The signature of a certificate valid until `notAfter` verified (after that date the entry is of no use). */
  add(key: string, notAfter: Date): void
}

/**
 * The memo key of "the certificate with exactly these DER bytes carries a valid signature by
 * this exact public key": SHA-256 over the certificate's length, its DER and the issuer's
 * SubjectPublicKeyInfo, base64url. A certificate re-issued or re-encoded, or another issuer
 * key, is another key.
 */
export function signatureMemoKey(certificateDer: Uint8Array, issuerPublicKey: Uint8Array): string {
  const length = Buffer.alloc(4)
  length.writeUInt32BE(certificateDer.length)
  return createHash('sha256').update(length).update(certificateDer).update(issuerPublicKey).digest('base64url')
}

/** What varies per validation: the certificate, what the peer sent with it, the time and the purpose. */
export interface PathValidationRequest {
  readonly leaf: Uint8Array
  /** Further untrusted certificates, e.g. what a TLS peer sent (DER, any order). */
  readonly intermediates?: readonly Uint8Array[]
  /** The validation time; compared at one-second granularity (RFC 5280 §4.1.2.5 encodes seconds). */
  readonly at: Date
  readonly purpose: ValidationPurpose
}

/** A path validator with its trust material prepared; `validate` has the semantics of {@link validatePath}. */
export interface PathValidator {
  validate(request: PathValidationRequest): ValidationResult
  /** The CA certificates learned from accepted paths (DER), e.g. for the validator that replaces this one after a CRL update. */
  learnedIntermediates(): readonly Uint8Array[]
}

/**
 * Validates a certificate path for an SM-PKI purpose (RFC 5280 §6 basic path validation,
 * restricted by the TR-03109-3/-4 profile; every deliberate difference is in the README).
 * Synchronous and pure: the time is an argument. Never throws for any input bytes.
 * One-shot form of {@link createPathValidator}.
 */
export function validatePath(o: ValidatePathOptions): ValidationResult {
  return createPathValidator({
    roots: o.roots, intermediates: o.intermediates ?? [], crls: o.crls ?? [],
    ...(o.requireCrl === undefined ? {} : { requireCrl: o.requireCrl }),
    ...(o.maxIntermediates === undefined ? {} : { maxIntermediates: o.maxIntermediates }),
  }).validate({ leaf: o.leaf, at: o.at, purpose: o.purpose })
}

/**
 * Prepares path validation against fixed trust material (a service creates one at start-up):
 * roots, configured intermediates and CRLs are decoded once; presented certificates (leaves
 * and intermediates) are decoded once per exact DER bytes (a bounded LRU map, `maxCached`); a
 * verified signature of a certificate (leaf or CA) or CRL is remembered for that decoded
 * certificate or CRL (its exact bytes) and the issuer certificate (its exact key), and issuer
 * keys are imported once; the CA certificates of accepted paths stay candidates (`maxLearned`).
 * Everything that depends on the time (validity of every certificate and CRL, revocation) and
 * every rule about the certificates is checked on every call. What is remembered belongs to
 * this validator only.
 */
export function createPathValidator(config: PathValidatorConfig): PathValidator {
  const maxCached = config.maxCached ?? 256
  const roots = decodeAll(config.roots)
  const configured = decodeAll(config.intermediates ?? [])
  let crlFailure: string | undefined
  const crls: DecodedCrl[] = []
  for (const der of config.crls ?? []) {
    try {
      crls.push(decodeCrl(der))
    } catch (err) {
      crlFailure ??= `a CRL does not decode: ${err instanceof Error ? err.message : String(err)}`
    }
  }
  const presented = boundedMap<DecodedCertificate | string>(maxCached)
  // Decoded objects are immutable and each stands for its exact bytes (decoded once, above and
  // in decodeOnce), so what was verified is remembered per object: a CA certificate or CRL
  // (its signed bytes and signature) with the issuer certificate (its key) that verified it.
  const verified = new WeakMap<object, WeakSet<DecodedCertificate>>()
  const keys = new WeakMap<DecodedCertificate, KeyObject | null>()
  const keyOf = (issuer: DecodedCertificate): KeyObject | undefined => {
    let key = keys.get(issuer)
    if (key === undefined) {
      key = importPublicKey(issuer.publicKey) ?? null
      keys.set(issuer, key)
    }
    return key ?? undefined
  }
  const check = (issuer: DecodedCertificate, hash: HashName, tbs: Uint8Array, signature: Uint8Array): boolean => {
    const key = keyOf(issuer)
    return key !== undefined && verifyWithKey(key, hash, tbs, signature)
  }
  const remembered = (signed: object, issuer: DecodedCertificate, run: () => boolean): boolean => {
    if (verified.get(signed)?.has(issuer) === true) return true
    const ok = run()
    if (ok) {
      const set = verified.get(signed) ?? new WeakSet<DecodedCertificate>()
      set.add(issuer)
      verified.set(signed, set)
    }
    return ok
  }
  const verifiers: Verifiers = {
    // Whether these exact bytes verify under that exact key never changes: a returning peer's
    // leaf (yesterday's gateway, its SIG certificate) costs no signature check while it is
    // remembered decoded (maxCached). Validity and revocation are not remembered.
    certificate: (child, issuer, hash) => remembered(child, issuer, () => {
      const memo = config.signatureMemo
      if (memo === undefined) return check(issuer, hash, child.tbs, child.signature)
      const key = signatureMemoKey(child.der, issuer.publicKey)
      if (memo.has(key)) return true
      const ok = check(issuer, hash, child.tbs, child.signature)
      if (ok) memo.add(key, child.notAfter)
      return ok
    }),
    crl: (crl, issuer, hash) => remembered(crl, issuer, () => check(issuer, hash, crl.tbs, crl.signature)),
  }
  const maxLearned = config.maxLearned ?? 32
  let learned: readonly DecodedCertificate[] = []
  const learn = (path: readonly DecodedCertificate[]): void => {
    const cas = path.slice(1).filter((c) => !learned.includes(c) && !configured.includes(c) && !roots.includes(c))
    if (cas.length > 0 && maxLearned > 0) learned = [...cas, ...learned].slice(0, maxLearned)
  }
  // Decoding is a pure function of the bytes: a certificate seen before (a returning peer's
  // leaf, the sub-CA it sends along) is not decoded again. Its signature and every rule are
  // still checked on every call.
  const decodeOnce = (der: Uint8Array): DecodedCertificate | string => {
    const id = bytesKey(der)
    const known = presented.get(id)
    if (known !== undefined) {
      // Least recently used first out: the sub-CA every client sends stays while new leaves pass through.
      presented.delete(id)
      presented.set(id, known)
      return known
    }
    let d: DecodedCertificate | string
    try {
      // A copy: the decoded certificate outlives the caller's buffer.
      d = decodeCertificate(der.slice())
    } catch (err) {
      d = err instanceof Error ? err.message : String(err)
    }
    presented.set(id, d)
    return d
  }
  // An undecodable candidate cannot be part of any path; leaving it out is the same as rejecting it.
  const decodePresented = (ders: readonly Uint8Array[]): DecodedCertificate[] => ders.map(decodeOnce).filter((d) => typeof d !== 'string')

  return {
    learnedIntermediates: () => learned.map((c) => c.der),
    validate(o) {
      const leaf = decodeOnce(o.leaf)
      if (typeof leaf === 'string') return { ok: false, reason: 'MALFORMED', detail: leaf, chain: [] }
      const at = Math.floor(o.at.getTime() / 1000) * 1000
      if (crlFailure !== undefined) return { ok: false, reason: 'CRL_INVALID', detail: crlFailure, chain: [leaf] }
      const extra = o.intermediates ?? []
      const known = learned.length === 0 ? configured : [...configured, ...learned]
      const intermediates = extra.length === 0 ? known : [...decodePresented(extra), ...known]
      const ctx: Context = {
        at, roots, intermediates, crls, purpose: o.purpose, requireCrl: config.requireCrl ?? false,
        maxIntermediates: config.maxIntermediates ?? DEFAULT_MAX_INTERMEDIATES, budget: PATH_BUILDING_BUDGET, best: undefined, verify: verifiers,
      }

      const own = checkCertificate(leaf, o.purpose === 'ca' ? 'ca' : 'leaf', at) ?? checkPurpose(leaf, o.purpose)
      if (own !== undefined) return { ok: false, ...own, chain: [leaf] }

      // A trust anchor validated for purpose 'ca' is its own path (its own checks passed above).
      if (o.purpose === 'ca' && roots.some((r) => bytesEqual(r.der, leaf.der))) return { ok: true, chain: [leaf] }
      const found = extend([leaf], ctx)
      if (found !== undefined) {
        learn(found)
        return { ok: true, chain: found }
      }
      const best = ctx.best ?? { failure: { reason: 'NO_PATH', detail: `no issuer found for ${leaf.issuer}` }, path: [leaf] }
      return { ok: false, ...best.failure, chain: best.path }
    },
  }
}

/** How signatures are checked: the validator's (remembering) verifiers. */
interface Verifiers {
  certificate(child: DecodedCertificate, issuer: DecodedCertificate, hash: HashName): boolean
  crl(crl: DecodedCrl, issuer: DecodedCertificate, hash: HashName): boolean
}

interface Context {
  readonly at: number
  readonly roots: readonly DecodedCertificate[]
  readonly intermediates: readonly DecodedCertificate[]
  readonly crls: readonly DecodedCrl[]
  readonly purpose: ValidationPurpose
  readonly requireCrl: boolean
  readonly maxIntermediates: number
  readonly verify: Verifiers
  budget: number
  best: { failure: Failure; path: readonly DecodedCertificate[] } | undefined
}

/** A Map that forgets its oldest entry when full (insertion order; callers re-insert on use for LRU); size 0 remembers nothing. */
function boundedMap<V>(max: number): Map<string, V> {
  const map = new Map<string, V>()
  const set = map.set.bind(map)
  map.set = (k, v) => {
    if (max <= 0) return map
    if (!map.has(k) && map.size >= max) {
      const oldest = map.keys().next()
      if (oldest.done !== true) map.delete(oldest.value)
    }
    return set(k, v)
  }
  return map
}

/** Exact bytes as a map key. */
function bytesKey(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1')
}

function decodeAll(ders: readonly Uint8Array[]): DecodedCertificate[] {
  const out: DecodedCertificate[] = []
  for (const der of ders) {
    try {
      out.push(decodeCertificate(der))
    } catch {
      // An undecodable candidate cannot be part of any path; leaving it out is the same as rejecting it.
    }
  }
  return out
}

/** Keeps the failure of the path that got furthest (the first one among equals). */
function record(ctx: Context, path: readonly DecodedCertificate[], failure: Failure): void {
  if (ctx.best === undefined || path.length > ctx.best.path.length) ctx.best = { failure, path }
}

/** Depth-first path building with backtracking; returns the first path that validates completely. */
function extend(path: readonly DecodedCertificate[], ctx: Context): DecodedCertificate[] | undefined {
  const child = path[path.length - 1]
  if (child === undefined) return undefined
  const isCandidate = (c: DecodedCertificate) =>
    bytesEqual(c.subjectDer, child.issuerDer)
    && !path.some((p) => bytesEqual(p.der, c.der))
    // RFC 5280 §4.2.1.1: AKI keyIdentifier names the issuer's SKI; a mismatch is another CA.
    && !(child.authorityKeyIdentifier !== undefined && c.subjectKeyIdentifier !== undefined && !bytesEqual(child.authorityKeyIdentifier, c.subjectKeyIdentifier))

  for (const root of ctx.roots.filter(isCandidate)) {
    if (--ctx.budget < 0) {
      record(ctx, path, { reason: 'NO_PATH', detail: 'path-building budget exhausted' })
      return undefined
    }
    const full = [...path, root]
    const failure = checkIssuer(path, root, 'root', ctx) ?? checkRevocation(full, ctx)
    if (failure === undefined) return full
    record(ctx, full, failure)
  }
  const candidates = ctx.intermediates.filter((c) => isCandidate(c) && !ctx.roots.some((r) => bytesEqual(r.der, c.der)))
  if (candidates.length === 0 && !ctx.roots.some(isCandidate)) record(ctx, path, { reason: 'NO_PATH', detail: `no issuer found for ${child.subject}` })
  for (const ica of candidates) {
    if (--ctx.budget < 0) {
      record(ctx, path, { reason: 'NO_PATH', detail: 'path-building budget exhausted' })
      return undefined
    }
    const next = [...path, ica]
    const logical = next.slice(1).filter((c) => !c.selfIssued).length
    if (logical > ctx.maxIntermediates) {
      record(ctx, next, { reason: 'PATH_LENGTH', detail: `more than ${String(ctx.maxIntermediates)} intermediates` })
      continue
    }
    const failure = checkIssuer(path, ica, 'intermediate', ctx)
    if (failure !== undefined) {
      record(ctx, next, failure)
      continue
    }
    const found = extend(next, ctx)
    if (found !== undefined) return found
    if (ctx.budget < 0) return undefined
  }
  return undefined
}

/** The checks for adding `issuer` above `path`: the issuer itself, the link signature and path length. */
function checkIssuer(path: readonly DecodedCertificate[], issuer: DecodedCertificate, role: 'intermediate' | 'root', ctx: Context): Failure | undefined {
  const own = checkCertificate(issuer, role === 'root' ? 'root' : 'ca', ctx.at)
  if (own !== undefined) return own
  const child = path[path.length - 1]
  if (child === undefined) return { reason: 'NO_PATH', detail: 'empty path' }
  const alg = signatureAlgorithmByOid(child.signatureAlgorithm)
  if (alg === undefined) return { reason: 'ALGORITHM_NOT_ALLOWED', detail: `signature algorithm ${child.signatureAlgorithm}` }
  if (!ctx.verify.certificate(child, issuer, alg.hash)) {
    return { reason: 'BAD_SIGNATURE', detail: `signature of ${child.subject} does not verify with the key of ${issuer.subject}` }
  }
  // RFC 5280 §4.2.1.9 / §6.1.4 (l)(m): pathLenConstraint counts the non-self-issued intermediates below.
  const below = path.slice(1).filter((c) => !c.selfIssued).length
  const limit = issuer.basicConstraints?.pathLength
  if (limit !== undefined && below > limit) {
    return { reason: 'PATH_LENGTH', detail: `${issuer.subject} allows ${String(limit)} intermediates below it, the path has ${String(below)}` }
  }
  return undefined
}

/**
 * Rules about one certificate, independent of its neighbours. `role`: `leaf` (an end entity),
 * `ca` (an intermediate, or a leaf validated for purpose 'ca'), `root` (a trust anchor).
 */
function checkCertificate(c: DecodedCertificate, role: 'leaf' | 'ca' | 'root', at: number): Failure | undefined {
  const profile = (detail: string): Failure => ({ reason: 'PROFILE', detail: `${c.subject}: ${detail}` })
  // RFC 5280 §4.1.2.1: extensions need v3; TR-03109-4 issues v3 only.
  if (c.version !== 3) return profile(`version ${String(c.version)} certificate`)
  // RFC 5280 §4.1.2.2: positive, at most 20 octets.
  if (c.serialNumber.length > 20) return profile('serial number longer than 20 octets')
  if (((c.serialNumber[0] ?? 0) & 0x80) !== 0) return profile('negative serial number')
  if (c.serialNumber.every((b) => b === 0)) return profile('serial number zero')
  // RFC 5280 §4.1.1.2: signatureAlgorithm MUST equal TBSCertificate.signature.
  if (c.signatureAlgorithm !== c.tbsSignatureAlgorithm) return profile('signatureAlgorithm differs from TBSCertificate.signature')
  // RFC 5280 §4.1.2.4 / §4.1.2.6: non-empty issuer; the SM-PKI names every subject.
  if (bytesEqual(c.issuerDer, EMPTY_NAME)) return profile('empty issuer name')
  // RFC 5280 §4.1.2.6 / §4.2.1.6: an empty subject only in an end entity with a critical subjectAltName.
  if (bytesEqual(c.subjectDer, EMPTY_NAME)) {
    if (role !== 'leaf') return profile('CA certificate with an empty subject')
    if (c.extensions.find((e) => e.oid === id_ce_subjectAltName)?.critical !== true) return profile('empty subject without a critical subjectAltName')
  }

  for (const e of c.extensions) {
    const rule = EXTENSION_RULES.get(e.oid)
    if (rule === undefined) {
      // RFC 5280 §4.2: a critical extension the validator does not recognise MUST reject the certificate.
      if (e.critical) return { reason: 'UNKNOWN_CRITICAL_EXTENSION', detail: `${c.subject}: critical extension ${e.oid}` }
      continue
    }
    if (rule.criticality === 'must' && !e.critical) return profile(`extension ${e.oid} must be critical`)
    if (rule.criticality === 'must-not' && e.critical) return profile(`extension ${e.oid} must not be critical`)
    if (!rule.processed && e.critical) return { reason: 'UNKNOWN_CRITICAL_EXTENSION', detail: `${c.subject}: critical extension ${e.oid} is not processed` }
  }
  // RFC 5280 §4.2.1.12: "one or more purposes".
  if (c.extendedKeyUsage?.length === 0) return profile('empty extKeyUsage')

  // TR-03109-3 v1.1 (allowed algorithms): ECDSA on brainpoolP256/384/512r1, P-256, P-384 only.
  if (c.publicKeyKind.kind === 'not-ec') return { reason: 'ALGORITHM_NOT_ALLOWED', detail: `${c.subject}: public key algorithm ${c.publicKeyKind.algorithmOid}` }
  if (c.publicKeyKind.kind === 'ec-curve-not-allowed') return { reason: 'CURVE_NOT_ALLOWED', detail: `${c.subject}: curve ${c.publicKeyKind.curveOid ?? '(explicit parameters)'}` }
  if (signatureAlgorithmByOid(c.signatureAlgorithm) === undefined) return { reason: 'ALGORITHM_NOT_ALLOWED', detail: `${c.subject}: signature algorithm ${c.signatureAlgorithm}` }
  if (c.signatureAlgorithmHasParameters) return profile('ECDSA AlgorithmIdentifier with parameters (RFC 5758 §3.2)')

  // RFC 5280 §4.1.2.5 and §6.1.3 (a)(2).
  if (c.notBefore.getTime() > at) return { reason: 'NOT_YET_VALID', detail: `${c.subject}: valid from ${c.notBefore.toISOString()}` }
  if (c.notAfter.getTime() < at) return { reason: 'EXPIRED', detail: `${c.subject}: expired ${c.notAfter.toISOString()}` }

  const ca = c.basicConstraints?.ca === true
  // RFC 5280 §4.2.1.3 / §4.2.1.9: keyCertSign only with cA.
  if (!ca && c.keyUsage?.includes('keyCertSign') === true) return { reason: 'KEY_USAGE', detail: `${c.subject}: keyCertSign without cA` }
  // RFC 5280 §4.2.1.1: AKI keyIdentifier in every certificate except self-signed ones; trust
  // anchors are inputs to path validation (§6.1.1 d), not certificates on the path, so exempt.
  if (role !== 'root' && !c.selfIssued && c.authorityKeyIdentifier === undefined) return profile('no authorityKeyIdentifier keyIdentifier')
  if (role === 'leaf') return undefined

  // RFC 5280 §6.1.4 (k): an issuer must be a CA; §4.2.1.9: critical in CA certificates.
  if (c.basicConstraints === undefined || !ca) return { reason: 'NOT_CA', detail: `${c.subject}: not a CA certificate` }
  if (!c.basicConstraints.critical) return profile('basicConstraints not critical in a CA certificate')
  // RFC 5280 §6.1.4 (n): if keyUsage is present, keyCertSign must be set.
  if (c.keyUsage !== undefined && !c.keyUsage.includes('keyCertSign')) return { reason: 'KEY_USAGE', detail: `${c.subject}: CA without keyCertSign` }
  // RFC 5280 §4.2.1.2: SKI MUST appear in CA certificates.
  if (c.subjectKeyIdentifier === undefined) return profile('CA certificate without subjectKeyIdentifier')
  return undefined
}

const TLS_EKU = new Set([id_kp_serverAuth, id_kp_clientAuth])

/** The leaf's key usage and EKU for the purpose (TR-03109-4 certificate profiles; see the README). */
function checkPurpose(c: DecodedCertificate, purpose: ValidationPurpose): Failure | undefined {
  if (purpose === 'ca') return undefined
  if (c.basicConstraints?.ca === true) return { reason: 'LEAF_IS_CA', detail: `${c.subject}: a CA certificate is not an end-entity certificate` }
  const ku = c.keyUsage
  if (ku === undefined) return { reason: 'KEY_USAGE', detail: `${c.subject}: no keyUsage (SM-PKI end-entity certificates carry one)` }
  const eku = c.extendedKeyUsage ?? []
  if (purpose === 'tls-client' || purpose === 'tls-server') {
    if (!ku.includes('digitalSignature')) return { reason: 'KEY_USAGE', detail: `${c.subject}: TLS needs digitalSignature` }
    const wanted = purpose === 'tls-server' ? id_kp_serverAuth : id_kp_clientAuth
    // anyExtendedKeyUsage is not accepted: SM-PKI TLS certificates name their purpose.
    if (eku.includes(anyExtendedKeyUsage)) return { reason: 'EKU', detail: `${c.subject}: anyExtendedKeyUsage in an end-entity certificate` }
    if (!eku.includes(wanted)) return { reason: 'EKU', detail: `${c.subject}: extKeyUsage lacks ${purpose === 'tls-server' ? 'serverAuth' : 'clientAuth'}` }
    return undefined
  }
  // SIG and ENC keys are not TLS keys: a TLS EKU marks a TLS certificate.
  if (eku.some((p) => TLS_EKU.has(p))) return { reason: 'EKU', detail: `${c.subject}: a TLS certificate used for ${purpose}` }
  if (purpose === 'sig' && !ku.includes('digitalSignature') && !ku.includes('nonRepudiation')) {
    return { reason: 'KEY_USAGE', detail: `${c.subject}: signing needs digitalSignature or nonRepudiation` }
  }
  if (purpose === 'enc' && !ku.includes('keyAgreement')) return { reason: 'KEY_USAGE', detail: `${c.subject}: encryption (ECDH) needs keyAgreement` }
  return undefined
}

/** RFC 5280 §6.3 (simplified: complete CRLs of the certificate issuer, no delta CRLs, no distribution-point scoping). */
function checkRevocation(path: readonly DecodedCertificate[], ctx: Context): Failure | undefined {
  for (let i = 0; i + 1 < path.length; i++) {
    const cert = path[i]
    const issuer = path[i + 1]
    if (cert === undefined || issuer === undefined) break
    const named = ctx.crls.filter((crl) => bytesEqual(crl.issuerDer, cert.issuerDer))
    const mine = named.filter((crl) => {
      const alg = signatureAlgorithmByOid(crl.signatureAlgorithm)
      return alg !== undefined && ctx.verify.crl(crl, issuer, alg.hash)
    })
    if (mine.length === 0) {
      if (named.length > 0) return { reason: 'CRL_INVALID', detail: `the CRL of ${issuer.subject} does not verify with its key` }
      if (ctx.requireCrl) return { reason: 'CRL_MISSING', detail: `no CRL of ${issuer.subject}` }
      continue
    }
    for (const crl of mine) {
      const failure = checkCrl(crl, issuer, ctx.at)
      if (failure !== undefined) return failure
      const entry = crl.revoked.find((r) => r.serialHex === cert.serialHex)
      if (entry !== undefined && entry.revocationDate.getTime() <= ctx.at) {
        return { reason: 'REVOKED', detail: `${cert.subject} (serial ${cert.serialHex}) revoked ${entry.revocationDate.toISOString()}, reason ${entry.reason ?? 'unspecified'}` }
      }
    }
  }
  return undefined
}

function checkCrl(crl: DecodedCrl, issuer: DecodedCertificate, at: number): Failure | undefined {
  const invalid = (detail: string): Failure => ({ reason: 'CRL_INVALID', detail: `CRL of ${issuer.subject}: ${detail}` })
  // RFC 5280 §6.3.3 (f): if the issuer has keyUsage, cRLSign must be set.
  if (issuer.keyUsage !== undefined && !issuer.keyUsage.includes('cRLSign')) return invalid('issuer lacks cRLSign')
  if (crl.signatureAlgorithm !== crl.tbsSignatureAlgorithm) return invalid('signatureAlgorithm differs from TBSCertList.signature')
  if (crl.version !== 2) return invalid('not a v2 CRL')
  for (const e of crl.extensions) if (e.critical && !CRL_EXTENSIONS.includes(e.oid)) return invalid(`critical CRL extension ${e.oid} (delta CRLs and issuing distribution points are not processed)`)
  if (crl.unknownCriticalEntryExtensions.length > 0) return invalid(`critical entry extension ${crl.unknownCriticalEntryExtensions.join(', ')}`)
  // RFC 5280 §5.2.3: conforming CRL issuers MUST include cRLNumber, marked non-critical.
  const num = crl.extensions.find((e) => e.oid === id_ce_cRLNumber)
  if (num === undefined || crl.crlNumber === undefined) return invalid('no cRLNumber')
  if (num.critical) return invalid('critical cRLNumber')
  if (crl.thisUpdate.getTime() > at) return invalid(`thisUpdate ${crl.thisUpdate.toISOString()} is after the validation time`)
  // RFC 5280 §5.1.2.5 / §6.3.3 (a)(2): nextUpdate must be present and not passed.
  if (crl.nextUpdate === undefined) return { reason: 'CRL_EXPIRED', detail: `CRL of ${issuer.subject}: no nextUpdate` }
  if (crl.nextUpdate.getTime() < at) return { reason: 'CRL_EXPIRED', detail: `CRL of ${issuer.subject}: nextUpdate ${crl.nextUpdate.toISOString()} passed` }
  return undefined
}
