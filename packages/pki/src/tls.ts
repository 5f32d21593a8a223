import { constants, type KeyObject } from 'node:crypto'
import { basename, dirname } from 'node:path'
import * as tls from 'node:tls'
import { encodePem, type TlsPrivateKey } from '@smgw/crypto'
import { decodeSequence, requireSingleTlv } from './der.js'
import { PkiError } from './errors.js'
import { createPathValidator, type ValidationPurpose, type ValidationReason, type ValidationResult } from './validate.js'

/**
 * Which TR-03109-3 TLS profile: `wan` (gateway ↔ GWA/EMT, and the LMN) or `han`
 * (the consumer side, which may also use AES-256-GCM).
 */
export type TlsProfile = 'wan' | 'han'

/** TR-03109-3 v1.1, TLS 1.2 cipher suites, as OpenSSL names them. */
export const TLS_CIPHERS: Readonly<Record<TlsProfile, readonly string[]>> = {
  wan: ['ECDHE-ECDSA-AES128-SHA256', 'ECDHE-ECDSA-AES128-GCM-SHA256'],
  han: ['ECDHE-ECDSA-AES128-SHA256', 'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384'],
}
/** TR-03109-3 v1.1, the ECDHE groups allowed (OpenSSL names), in our default order: brainpool first, then NIST. */
export const TLS_CURVE_NAMES = ['brainpoolP256r1', 'brainpoolP384r1', 'brainpoolP512r1', 'prime256v1', 'secp384r1'] as const
export type TlsCurve = (typeof TLS_CURVE_NAMES)[number]
/** {@link TLS_CURVE_NAMES} as OpenSSL's colon-separated list (node's `ecdhCurve`). */
export const TLS_CURVES = TLS_CURVE_NAMES.join(':')
/** TLS 1.2 signature_algorithms (RFC 5246 §7.4.1.4.1): ECDSA with SHA-256/384/512 only. */
export const TLS_SIGALGS = 'ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512'
/** TR-03109-3 v1.1: a TLS session lasts at most 48 hours. */
export const TLS_SESSION_TIMEOUT_SECONDS = 48 * 3600

/**
 * A private key OpenSSL reaches through an engine (node:tls `privateKeyEngine` /
 * `privateKeyIdentifier`): the key of a PKCS#11 token through libp11, an RFC 7512 URI
 * (`tlsPrivateKey` of @smgw/crypto's PKCS#11 security module gives one).
 */
export interface TlsEngineKey {
  readonly kind: 'engine'
  /** The engine's shared library (e.g. …/engines-3/pkcs11.so). */
  readonly engine: string
  readonly identifier: string
}

export interface TlsIdentity {
  /** The private key: PEM (PKCS#8 or SEC1), a KeyObject, or a key behind an OpenSSL engine (a token's). */
  readonly key: string | KeyObject | TlsEngineKey
  /** Our certificate, DER. */
  readonly cert: Uint8Array
  /** Intermediates sent after our certificate, DER, leaf side first. */
  readonly chain?: readonly Uint8Array[]
}

export interface TlsTrust {
  readonly roots: readonly Uint8Array[]
  readonly crls?: readonly Uint8Array[]
  /** Extra untrusted intermediates for path building (besides what the peer sends). */
  readonly intermediates?: readonly Uint8Array[]
  readonly requireCrl?: boolean
}

export interface TlsContextConfig {
  readonly profile?: TlsProfile
  readonly identity: TlsIdentity
  readonly trust: TlsTrust
  /**
   * The ECDHE groups offered (client) or accepted (server, which picks the first of its list the
   * client offers: `honorCipherOrder`), each one TR-03109-3 allows; default {@link TLS_CURVE_NAMES}.
   * A server that lists prime256v1 first does the ephemeral key exchange of a full handshake on
   * P-256 with every client that offers it (OpenSSL has a fast P-256, and its brainpool is generic
   * code): the certificates and signatures stay brainpool.
   */
  readonly ecdhCurves?: readonly TlsCurve[]
  /**
   * How long a server keeps a TLS session resumable, counted by OpenSSL from the full handshake
   * (a resumption does not extend it): at most and by default {@link TLS_SESSION_TIMEOUT_SECONDS}
   * (TR-03109-3: 48 h). Shorter for an operator who wants it, or a test.
   */
  readonly sessionTimeoutSeconds?: number
}

