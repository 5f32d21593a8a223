import { randomUUID } from 'node:crypto'
import {
  FIRMWARE_MANIFEST_FORMAT, FIRMWARE_PACKAGE_FORMAT, FirmwareManifest, FirmwarePackage, METER_KEYS_FORMAT, sealMeterKeys, type AnswerRequestState,
} from '@smgw/admin-protocol'
import { decodeSignedData } from '@smgw/crypto'
import type { CommandBody, CommandIssuer } from './commands.js'
import { GwaError } from './errors.js'
import { parseMeterKeys } from './meter-keys.js'
import type {
  CommandQuery, CommandRecord, ConsumerRequestRecord, FirmwarePackageRecord, GatewayPatch, GatewayRecord, GwaRepository, LogExportRecord,
  ProfileVersionRecord, RequestQuery,
} from './repository/types.js'
import type { WakeUpResult, WakeUpSender } from './wakeup.js'

/*
 * What an operator can do (the REST API is a thin layer over this): register gateways, queue
 * each command type with the checks the GWA can make before the gateway sees it, wake gateways,
 * read the fleet, results, log exports and firmware packages.
 */

export interface ProfileParts {
  readonly meters?: readonly unknown[]
  readonly tariffs?: readonly unknown[]
  readonly communication?: Readonly<Record<string, unknown>>
  readonly time?: Readonly<Record<string, unknown>>
  /** The gateway's CLS section, device CA certificates inline (docs/admin-protocol.md); null removes it. */
  readonly cls?: Readonly<Record<string, unknown>> | null
}

export interface QueueOptions {
  /** Send a wake-up right after queueing (the command goes out in the session it triggers). */
  readonly wake?: boolean
}

export interface Queued {
  readonly command: CommandRecord
  readonly wakeUp?: WakeUpResult
  /** Why the wake-up requested with the command failed (the command stays queued for the next session). */
  readonly wakeUpError?: { readonly code: string; readonly message: string }
}

export interface GatewayDetail {
  readonly gateway: GatewayRecord
  readonly profiles: readonly ProfileVersionRecord[]
  readonly pendingCommands: number
  /** Consumer requests in an open state (received, pending, in-progress). */
  readonly openRequests: number
}

export interface GwaOperationsDeps {
  readonly repository: GwaRepository
  readonly issuer: CommandIssuer
  readonly wakeUps: WakeUpSender
  /** The CRLs an `update-crls` without explicit CRLs sends (the GWA's configured CRL files). */
  readonly crls: () => readonly Uint8Array[]
  readonly now: () => Date
}

