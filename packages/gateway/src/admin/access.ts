import { GatewayError } from '../errors.js'

/**
 * Access profiles as data (TR-03109-1 §3.2.4, BSI-CC-PP-0073 FDP_ACF): who may do what on the
 * gateway. One table; the admin command executor, the HAN service and the CLS channel ask
 * `authorize` and nothing else, and access.test.ts walks every cell.
 */
export const ROLES = [
  'gwa',
  // External market participants, one role per tariff use case they receive data for, and the
  // active EMT that controls devices through the CLS channel.
  'emt:taf1', 'emt:taf2', 'emt:taf6', 'emt:taf7', 'emt:taf9', 'emt:taf10', 'emt:taf14', 'emt:cls',
  'consumer',
  'technician',
  'cls-device',
] as const
export type Role = (typeof ROLES)[number]

export const OPERATIONS = [
  /** Apply or roll back a configuration version (meter, tariff, communication profiles). */
  'config.apply',
  /** Set the time source. */
  'time.set',
  /** Have keys generated, CSRs made, certificates installed, CRLs updated. */
  'certificates.manage',
  'firmware.update',
  /** Install wireless M-Bus meter keys (sent encrypted to the gateway's ENC key) in the security module. */
  'meter-keys.install',
  /** Answer a consumer's request (rights, tariff choice): set its state and leave a note for the consumer. */
  'requests.answer',
  'log.system.read',
  'log.calibration.read',
  /** The consumer log of one's own metering points. */
  'log.consumer.read.own',
  /** Readings of one's own metering points. */
  'readings.read.own',
  /** Readings of any metering point: nobody has it; a use case's recipient gets its tariff results, never raw readings. */
  'readings.read.any',
  /** Receive the results of a tariff use case (which ones: the tariff profile names the recipient). */
  'meter-data.receive',
  /** Run an on-demand use case (TAF 6, TAF 9) now. */
  'taf.trigger',
  'cls.open',
  /** Send and receive bytes through an open CLS channel. */
  'cls.relay',
  'consent.manage.own',
  'rights.request.own',
  'tariff.choose.own',
  /** Device state, firmware, meter list: no readings. */
  'device.status',
  'lmn.diagnostics',
] as const
export type Operation = (typeof OPERATIONS)[number]

const EMT_DATA: readonly Operation[] = ['meter-data.receive']

/** The table: every operation a role may perform; everything else is refused. */
export const ACCESS_PROFILES: Readonly<Record<Role, readonly Operation[]>> = {
  // The administrator configures and maintains the gateway but sees no consumption data (TR-03109-1 §3.2.4).
  gwa: ['config.apply', 'time.set', 'certificates.manage', 'firmware.update', 'meter-keys.install', 'requests.answer', 'log.system.read', 'taf.trigger', 'cls.open'],
  'emt:taf1': EMT_DATA,
  'emt:taf2': EMT_DATA,
  'emt:taf6': EMT_DATA,
  'emt:taf7': EMT_DATA,
  'emt:taf9': EMT_DATA,
  'emt:taf10': EMT_DATA,
  'emt:taf14': EMT_DATA,
  'emt:cls': ['cls.relay'],
  // The consumer reads their own data and logs, and decides on consent, rights and tariff choice (principles 1, 7–10).
  consumer: ['readings.read.own', 'log.consumer.read.own', 'log.calibration.read', 'consent.manage.own', 'rights.request.own', 'tariff.choose.own'],
  technician: ['device.status', 'lmn.diagnostics', 'log.system.read', 'log.calibration.read'],
  'cls-device': ['cls.relay'],
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value)
}

export function authorize(role: Role, operation: Operation): boolean {
  return ACCESS_PROFILES[role].includes(operation)
}

/** Throws FORBIDDEN unless the table allows `operation` to `role`. */
export function assertAuthorized(role: Role, operation: Operation): void {
  if (!authorize(role, operation)) throw new GatewayError('FORBIDDEN', `the role ${role} may not ${operation}`)
}
