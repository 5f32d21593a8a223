import { Agent, request } from 'node:https'
import type { TLSSocket } from 'node:tls'
import {
  ADMIN_REPORT_FORMAT, ADMIN_RESULTS_FORMAT, decodeCommandsAnswer, encodeAdminReport, encodeAdminResults, openCommand,
  type AdminCommand, type AdminReport, type AdminResult, type SignerVerifier,
} from '@smgw/admin-protocol'
import { createTlsContext, type TlsIdentity } from '@smgw/pki'

/*
 * Test and bench support (not exported from the package index): a scripted gateway made of
 * @smgw/admin-protocol and node:https — not the real gateway (packages/gateway/src/admin is).
 * One keep-alive TLS connection per session, the GWA's server certificate checked by our path
 * validation and by its subject; every command opened with the GWA verifier before the
 * script sees it.
 */

export interface ScriptedGatewayOptions {
  readonly gatewayId: string
  readonly host: string
  readonly port: number
  readonly identity: TlsIdentity
  readonly trust: { readonly roots: readonly Uint8Array[]; readonly intermediates?: readonly Uint8Array[] }
  /** The CN the server certificate must carry (the GWA's). */
  readonly gwaCommonName: string
  readonly verifier: SignerVerifier
  readonly now: () => Date
}

export interface HttpAnswer { readonly status: number; readonly body: unknown; readonly headers: Readonly<Record<string, string | string[] | undefined>> }

export type CommandScript = (command: AdminCommand) => Promise<Record<string, unknown>> | Record<string, unknown>

export interface SessionOutcome {
  readonly rounds: number
  readonly commands: readonly AdminCommand[]
  readonly results: readonly AdminResult[]
}

export interface ScriptedGateway {
  /** POSTs raw JSON to a path over this gateway's mutual-TLS identity. */
  post(path: string, body: unknown): Promise<HttpAnswer>
  /** A whole session: report, then execute → results until no commands come (at most 16 rounds). */
  session(report: Partial<AdminReport>, script: CommandScript): Promise<SessionOutcome>
  close(): void
}

export function baseReport(gatewayId: string, now: Date): AdminReport {
  return {
    format: ADMIN_REPORT_FORMAT, gatewayId, sentAt: now.toISOString(), reason: 'wake-up', firmware: { version: '1.0.0' },
    profileVersion: 0, lastSequence: 0, certificates: [], time: { state: 'synchronised', offsetMs: 0 },
  }
}

export function createScriptedGateway(o: ScriptedGatewayOptions): ScriptedGateway {
  const ctx = createTlsContext({ profile: 'wan', identity: o.identity, trust: { roots: o.trust.roots, intermediates: o.trust.intermediates ?? [] } }, { now: o.now })
  const agent = new Agent({ ...ctx.clientOptions, keepAlive: true, maxSockets: 1 })
  const post = (path: string, body: unknown): Promise<HttpAnswer> => new Promise((resolve, reject) => {
    const bytes = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body))
    const req = request({
      host: o.host, port: o.port, path, method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': String(bytes.length) },
    }, (res) => {
      const cn = (req.socket as TLSSocket | null)?.getPeerCertificate().subject.CN
      if (cn !== o.gwaCommonName) {
        res.destroy()
        reject(new Error(`the server is not the GWA: ${String(cn)}`))
        return
      }
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let parsed: unknown = text
        try { parsed = JSON.parse(text) } catch { /* not JSON: kept as text */ }
        resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(bytes)
  })
  return {
    post,
    session: async (partial, script) => {
      const report: AdminReport = { ...baseReport(o.gatewayId, o.now()), ...partial }
      let answer = await post('/v1/admin/session', Buffer.from(encodeAdminReport(report)).toString('utf8'))
      const commands: AdminCommand[] = []
      const results: AdminResult[] = []
      let rounds = 0
      for (;;) {
        if (answer.status !== 200) throw new Error(`GWA answered ${String(answer.status)}: ${JSON.stringify(answer.body)}`)
        const decoded = decodeCommandsAnswer(Buffer.from(JSON.stringify(answer.body)))
        if (decoded.commands.length === 0 || rounds >= 16) break
        rounds++
        const round: AdminResult[] = []
        for (const [index, b64] of decoded.commands.entries()) {
          const command = await openCommand(new Uint8Array(Buffer.from(b64, 'base64')), o.verifier, o.now())
          commands.push(command)
          try {
            round.push({ commandId: command.commandId, sequence: command.sequence, index, ok: true, data: await script(command) })
          } catch (err) {
            const code = (err as { code?: unknown }).code
            round.push({ commandId: command.commandId, sequence: command.sequence, index, ok: false, error: { code: typeof code === 'string' ? code : 'FAILED', message: err instanceof Error ? err.message : String(err) } })
          }
        }
        results.push(...round)
        answer = await post('/v1/admin/results', Buffer.from(encodeAdminResults({ format: ADMIN_RESULTS_FORMAT, gatewayId: o.gatewayId, results: round })).toString('utf8'))
      }
      return { rounds, commands, results }
    },
    close: () => { agent.destroy() },
  }
}
