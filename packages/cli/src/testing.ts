import { readFile } from 'node:fs/promises'
import type { CliIo } from './io.js'
import { runCli } from './program.js'

export interface CapturedRun {
  readonly status: number
  /** Standard output as text (UTF-8 of everything written, text and bytes alike). */
  readonly stdout: string
  /** Standard output exactly as written, in order (text as UTF-8, bytes as they are). */
  readonly stdoutBytes: Uint8Array
  readonly stderr: string
}

/** Runs the CLI in-process with captured output and the given standard input. */
export async function runCaptured(argv: readonly string[], stdin: string | Uint8Array = ''): Promise<CapturedRun> {
  const out: Uint8Array[] = []
  let stderr = ''
  const io: CliIo = {
    stdout: (t) => { out.push(new TextEncoder().encode(t)) },
    stdoutBytes: (b) => { out.push(new Uint8Array(b)) },
    stderr: (t) => { stderr += t },
    stdin: () => once(typeof stdin === 'string' ? new TextEncoder().encode(stdin) : stdin),
    readFile: async (path) => new Uint8Array(await readFile(path)),
  }
  const status = await runCli(argv, io)
  const stdoutBytes = new Uint8Array(Buffer.concat(out))
  return { status, stdout: new TextDecoder().decode(stdoutBytes), stdoutBytes, stderr }
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield await Promise.resolve(bytes)
}