export interface GwaOperations {
  register(input: { id: string; wakeUpAddress?: string | null; note?: string | null }): Promise<GatewayRecord>
  update(id: string, patch: GatewayPatch): Promise<GatewayRecord>
  fleet(): Promise<GatewayRecord[]>
  gateway(id: string): Promise<GatewayDetail>
  /** A new configuration version: max(active, highest kept) + 1. */
  deployProfile(id: string, parts: ProfileParts, options?: QueueOptions): Promise<Queued & { version: number }>
  rollbackProfile(id: string, version: number, options?: QueueOptions): Promise<Queued>
  renewCertificates(id: string, kinds: readonly ('tls' | 'sig' | 'enc')[], options?: QueueOptions): Promise<Queued>
  updateCrls(id: string, crls?: readonly Uint8Array[], options?: QueueOptions): Promise<Queued>
  addFirmware(file: Uint8Array): Promise<FirmwarePackageRecord>
  firmwares(): Promise<FirmwarePackageRecord[]>
  rolloutFirmware(id: string, version: string, options?: QueueOptions): Promise<Queued>
  setTimeSource(id: string, time: Readonly<Record<string, unknown>>, options?: QueueOptions): Promise<Queued>
  readLog(id: string, sinceSeq?: number, options?: QueueOptions): Promise<Queued>
  tafRequest(id: string, profileId: string, useCase: 6 | 9, options?: QueueOptions): Promise<Queued>
  clsOpen(id: string, request: { deviceId: string; emtId: string; endpoint: string; timeoutS: number }, options?: QueueOptions): Promise<Queued>
  /**
   * Meter keys (`{"keyId": "32 hex digits"}`, the gateway's --keys file shape) sealed to the ENC
   * certificate this GWA issued for the serial the gateway last reported, in a `meter-keys`
   * command; the keys are kept nowhere else. `replace`: the gateway may overwrite key IDs it holds.
   * GWA_REQUEST_INVALID for bad keys, GWA_NO_ENC_CERTIFICATE without such a certificate.
   */
  assignMeterKeys(id: string, keys: Readonly<Record<string, unknown>>, options?: QueueOptions & { readonly replace?: boolean }): Promise<Queued & { keyIds: string[] }>
  /** The consumers' requests kept from the reports (one gateway, or the fleet). */
  requests(query: RequestQuery): Promise<ConsumerRequestRecord[]>
  /**
   * Queues `answer-request` for a request the gateway reported (GWA_NOT_FOUND otherwise; a
   * request known to be done or rejected is GWA_REQUEST_INVALID). The request shows the answer
   * once the gateway's result confirms it.
   */
  answerRequest(id: string, requestId: number, answer: { state: AnswerRequestState; note: string }, options?: QueueOptions): Promise<Queued>
  wake(id: string): Promise<WakeUpResult>
  commands(query: CommandQuery): Promise<CommandRecord[]>
  command(commandId: string): Promise<CommandRecord>
  logs(id: string): Promise<LogExportRecord[]>
  log(exportId: number): Promise<{ record: LogExportRecord; export: Uint8Array }>
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64')

/** Version, name and hash of a firmware package file, read without verifying (the gateway verifies the manufacturer's signature). */
export function describeFirmwarePackage(file: Uint8Array): Omit<FirmwarePackageRecord, 'addedAt'> {
  try {
    const pkg = FirmwarePackage.parse(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(file)))
    const content = decodeSignedData(new Uint8Array(Buffer.from(pkg.manifest, 'base64'))).content
    if (content === undefined) throw new Error('the manifest SignedData has no content')
    const manifest = FirmwareManifest.parse(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(content)))
    return { version: manifest.version, name: manifest.name, imageSha256: manifest.sha256, size: manifest.size }
  } catch (err) {
    throw new GwaError('GWA_REQUEST_INVALID', `not a firmware package (${FIRMWARE_PACKAGE_FORMAT} with a ${FIRMWARE_MANIFEST_FORMAT} manifest): ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
}

export function createGwaOperations(deps: GwaOperationsDeps): GwaOperations {
  const repo = deps.repository
  const mustGateway = async (id: string): Promise<GatewayRecord> => {
    const gateway = await repo.getGateway(id)
    if (gateway === undefined) throw new GwaError('GWA_GATEWAY_UNKNOWN', `gateway ${id} is not registered`)
    return gateway
  }
  const queue = async (id: string, body: CommandBody, options: QueueOptions = {}, commandId?: string): Promise<Queued> => {
    const gateway = await mustGateway(id)
    if (gateway.state === 'revoked') throw new GwaError('GWA_REQUEST_INVALID', `gateway ${id} is revoked`)
    const command = await deps.issuer.issue(id, body, commandId)
    if (options.wake !== true) return { command }
    try {
      return { command, wakeUp: await deps.wakeUps.wake(id) }
    } catch (err) {
      if (!(err instanceof GwaError)) throw err
      return { command, wakeUpError: { code: err.code, message: err.message } }
    }
  }
  return {
    register: (input) => repo.registerGateway({ ...input, registeredAt: deps.now() }),
    update: async (id, patch) => repo.updateGateway(id, patch),
    fleet: () => repo.listGateways(),
    gateway: async (id) => {
      const gateway = await mustGateway(id)
      const profiles = await repo.listProfileVersions(id)
      const pending = (await repo.listCommands({ gatewayId: id })).filter((c) => c.state === 'queued' || c.state === 'sent' || c.state === 'reserved').length
      const openRequests = (await repo.listRequests({ gatewayId: id, open: true })).length
      return { gateway, profiles, pendingCommands: pending, openRequests }
    },
    deployProfile: async (id, parts, options) => {
      const gateway = await mustGateway(id)
      const kept = await repo.listProfileVersions(id)
      const version = Math.max(gateway.profileVersion, ...kept.map((p) => p.version)) + 1
      const body: CommandBody = { type: 'profile', version, ...parts } as CommandBody
      // The version row first: a concurrent deploy of the same version is GWA_CONFLICT before anything is signed.
      const commandId = randomUUID()
      await repo.saveProfileVersion({ gatewayId: id, version, commandId, content: { ...parts }, createdAt: deps.now() })
      try {
        return { ...await queue(id, body, options, commandId), version }
      } catch (err) {
        await repo.setProfileState(id, version, 'failed', null)
        throw err
      }
    },
    rollbackProfile: async (id, version, options) => {
      const gateway = await mustGateway(id)
      const kept = (await repo.listProfileVersions(id)).find((p) => p.version === version)
      if (version >= gateway.profileVersion) throw new GwaError('GWA_REQUEST_INVALID', `rollback to ${String(version)}: the active version is ${String(gateway.profileVersion)}; a rollback goes to an earlier one`)
      if (kept?.state !== 'applied') throw new GwaError('GWA_REQUEST_INVALID', `rollback to ${String(version)}: no version ${String(version)} was applied on ${id}`)
      return queue(id, { type: 'rollback-profile', version }, options)
    },
    renewCertificates: (id, kinds, options) => queue(id, { type: 'generate-csr', kinds: [...kinds] }, options),
    updateCrls: (id, crls, options) => queue(id, { type: 'update-crls', crls: (crls ?? deps.crls()).map(b64) }, options),
    addFirmware: async (file) => {
      const described = describeFirmwarePackage(file)
      const record = { ...described, addedAt: deps.now() }
      await repo.saveFirmwarePackage(record, file)
      return record
    },
    firmwares: () => repo.listFirmwarePackages(),
    rolloutFirmware: async (id, version, options) => {
      const found = await repo.getFirmwarePackage(version)
      if (found === undefined) throw new GwaError('GWA_NOT_FOUND', `no firmware package ${version}; add it first`)
      return queue(id, { type: 'firmware', package: b64(found.file) }, options)
    },
    setTimeSource: (id, time, options) => queue(id, { type: 'set-time-source', time: { ...time } }, options),
    // TR-03109-1: the GWA reads the system log only; calibration and consumer logs are not its to read.
    readLog: (id, sinceSeq, options) => queue(id, { type: 'read-log', log: 'system', ...(sinceSeq === undefined ? {} : { sinceSeq }) }, options),
    tafRequest: (id, profileId, useCase, options) => queue(id, { type: 'taf-request', profileId, useCase }, options),
    clsOpen: (id, request, options) => queue(id, { type: 'cls-open', ...request }, options),
    assignMeterKeys: async (id, keys, options = {}) => {
      const entries = parseMeterKeys(keys)
      const gateway = await mustGateway(id)
      const renew = `renew first: smgw gwa renew ${id} --kinds enc`
      // The serial the gateway last reported is the ENC key in force on it; an envelope to any other does not open there.
      const reported = gateway.certificates.find((c) => c.kind === 'enc' && c.source === 'operational')
      if (reported === undefined) throw new GwaError('GWA_NO_ENC_CERTIFICATE', `gateway ${id} has reported no operational ENC certificate; ${renew}`)
      if (reported.notAfter.getTime() <= deps.now().getTime()) throw new GwaError('GWA_NO_ENC_CERTIFICATE', `the ENC certificate ${reported.serial} of ${id} expired at ${reported.notAfter.toISOString()}; ${renew}`)
      const issued = await repo.getIssuedCertificate(id, 'enc', reported.serial)
      if (issued === undefined) throw new GwaError('GWA_NO_ENC_CERTIFICATE', `the ENC certificate ${reported.serial} that ${id} reports was not issued by this GWA; ${renew}`)
      const envelope = await sealMeterKeys({ format: METER_KEYS_FORMAT, gatewayId: id, keys: entries }, { encCertificate: issued.der })
      const queued = await queue(id, { type: 'meter-keys', keys: b64(envelope), replace: options.replace === true }, options)
      return { ...queued, keyIds: entries.map((e) => e.keyId) }
    },
    requests: async (query) => {
      if (query.gatewayId !== undefined) await mustGateway(query.gatewayId)
      return repo.listRequests(query)
    },
    answerRequest: async (id, requestId, answer, options) => {
      await mustGateway(id)
      const found = await repo.getRequest(id, requestId)
      if (found === undefined) throw new GwaError('GWA_NOT_FOUND', `gateway ${id} has reported no request ${String(requestId)}`)
      if (found.state === 'done' || found.state === 'rejected') {
        throw new GwaError('GWA_REQUEST_INVALID', `request ${String(requestId)} of ${id} is ${found.state} already${found.answer === null ? '' : ` (answered ${found.answer.at.toISOString()})`}`)
      }
      return queue(id, { type: 'answer-request', requestId, state: answer.state, note: answer.note }, options)
    },
    wake: (id) => deps.wakeUps.wake(id),
    commands: (query) => repo.listCommands(query),
    command: async (commandId) => {
      const found = await repo.getCommand(commandId)
      if (found === undefined) throw new GwaError('GWA_NOT_FOUND', `no command ${commandId}`)
      return found
    },
    logs: async (id) => {
      await mustGateway(id)
      return repo.listLogExports(id)
    },
    log: async (exportId) => {
      const found = await repo.getLogExport(exportId)
      if (found === undefined) throw new GwaError('GWA_NOT_FOUND', `no log export ${String(exportId)}`)
      return found
    },
  }
}
