import type { CliIo } from '../../io.js'
import { readLines } from '../../io.js'
import { EXIT_FAILED, EXIT_OK } from '../../exit.js'
import { toJson } from '../../json.js'

/**
 * The decode contract (stable; later tooling depends on it): every result carries `ok`,
 * failures carry `error: { code, message }` with the package error's stable code.
 */
export type DecodeOutput =
  | ({ readonly ok: true } & Record<string, unknown>)
  | { readonly ok: false; readonly error: { readonly code: string; readonly message: string } }

export function failure(code: string, message: string): DecodeOutput {
  return { ok: false, error: { code, message } }
}

/** Maps any thrown value to a failure; package errors keep their `code`. */
export function failureFrom(err: unknown): DecodeOutput {
  if (err instanceof Error && 'code' in err && typeof err.code === 'string') return failure(err.code, err.message)
  return failure('INTERNAL', err instanceof Error ? err.message : String(err))
}

/** Prints one result as one JSON object and returns the exit status. */
export function printOne(io: CliIo, output: DecodeOutput, pretty: boolean): number {
  io.stdout(toJson(output, pretty ? 2 : undefined) + '\n')
  return output.ok ? EXIT_OK : EXIT_FAILED
}

/** `--jsonl`: one input per line of standard input, one JSON object per line out. */
export async function printLines(io: CliIo, decodeLine: (line: string) => DecodeOutput): Promise<number> {
  let status = EXIT_OK
  for await (const line of readLines(io)) {
    let output: DecodeOutput
    try {
      output = decodeLine(line.trim())
    } catch (err) {
      output = failureFrom(err)
    }
    if (!output.ok) status = EXIT_FAILED
    io.stdout(toJson(output) + '\n')
  }
  return status
}

/** Parses a hex argument (spaces, colons and a 0x prefix allowed). */
export function parseHex(text: string): Uint8Array | undefined {
  const clean = text.trim().replace(/^0x/i, '').replace(/[\s:]/g, '')
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) return undefined
  return new Uint8Array(Buffer.from(clean, 'hex'))
}