export interface TlsContextDeps {
  /** The clock for certificate and CRL validity (default: the system clock). */
  readonly now?: () => Date
}

export interface TlsContext {
  /** Options for tls.createServer: mutual authentication, TLS 1.2 only, TR-03109-3 suites. */
  readonly serverOptions: tls.TlsOptions
  /** Options for tls.connect; `checkServerIdentity` runs our path validation ('tls-server'). */
  readonly clientOptions: tls.ConnectionOptions
  /** Validates the peer of an established socket with our rules. */
  verifyPeer(socket: tls.TLSSocket, purpose: 'tls-client' | 'tls-server'): ValidationResult
}

/**
 * The node:tls settings for a TR-03109-3 TLS 1.2 endpoint. Peers are checked twice: by
 * OpenSSL during the handshake (roots as `ca`, requestCert + rejectUnauthorized) and by
 * our path validation ({@link createPathValidator}, made once per context) after it (the client in checkServerIdentity, the server in
 * {@link createTlsServer}), so curve, algorithm, EKU and CRL rules are ours.
 */
export function createTlsContext(config: TlsContextConfig, deps: TlsContextDeps = {}): TlsContext {
  const now = deps.now ?? (() => new Date())
  if (config.trust.roots.length === 0) throw new PkiError('PKI_BAD_ARGUMENT', 'a TLS context needs at least one root')
  const profile = config.profile ?? 'wan'
  const sessionTimeout = config.sessionTimeoutSeconds ?? TLS_SESSION_TIMEOUT_SECONDS
  if (!Number.isInteger(sessionTimeout) || sessionTimeout < 1 || sessionTimeout > TLS_SESSION_TIMEOUT_SECONDS) {
    throw new PkiError('PKI_BAD_ARGUMENT', `sessionTimeoutSeconds: whole seconds from 1 to ${String(TLS_SESSION_TIMEOUT_SECONDS)} (48 h, TR-03109-3), not ${String(sessionTimeout)}`)
  }
  const curves = config.ecdhCurves ?? TLS_CURVE_NAMES
  const unknown = curves.filter((c) => !(TLS_CURVE_NAMES as readonly string[]).includes(c))
  if (curves.length === 0 || unknown.length > 0 || new Set(curves).size !== curves.length) {
    throw new PkiError('PKI_BAD_ARGUMENT', `ecdhCurves: one or more of ${TLS_CURVE_NAMES.join(', ')}, each once (TR-03109-3)${unknown.length > 0 ? `, not ${unknown.join(', ')}` : ''}`)
  }
  const common: tls.SecureContextOptions & tls.CommonConnectionOptions = {
    ...privateKeyOptions(config.identity.key),
    cert: [config.identity.cert, ...(config.identity.chain ?? [])].map((d) => encodePem('CERTIFICATE', d)).join(''),
    ca: config.trust.roots.map((d) => encodePem('CERTIFICATE', d)),
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.2',
    ciphers: TLS_CIPHERS[profile].join(':'),
    ecdhCurve: curves.join(':'),
    sigalgs: TLS_SIGALGS,
    // No renegotiation (OpenSSL refuses it in both directions), no compression.
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION | constants.SSL_OP_NO_COMPRESSION,
    rejectUnauthorized: true,
  }
  // Trust material decoded once; per handshake only the peer's leaf (and intermediates not seen before) is decoded.
  const validator = createPathValidator({
    roots: config.trust.roots, intermediates: config.trust.intermediates ?? [], crls: config.trust.crls ?? [],
    ...(config.trust.requireCrl === undefined ? {} : { requireCrl: config.trust.requireCrl }),
  })
  const verify = (leafAndChain: readonly Uint8Array[], purpose: ValidationPurpose): ValidationResult => {
    const [leaf, ...sent] = leafAndChain
    if (leaf === undefined) return { ok: false, reason: 'NO_PATH', detail: 'the peer sent no certificate', chain: [] }
    return validator.validate({ leaf, intermediates: sent, at: now(), purpose })
  }
  return {
    serverOptions: { ...common, requestCert: true, honorCipherOrder: true, sessionTimeout },
    clientOptions: {
      ...common,
      // Called by node after OpenSSL accepted the chain; an Error return destroys the socket.
      checkServerIdentity: (_host, cert) => {
        const result = verify(peerChainOf(cert), 'tls-server')
        return result.ok ? undefined : rejection(result, 'server')
      },
    },
    verifyPeer: (socket, purpose) => verify(peerChainOf(socket.getPeerCertificate(true)), purpose),
  }
}

