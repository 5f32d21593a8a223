/** Exit statuses shared by every subcommand. */
export const EXIT_OK = 0
/** The operation ran but an input did not decode / verify / validate. */
export const EXIT_FAILED = 1
/** The command line itself was wrong. */
export const EXIT_USAGE = 2

/** Thrown by a command for a usage problem commander cannot see (e.g. a malformed hex argument). */
export class UsageError extends Error {
  override name = 'UsageError'
}
