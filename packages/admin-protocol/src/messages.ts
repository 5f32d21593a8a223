import {
  ADMIN_COMMANDS_ANSWER_FORMAT, ADMIN_REPORT_FORMAT, ADMIN_RESULTS_FORMAT, AdminCommandsAnswer, AdminReport, AdminResults,
} from './formats.js'
import { checkValue, decodeJsonAs, encodeUtf8 } from './json.js'

/*
 * The unsigned bodies of an admin session (docs/admin-protocol.md "Admin session"): they
 * travel inside mutual TLS, so they are plain JSON; decode checks them as strictly as the
 * signed objects (UNSUPPORTED_FORMAT, MALFORMED), encode checks before writing.
 */

export function decodeAdminReport(bytes: Uint8Array): AdminReport {
  return decodeJsonAs(bytes, AdminReport, ADMIN_REPORT_FORMAT, false)
}

export function encodeAdminReport(report: AdminReport): Uint8Array {
  return encodeUtf8(JSON.stringify(checkValue(report, AdminReport, ADMIN_REPORT_FORMAT)))
}

export function decodeAdminResults(bytes: Uint8Array): AdminResults {
  return decodeJsonAs(bytes, AdminResults, ADMIN_RESULTS_FORMAT, false)
}

export function encodeAdminResults(results: AdminResults): Uint8Array {
  return encodeUtf8(JSON.stringify(checkValue(results, AdminResults, ADMIN_RESULTS_FORMAT)))
}

export function decodeCommandsAnswer(bytes: Uint8Array): AdminCommandsAnswer {
  return decodeJsonAs(bytes, AdminCommandsAnswer, ADMIN_COMMANDS_ANSWER_FORMAT, false)
}

export function encodeCommandsAnswer(answer: AdminCommandsAnswer): Uint8Array {
  return encodeUtf8(JSON.stringify(checkValue(answer, AdminCommandsAnswer, ADMIN_COMMANDS_ANSWER_FORMAT)))
}
