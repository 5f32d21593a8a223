import { createHash } from 'node:crypto'
import {
  ADMIN_COMMANDS_ANSWER_FORMAT, AdminProtocolError, decodeAdminReport, decodeAdminResults, peekCommand,
  type AdminCommandsAnswer, type AdminReport, type AdminResult,
} from '@smgw/admin-protocol'
import { decodeCertificate } from '@smgw/pki'
import type { Logger } from 'pino'
import type { GatewayCa, RequestedKind } from './certificates.js'
import type { CommandIssuer } from './commands.js'
import { GwaError } from './errors.js'
import type { CommandRecord, GatewayRecord, GwaRepository } from './repository/types.js'

/*
 * The GWA's side of an admin session (docs/admin-protocol.md "Admin session"), without HTTP:
 * the server hands in the authenticated TLS peer and the request body, and gets the answer or
 * a GwaError (GWA_REQUEST_INVALID → 400, GWA_FORBIDDEN → 403).
 */

/** Who is on the other end of the mutual-TLS connection (its certificate passed SM-PKI path validation). */
export interface SessionPeer {
  /** The single CN of the client certificate, when it has the gateway-ID form. */
  readonly gatewayId: string | undefined
  /** The client certificate's subject, RFC 4514. */
  readonly subject: string
  readonly address?: string
}

export interface AdminSessionDeps {
  readonly repository: GwaRepository
  readonly issuer: CommandIssuer
  /** Turns CSR results into certificates; absent: the CSRs stay in the command result, nothing is installed. */
  readonly ca?: GatewayCa
  readonly now: () => Date
  readonly logger: Logger
  readonly maxCommandsPerAnswer: number
}