/** A security module's key as TlsIdentity takes it (@smgw/crypto `tlsPrivateKey`). */
export function tlsIdentityKey(key: TlsPrivateKey): TlsIdentity['key'] {
  return key.kind === 'engine' ? key : key.key
}

/** node:tls options for our private key: in-process (PEM) or behind an OpenSSL engine. */
function privateKeyOptions(key: TlsIdentity['key']): Pick<tls.SecureContextOptions, 'key' | 'privateKeyEngine' | 'privateKeyIdentifier'> {
  if (typeof key === 'string') return { key }
  if (!('kind' in key)) return { key: key.export({ format: 'pem', type: 'pkcs8' }) }
  // OpenSSL finds an engine by its id in OPENSSL_ENGINES, once loaded from there. Given a path
  // instead, it tries the path as an id first, and libp11 prints "bad engine id" on every context.
  const folder = dirname(key.engine)
  const id = basename(key.engine).replace(/\.so$/, '')
  process.env.OPENSSL_ENGINES ??= folder
  return process.env.OPENSSL_ENGINES === folder
    ? { privateKeyEngine: id, privateKeyIdentifier: key.identifier }
    : { privateKeyEngine: key.engine, privateKeyIdentifier: key.identifier }
}

/** The DER chain node reports for a peer (leaf first), following issuerCertificate until it repeats. */
function peerChainOf(cert: tls.DetailedPeerCertificate | tls.PeerCertificate | undefined): Uint8Array[] {
  const out: Uint8Array[] = []
  let current = cert as tls.DetailedPeerCertificate | undefined
  while (current !== undefined && (current.raw as Buffer | undefined) !== undefined && out.length < 16) {
    const der = new Uint8Array(current.raw)
    if (out.some((o) => Buffer.from(o).equals(der))) break
    out.push(der)
    const next = current.issuerCertificate as tls.DetailedPeerCertificate | undefined
    if (next === current) break
    current = next
  }
  return out
}

function rejection(result: Extract<ValidationResult, { ok: false }>, who: 'client' | 'server'): PkiError {
  return new PkiError('PKI_TLS_PEER_REJECTED', `TLS ${who} rejected: ${result.reason} (${result.detail})`, { reason: result.reason })
}

/**
 * OpenSSL's verify codes (as node reports them in `err.code`) mapped to our reasons, so a
 * peer OpenSSL rejects during the handshake gets the same kind of typed reason.
 */
export const OPENSSL_VERIFY_REASONS: Readonly<Record<string, ValidationReason>> = {
  CERT_HAS_EXPIRED: 'EXPIRED',
  CERT_NOT_YET_VALID: 'NOT_YET_VALID',
  CERT_REVOKED: 'REVOKED',
  CERT_SIGNATURE_FAILURE: 'BAD_SIGNATURE',
  UNABLE_TO_GET_ISSUER_CERT: 'NO_PATH',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'NO_PATH',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'NO_PATH',
  SELF_SIGNED_CERT_IN_CHAIN: 'NO_PATH',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'NO_PATH',
  CERT_CHAIN_TOO_LONG: 'PATH_LENGTH',
  PATH_LENGTH_EXCEEDED: 'PATH_LENGTH',
  INVALID_CA: 'NOT_CA',
  INVALID_PURPOSE: 'EKU',
  UNHANDLED_CRITICAL_EXTENSION: 'UNKNOWN_CRITICAL_EXTENSION',
  CA_KEY_TOO_SMALL: 'ALGORITHM_NOT_ALLOWED',
  EE_KEY_TOO_SMALL: 'ALGORITHM_NOT_ALLOWED',
  // Handshake errors: a peer certificate on a curve outside our ECDHE groups (TLS 1.2, RFC 8422 §5.1).
  ERR_SSL_WRONG_CURVE: 'CURVE_NOT_ALLOWED',
}

