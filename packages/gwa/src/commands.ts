import { randomUUID } from 'node:crypto'
import { ADMIN_COMMAND_FORMAT, AdminCommand, signAdminObject } from '@smgw/admin-protocol'
import type { CmsSigner } from '@smgw/crypto'
import { GwaError } from './errors.js'
import type { CommandRecord, GwaRepository } from './repository/types.js'

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

/** A command as the operator (or the GWA itself) asks for it: the type and its fields; the envelope is added here. */
export type CommandBody = DistributiveOmit<AdminCommand, 'format' | 'commandId' | 'gatewayId' | 'sequence' | 'issuedAt'>

export interface CommandIssuerDeps {
  readonly repository: GwaRepository
  /** The GWA's SIG key and certificate (docs/admin-protocol.md "Commands": signed by the GWA SIG key). */
  readonly signer: CmsSigner
  readonly now: () => Date
  readonly newCommandId?: () => string
}

export interface CommandIssuer {
  /** Validates, takes the gateway's next sequence, signs and queues; GWA_REQUEST_INVALID for a body the schema refuses. */
  issue(gatewayId: string, body: CommandBody, commandId?: string): Promise<CommandRecord>
}

/**
 * Commands in the order of their sequence: the sequence is reserved in the inventory before
 * signing (a reserved sequence holds back later ones, so a slow signature never lets a later
 * command overtake it — the gateway would refuse the earlier one as REPLAYED), the signed bytes
 * fill the reservation; a signing failure abandons it.
 */
export function createCommandIssuer(deps: CommandIssuerDeps): CommandIssuer {
  const newId = deps.newCommandId ?? randomUUID
  const envelope = (gatewayId: string, commandId: string, sequence: number, issuedAt: Date, body: CommandBody) =>
    ({ ...body, format: ADMIN_COMMAND_FORMAT, commandId, gatewayId, sequence, issuedAt: issuedAt.toISOString() })
  return {
    issue: async (gatewayId, body, chosenId) => {
      const commandId = chosenId ?? newId()
      // Checked before a sequence is spent: the schema of @smgw/admin-protocol is what the gateway applies.
      const probe = AdminCommand.safeParse(envelope(gatewayId, commandId, 1, deps.now(), body))
      if (!probe.success) {
        throw new GwaError('GWA_REQUEST_INVALID', `${body.type}: ${probe.error.issues.map((i) => `${i.path.map(String).join('.') || '(command)'}: ${i.message}`).join('; ')}`)
      }
      const sequence = await deps.repository.reserveCommand({ gatewayId, commandId, type: body.type, createdAt: deps.now() })
      try {
        const issuedAt = deps.now()
        const cms = await signAdminObject(AdminCommand.parse(envelope(gatewayId, commandId, sequence, issuedAt, body)), deps.signer, issuedAt)
        await deps.repository.fillCommand(gatewayId, sequence, cms)
      } catch (err) {
        await deps.repository.abandonCommand(gatewayId, sequence, { code: 'SIGN_FAILED', message: err instanceof Error ? err.message : String(err) }, deps.now())
        throw err instanceof GwaError ? err : new GwaError('GWA_STORAGE_FAILED', `command ${body.type} for ${gatewayId} not queued: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
      }
      const record = await deps.repository.getCommand(commandId)
      if (record === undefined) throw new GwaError('GWA_STORAGE_FAILED', `command ${commandId} vanished`)
      return record
    },
  }
}
