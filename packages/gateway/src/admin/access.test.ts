import { describe, expect, it } from 'vitest'
import { isGatewayError } from '../errors.js'
import { ACCESS_PROFILES, OPERATIONS, ROLES, assertAuthorized, authorize, isRole, type Operation, type Role } from './access.js'
import { OPERATION_OF_COMMAND, OPERATION_OF_LOG } from './session.js'

// The whole matrix of the access table (TR-03109-1 §3.2.4, BSI-CC-PP-0073 FDP_ACF): every
// role × operation cell, allowed ones pass and every forbidden one throws FORBIDDEN, and the
// invariants that make the table right, not merely consistent with itself.

const cells: { role: Role; operation: Operation; allowed: boolean }[] = ROLES.flatMap((role) => OPERATIONS.map((operation) => ({
  role, operation, allowed: ACCESS_PROFILES[role].includes(operation),
})))

function forbiddenCode(role: Role, operation: Operation): string {
  try {
    assertAuthorized(role, operation)
  } catch (err) {
    if (isGatewayError(err)) return err.code
    throw err
  }
  return 'allowed'
}

describe('access table: every cell', () => {
  it(`covers ${ROLES.length} roles × ${OPERATIONS.length} operations`, () => {
    expect(cells).toHaveLength(ROLES.length * OPERATIONS.length)
    expect(Object.keys(ACCESS_PROFILES).sort()).toEqual([...ROLES].sort())
    // The table names only known operations, each once per role.
    for (const role of ROLES) {
      const ops = ACCESS_PROFILES[role]
      expect(ops.every((o) => (OPERATIONS as readonly string[]).includes(o))).toBe(true)
      expect(new Set(ops).size).toBe(ops.length)
    }
  })

  for (const role of ROLES) {
    it(`${role}: authorize equals the table; every forbidden cell throws FORBIDDEN, every allowed one passes`, () => {
      for (const { operation, allowed } of cells.filter((c) => c.role === role)) {
        expect([operation, authorize(role, operation)]).toEqual([operation, allowed])
        expect([operation, forbiddenCode(role, operation)]).toEqual([operation, allowed ? 'allowed' : 'FORBIDDEN'])
      }
    })
  }

  it('the forbidden cells outnumber the allowed ones and each has a message naming role and operation', () => {
    const forbidden = cells.filter((c) => !c.allowed)
    expect(forbidden.length).toBeGreaterThan(cells.length / 2)
    const { role, operation } = forbidden[0]!
    expect(() => { assertAuthorized(role, operation) }).toThrow(`the role ${role} may not ${operation}`)
  })
})

describe('access table: invariants', () => {
  const readings = OPERATIONS.filter((o) => o.startsWith('readings.read.'))
  const consumerLog = OPERATIONS.filter((o) => o.startsWith('log.consumer.'))

  it('the GWA administers but never reads readings or a consumer log (TR-03109-1 §3.2.4)', () => {
    for (const o of [...readings, ...consumerLog]) expect([o, authorize('gwa', o)]).toEqual([o, false])
    expect(readings.length).toBeGreaterThan(0)
    expect(consumerLog.length).toBeGreaterThan(0)
  })

  it('nobody has readings.read.any', () => {
    for (const role of ROLES) expect([role, authorize(role, 'readings.read.any')]).toEqual([role, false])
  })

  it('EMT roles only receive their tariff results or relay the CLS channel', () => {
    for (const role of ROLES.filter((r) => r.startsWith('emt:'))) {
      expect([role, ACCESS_PROFILES[role].every((o) => o === 'meter-data.receive' || o === 'cls.relay')]).toEqual([role, true])
      for (const o of readings) expect(authorize(role, o)).toBe(false)
    }
  })

  it('the service technician sees device state and the system and calibration logs, no readings and no consumer log', () => {
    for (const o of [...readings, ...consumerLog]) expect([o, authorize('technician', o)]).toEqual([o, false])
    expect(authorize('technician', 'device.status')).toBe(true)
  })

  it('only the consumer reads readings and only their own; only the GWA changes the gateway', () => {
    for (const role of ROLES) expect([role, authorize(role, 'readings.read.own')]).toEqual([role, role === 'consumer'])
    for (const o of ['config.apply', 'time.set', 'certificates.manage', 'firmware.update'] as const) {
      expect([o, ROLES.filter((r) => authorize(r, o))]).toEqual([o, ['gwa']])
    }
  })

  it('every admin command maps to an operation the GWA holds, except reading the consumer and calibration logs', () => {
    for (const [type, op] of Object.entries(OPERATION_OF_COMMAND)) expect([type, authorize('gwa', op)]).toEqual([type, true])
    expect(Object.fromEntries(Object.entries(OPERATION_OF_LOG).map(([log, op]) => [log, authorize('gwa', op)]))).toEqual({ system: true, calibration: false, consumer: false })
  })

  it('isRole knows exactly the table\'s roles', () => {
    for (const r of ROLES) expect(isRole(r)).toBe(true)
    for (const r of ['admin', 'root', 'emt', 'emt:taf3', '', 'GWA']) expect(isRole(r)).toBe(false)
  })
})
