import { createHash } from 'node:crypto'
import { isCryptoError, type CertificateInfo, type CmsDecryptor, type CmsVerifier, type CryptoErrorCode } from '@smgw/crypto'
import { decodeMeterData, isMeterDataError, type MeterDataMessage, type RejectionCode } from '@smgw/meter-data'
import type { ValidationReason } from '@smgw/pki'
import { gatewayIdOfRdns } from './identity.js'
import type { EmtRepository } from './repository/types.js'

/*
 * The receiver's checks of docs/wan-protocol.md, in order, without HTTP: bytes and the
 * authenticated TLS peer in, a verdict out. Nothing is stored unless every check passed;
 * 'stored'/'duplicate' are returned only after the repository committed.
 */

export interface IntakeRequest {
  /** The request body: CMS (DER). */
  readonly body: Uint8Array
  /** The Idempotency-Key header (undefined when absent). */
  readonly idempotencyKey: string | undefined
  /** The gateway ID of the TLS client certificate (validated for 'tls-client' already). */
  readonly tlsGatewayId: string | undefined
}

export type IntakeResult =
  | { readonly status: 'stored' | 'duplicate'; readonly messageId: string; readonly gatewayId: string }
  | { readonly status: 'rejected'; readonly code: RejectionCode; readonly message: string; readonly messageId?: string; readonly gatewayId?: string }
  /** The receiver cannot decide now (its CRL is stale or missing): answer 503, the gateway retries. */
  | { readonly status: 'unavailable'; readonly reason: ValidationReason; readonly message: string }

export interface IntakeDeps {
  readonly participantId: string
  readonly repository: EmtRepository
  readonly decryptor: CmsDecryptor
  /** A verifier whose `trust` throws {@link SignerPathRejected} for a SIG certificate that does not validate. */
  readonly verifier: CmsVerifier
  readonly replayWindowMs: number
  readonly now: () => Date
}

export interface Intake {
  receive(request: IntakeRequest): Promise<IntakeResult>
}

/** What a receiver's `trust` callback throws: the path validation's reason for the signer's SIG certificate. */
export class SignerPathRejected extends Error {
  override name = 'SignerPathRejected'
  constructor(readonly reason: ValidationReason, message: string) {
    super(message)
  }
}

/** CMS decryption errors → rejection codes (check 1). */
const DECRYPT_REJECTIONS: Partial<Record<CryptoErrorCode, RejectionCode>> = {
  CMS_NO_RECIPIENT: 'NOT_FOR_US',
  CMS_UNWRAP_FAILED: 'DECRYPT_FAILED',
  CMS_DECRYPT_FAILED: 'DECRYPT_FAILED',
}
/** CMS verification errors → rejection codes (check 2); anything else is MALFORMED. */
const VERIFY_REJECTIONS: Partial<Record<CryptoErrorCode, RejectionCode>> = {
  CMS_DIGEST_MISMATCH: 'SIGNATURE_INVALID',
  CMS_SIGNATURE_INVALID: 'SIGNATURE_INVALID',
  CMS_SIGNER_NOT_FOUND: 'SIGNATURE_INVALID',
  CMS_SIGNER_UNTRUSTED: 'SIGNATURE_INVALID',
  CURVE_UNSUPPORTED: 'SIGNATURE_INVALID',
  CURVE_MISMATCH: 'SIGNATURE_INVALID',
  PUBLIC_KEY_INVALID: 'SIGNATURE_INVALID',
}
/** Path-validation reasons of the signer certificate that are about its validity, not its chain. */
const CERTIFICATE_INVALID_REASONS: ReadonlySet<ValidationReason> = new Set(['EXPIRED', 'NOT_YET_VALID', 'REVOKED'])
/** Reasons that are the receiver's own problem (its CRLs): answered 503, so the gateway tries again. */
const RECEIVER_TRUST_REASONS: ReadonlySet<ValidationReason> = new Set(['CRL_EXPIRED', 'CRL_MISSING', 'CRL_INVALID'])