/**
 * The peer's certificate (DER, a copy) as a TLS session records it, from node's
 * `TLSSocket.getSession()` — OpenSSL's SSL_SESSION ASN.1 (ssl/ssl_asn1.c: SEQUENCE { version,
 * ssl_version, cipher, session_id, master_key, …, peer [3] EXPLICIT Certificate OPTIONAL, … }),
 * unchanged since OpenSSL 0.9.8 and shared by BoringSSL. Undefined for anything not of that form
 * or without a peer, so a caller can always fall back to `getPeerX509Certificate()`. Why: that
 * call also copies every other certificate the peer sent (X509_dup, which decodes the key again:
 * 0.16 against 0.01 ms a handshake, measured), and a server that already knows the peer's CAs
 * needs the leaf only. The session bytes hold the master secret: the caller should zero them.
 */
export function peerCertificateOfSession(session: Uint8Array | undefined): Uint8Array | undefined {
  if (session === undefined) return undefined
  try {
    const peer = decodeSequence(session, 'TLS session').find((element) => element[0] === 0xa3)
    if (peer === undefined) return undefined
    const certificate = peer.subarray((peer[1] ?? 0) < 0x80 ? 2 : 2 + ((peer[1] ?? 0) & 0x7f))
    requireSingleTlv(certificate, 'TLS session peer')
    return certificate[0] === 0x30 ? new Uint8Array(certificate) : undefined
  } catch (err) {
    if (err instanceof PkiError) return undefined
    throw err
  }
}

/** Turns any error from a TLS socket into a PkiError: ours pass through, OpenSSL verify errors are mapped. */
export function toTlsRejection(err: unknown): PkiError {
  if (err instanceof PkiError) return err
  const code = (err as { code?: unknown } | null)?.code
  const reason = typeof code === 'string' ? OPENSSL_VERIFY_REASONS[code] : undefined
  return new PkiError('PKI_TLS_PEER_REJECTED', `TLS handshake failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err, ...(reason === undefined ? {} : { reason }) })
}

/** Connects with the context's client options; resolves once our validation accepted the server. */
export function connectTls(context: TlsContext, options: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ ...context.clientOptions, ...options })
    const onError = (err: unknown) => {
      socket.destroy()
      reject(toTlsRejection(err))
    }
    socket.once('error', onError)
    socket.once('secureConnect', () => {
      socket.off('error', onError)
      resolve(socket)
    })
  })
}

export interface TlsServerHandlers {
  /** A client that passed OpenSSL and our validation. */
  readonly onConnection: (socket: tls.TLSSocket, result: Extract<ValidationResult, { ok: true }>) => void
  /** A client rejected (by OpenSSL in the handshake, or by our validation after it). */
  readonly onReject?: (error: PkiError) => void
}

/**
 * A tls.Server with the context's server options that validates every client with our
 * rules ('tls-client') before handing it on; rejected sockets are destroyed.
 *
 * OpenSSL still verifies the client chain against the roots during the handshake, but
 * here node is told not to drop a failing client silently (rejectUnauthorized: false at
 * the node layer) so that the rejection carries a reason: ours when validatePath fails,
 * else OpenSSL's verify code mapped by {@link OPENSSL_VERIFY_REASONS}. A client without a
 * certificate or with one either check refuses never reaches `onConnection`.
 */
export function createTlsServer(context: TlsContext, handlers: TlsServerHandlers): tls.Server {
  const server = tls.createServer({ ...context.serverOptions, rejectUnauthorized: false })
  server.on('secureConnection', (socket) => {
    const refuse = (err: PkiError) => {
      socket.destroy()
      handlers.onReject?.(err)
    }
    // Renegotiation is refused by OpenSSL (SSL_OP_NO_RENEGOTIATION); this guards the version too.
    if (socket.getProtocol() !== 'TLSv1.2') {
      refuse(new PkiError('PKI_TLS_PEER_REJECTED', `protocol ${socket.getProtocol() ?? 'unknown'} is not TLSv1.2`))
      return
    }
    const result = context.verifyPeer(socket, 'tls-client')
    if (!result.ok) {
      refuse(rejection(result, 'client'))
      return
    }
    if (!socket.authorized) {
      const code = String(socket.authorizationError)
      const reason = OPENSSL_VERIFY_REASONS[code]
      refuse(new PkiError('PKI_TLS_PEER_REJECTED', `TLS client rejected by OpenSSL: ${code}`, reason === undefined ? {} : { reason }))
      return
    }
    handlers.onConnection(socket, result)
  })
  server.on('tlsClientError', (err) => handlers.onReject?.(toTlsRejection(err)))
  return server
}
