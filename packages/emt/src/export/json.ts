import type { ValueRow } from '../repository/types.js'
import { groupValues } from './series.js'

/** The JSON export: metering points → series → values; values exact (mantissa strings), times UTC. */
export function formatJsonExport(rows: readonly ValueRow[]): string {
  return `${JSON.stringify({
    format: 'smgw-emt-export', version: 1,
    meteringPoints: groupValues(rows).map((p) => ({
      id: p.id, kind: p.kind,
      series: p.series.map((s) => ({
        obis: s.obis, unit: s.unit, scaler: s.scaler, kind: s.kind, register: s.register, periodSeconds: s.periodSeconds,
        values: s.values.map((v) => ({ time: v.time.toISOString(), value: v.value, status: v.status, gatewayId: v.gatewayId, messageId: v.messageId })),
      })),
    })),
  })}\n`
}