export function createIntake(deps: IntakeDeps): Intake {
  const reject = (code: RejectionCode, message: string, m?: Pick<MeterDataMessage, 'messageId' | 'gatewayId'>): IntakeResult => ({
    status: 'rejected', code, message, ...(m === undefined ? {} : { messageId: m.messageId, gatewayId: m.gatewayId }),
  })
  return {
    async receive(request) {
      // 1. CMS for our ENC certificate, and it decrypts.
      let signed: Uint8Array
      try {
        signed = await deps.decryptor.decrypt(request.body)
      } catch (err) {
        if (!isCryptoError(err)) throw err
        return reject(DECRYPT_REJECTIONS[err.code] ?? 'MALFORMED', `${err.code}: ${err.message}`)
      }
      // 2. The SignedData verifies; the signer's SIG certificate validates now (chain, validity, CRL).
      let content: Uint8Array
      let signer: CertificateInfo
      try {
        ({ content, signer } = await deps.verifier.verify(signed))
      } catch (err) {
        if (!isCryptoError(err)) throw err
        const cause = err.cause
        if (err.code === 'CMS_SIGNER_UNTRUSTED' && cause instanceof SignerPathRejected) {
          if (RECEIVER_TRUST_REASONS.has(cause.reason)) return { status: 'unavailable', reason: cause.reason, message: cause.message }
          if (CERTIFICATE_INVALID_REASONS.has(cause.reason)) return reject('SIGNER_CERTIFICATE_INVALID', cause.message)
        }
        return reject(VERIFY_REJECTIONS[err.code] ?? 'MALFORMED', `${err.code}: ${err.message}`)
      }
      // 3. A meter-data message, for us, from one known gateway (TLS client = CMS signer = gatewayId).
      let message: MeterDataMessage
      try {
        message = decodeMeterData(content)
      } catch (err) {
        if (!isMeterDataError(err)) throw err
        return reject('MALFORMED', `${err.code}: ${err.message}`)
      }
      if (message.recipient !== deps.participantId) {
        return reject('WRONG_RECIPIENT', `the message is for ${message.recipient}, this receiver is ${deps.participantId}`, message)
      }
      // The verifier's decoded signer certificate: decoding it again for its subject cost 0.04 ms per message.
      const signerId = gatewayIdOfRdns(signer.subjectRdns)
      if (request.tlsGatewayId !== message.gatewayId || signerId !== message.gatewayId) {
        return reject('SENDER_UNKNOWN', `gatewayId ${message.gatewayId}, TLS client ${request.tlsGatewayId ?? '(none)'}, CMS signer ${signerId ?? '(no gateway ID)'} are not one gateway`, message)
      }
      if (!(await deps.repository.isKnownGateway(message.gatewayId))) {
        return reject('SENDER_UNKNOWN', `gateway ${message.gatewayId} is not registered`, message)
      }
      // 4. Idempotency-Key = messageId.
      if (request.idempotencyKey !== message.messageId) {
        return reject('IDEMPOTENCY_KEY_MISMATCH', `Idempotency-Key ${request.idempotencyKey === undefined ? '(absent)' : JSON.stringify(request.idempotencyKey)} is not the messageId ${message.messageId}`, message)
      }
      // 5. Replay, decided in the storing transaction; 6. commit, then answer.
      const now = deps.now()
      const tooOld = Date.parse(message.createdAt) < now.getTime() - deps.replayWindowMs
      const sha256 = createHash('sha256').update(content).digest('hex')
      const outcome = await deps.repository.storeMessage({ message, sha256, receivedAt: now, tooOld })
      switch (outcome) {
        case 'stored':
        case 'duplicate':
          return { status: outcome, messageId: message.messageId, gatewayId: message.gatewayId }
        case 'conflict':
          return reject('REPLAYED', `messageId ${message.messageId} was received before with other content`, message)
        case 'too-old':
          return reject('REPLAYED', `message created ${message.createdAt} is older than the replay window`, message)
      }
    },
  }
}