export interface AdminSessions {
  /** `POST /v1/admin/session`: the report → the pending commands. */
  report(peer: SessionPeer, body: Uint8Array): Promise<AdminCommandsAnswer>
  /** `POST /v1/admin/results`: the results → stored (with follow-ups) → the commands pending now. */
  results(peer: SessionPeer, body: Uint8Array): Promise<AdminCommandsAnswer>
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64')

export function createAdminSessions(deps: AdminSessionDeps): AdminSessions {
  const log = deps.logger

  const decode = <T>(f: () => T): T => {
    try {
      return f()
    } catch (err) {
      if (err instanceof AdminProtocolError) throw new GwaError('GWA_REQUEST_INVALID', `${err.code}: ${err.message}`, { cause: err })
      throw err
    }
  }

  /** The client certificate must name the gateway the body speaks for, and that gateway must be ours and in service. */
  const authorize = async (peer: SessionPeer, gatewayId: string, what: string): Promise<GatewayRecord> => {
    const refuse = (reason: string, message: string) => {
      log.warn({ event: 'session-refused', reason, gateway: gatewayId, peer: peer.subject, address: peer.address ?? null }, message)
      return new GwaError('GWA_FORBIDDEN', message)
    }
    if (peer.gatewayId !== gatewayId) throw refuse('CERTIFICATE_NOT_OF_GATEWAY', `${what} for ${gatewayId} over a connection authenticated as ${peer.subject}`)
    const gateway = await deps.repository.getGateway(gatewayId)
    if (gateway === undefined) throw refuse('GATEWAY_UNKNOWN', `gateway ${gatewayId} is not registered`)
    if (gateway.state === 'revoked') throw refuse('GATEWAY_REVOKED', `gateway ${gatewayId} is revoked`)
    return gateway
  }

  const answer = async (gatewayId: string, afterSequence: number): Promise<AdminCommandsAnswer> => {
    const pending = (await deps.repository.pendingCommands(gatewayId, afterSequence)).slice(0, deps.maxCommandsPerAnswer)
    await deps.repository.markSent(gatewayId, pending.map((c) => c.sequence), deps.now())
    if (pending.length > 0) log.info({ event: 'commands-sent', gateway: gatewayId, sequences: pending.map((c) => c.sequence) }, `${String(pending.length)} command(s) sent`)
    return { format: ADMIN_COMMANDS_ANSWER_FORMAT, commands: pending.map((c) => b64(c.cms)) }
  }

  /** The CSR result of `generate-csr`: certificates for every kind, then one `install-certificates` (the gateway installs them together). */
  const issueCertificates = async (gatewayId: string, data: Readonly<Record<string, unknown>>): Promise<Record<string, unknown>> => {
    const ca = deps.ca
    const csrs = data.csrs
    if (ca === undefined) {
      log.info({ event: 'csrs-stored', gateway: gatewayId }, 'no CA configured: the CSRs stay in the command result')
      return { ...data }
    }
    if (typeof csrs !== 'object' || csrs === null) throw new GwaError('GWA_CSR_REJECTED', 'the result carries no csrs object')
    const certificates: Partial<Record<RequestedKind, string>> = {}
    for (const [kind, value] of Object.entries(csrs)) {
      if (kind !== 'tls' && kind !== 'sig' && kind !== 'enc') throw new GwaError('GWA_CSR_REJECTED', `unknown certificate kind ${kind}`)
      if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw new GwaError('GWA_CSR_REJECTED', `${kind}: not base64`)
      const der = await ca.issue(gatewayId, kind, new Uint8Array(Buffer.from(value, 'base64')))
      // Kept whole: meter keys are sealed to the ENC certificate whose serial the gateway reports (docs/admin-protocol.md `meter-keys`).
      await deps.repository.saveIssuedCertificate({ gatewayId, kind, serial: decodeCertificate(der).serialHex, der, issuedAt: deps.now() })
      certificates[kind] = b64(der)
    }
    if (Object.keys(certificates).length === 0) throw new GwaError('GWA_CSR_REJECTED', 'the result carries no CSR')
    const install = await deps.issuer.issue(gatewayId, { type: 'install-certificates', certificates, chain: ca.chain.map(b64) })
    log.info({ event: 'certificates-issued', gateway: gatewayId, kinds: Object.keys(certificates), installCommand: install.commandId }, 'certificates issued, install-certificates queued')
    return { ...data, installCommandId: install.commandId }
  }

  /** What the GWA does with one result before it is stored; returns what is stored. */
  const followUp = async (gatewayId: string, command: CommandRecord, item: AdminResult): Promise<{ ok: boolean; result: Record<string, unknown> }> => {
    if (!item.ok) {
      if (command.type === 'profile') await setProfileState(gatewayId, command, 'failed', null)
      return { ok: false, result: { ...item.error } }
    }
    const data = item.data
    switch (command.type) {
      case 'profile': {
        const version = await setProfileState(gatewayId, command, 'applied', typeof data.sha256 === 'string' ? data.sha256 : null)
        // The fleet status shows it now; the next report confirms it.
        if (version !== undefined) await deps.repository.updateGateway(gatewayId, { profileVersion: version })
        return { ok: true, result: { ...data } }
      }
      case 'rollback-profile':
        if (typeof data.version === 'number' && Number.isSafeInteger(data.version) && data.version >= 0) await deps.repository.updateGateway(gatewayId, { profileVersion: data.version })
        return { ok: true, result: { ...data } }
      case 'firmware':
        if (data.state === 'active' && typeof data.version === 'string' && /^\d{1,9}\.\d{1,9}\.\d{1,9}$/.test(data.version)) await deps.repository.updateGateway(gatewayId, { firmwareVersion: data.version })
        return { ok: true, result: { ...data } }
      case 'generate-csr':
        try {
          return { ok: true, result: await issueCertificates(gatewayId, data) }
        } catch (err) {
          if (!(err instanceof GwaError) || err.code !== 'GWA_CSR_REJECTED') throw err
          log.warn({ event: 'csr-rejected', gateway: gatewayId, commandId: command.commandId }, err.message)
          return { ok: false, result: { code: err.code, message: err.message, csrs: data.csrs ?? null } }
        }
      case 'answer-request': {
        // What was answered is what the GWA signed (its own stored command), not what the result repeats.
        const sent = peekCommand(command.cms)
        if (sent.type === 'answer-request') {
          const answered = await deps.repository.recordRequestAnswer(gatewayId, sent.requestId, { state: sent.state, note: sent.note, commandId: command.commandId, at: deps.now() })
          log.info({ event: 'request-answered', gateway: gatewayId, request: sent.requestId, state: sent.state, known: answered !== undefined }, `request ${String(sent.requestId)} ${sent.state}`)
        }
        return { ok: true, result: { ...data } }
      }
      case 'read-log': {
        if (typeof data.export !== 'string') return { ok: false, result: { code: 'GWA_REQUEST_INVALID', message: 'read-log result without export' } }
        const bytes = new Uint8Array(Buffer.from(data.export, 'base64'))
        const saved = await deps.repository.saveLogExport({
          gatewayId, commandId: command.commandId, receivedAt: deps.now(), export: bytes, sha256: createHash('sha256').update(bytes).digest('hex'),
        })
        const { export: _export, ...rest } = data
        return { ok: true, result: { ...rest, exportId: saved.id, bytes: saved.bytes, sha256: saved.sha256 } }
      }
      default:
        return { ok: true, result: { ...data } }
    }
  }

  /** The kept version the command carried, now applied or failed; its number (undefined for a profile not deployed through the inventory). */
  const setProfileState = async (gatewayId: string, command: CommandRecord, state: 'applied' | 'failed', sha256: string | null): Promise<number | undefined> => {
    const version = (await deps.repository.listProfileVersions(gatewayId)).find((p) => p.commandId === command.commandId)?.version
    if (version !== undefined) await deps.repository.setProfileState(gatewayId, version, state, sha256)
    return version
  }

  return {
    report: async (peer, body) => {
      const report: AdminReport = decode(() => decodeAdminReport(body))
      await authorize(peer, report.gatewayId, 'report')
      const at = deps.now()
      await deps.repository.recordContact({
        gatewayId: report.gatewayId, at, tlsSubject: peer.subject, report: { ...report }, firmwareVersion: report.firmware.version,
        profileVersion: report.profileVersion, lastExecutedSequence: report.lastSequence,
        certificates: report.certificates.map((c) => ({ kind: c.kind, serial: c.serial, notAfter: new Date(c.notAfter), source: c.source })),
        ...(report.requests === undefined ? {} : {
          requests: report.requests.map((r) => ({ id: r.id, consumer: r.consumer, kind: r.kind, state: r.state, createdAt: new Date(r.createdAt), text: r.text })),
        }),
      })
      log.info({
        event: 'contact', gateway: report.gatewayId, reason: report.reason, lastSequence: report.lastSequence, firmware: report.firmware.version,
        ...(report.requests === undefined ? {} : { openRequests: report.requests.length }),
      }, 'admin session')
      return answer(report.gatewayId, report.lastSequence)
    },
    results: async (peer, body) => {
      const posted = decode(() => decodeAdminResults(body))
      const gateway = await authorize(peer, posted.gatewayId, 'results')
      let after = typeof gateway.lastReport?.lastSequence === 'number' ? gateway.lastReport.lastSequence : 0
      for (const item of posted.results) {
        if (item.sequence !== null) after = Math.max(after, item.sequence)
        const command = item.commandId === null ? undefined : await deps.repository.getCommand(item.commandId)
        if (command === undefined || command.gatewayId !== posted.gatewayId || command.sequence !== item.sequence) {
          log.warn({ event: 'result-unmatched', gateway: posted.gatewayId, commandId: item.commandId, sequence: item.sequence, index: item.index }, 'a result for no command of this gateway')
          continue
        }
        if (command.state === 'done' || command.state === 'reserved' || (command.state === 'failed' && command.result?.code !== 'RESULT_LOST')) {
          // A result stored before (a repeated post) is not acted on twice: no second certificate, no second export.
          log.warn({ event: 'result-repeated', gateway: posted.gatewayId, commandId: command.commandId, state: command.state }, 'a result for a command that has one already')
          continue
        }
        const outcome = await followUp(posted.gatewayId, command, item)
        await deps.repository.recordResult({ gatewayId: posted.gatewayId, commandId: command.commandId, sequence: command.sequence, ok: outcome.ok, result: outcome.result, at: deps.now() })
        log.info({ event: 'result', gateway: posted.gatewayId, commandId: command.commandId, type: command.type, ok: outcome.ok, code: outcome.ok ? null : outcome.result.code ?? null }, `${command.type} ${outcome.ok ? 'done' : 'failed'}`)
      }
      return answer(posted.gatewayId, after)
    },
  }
}
