import type { CliIo } from './io.js'
import { runCli } from './program.js'

/** Runs the CLI in-process with captured output and the given standard input. */
export async function runCaptured(argv: readonly string[], stdin = ''): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const io: CliIo = {
    stdout: (t) => { stdout += t },
    stderr: (t) => { stderr += t },
    stdin: () => once(new TextEncoder().encode(stdin)),
    readFile: async (path) => new Uint8Array(await (await import('node:fs/promises')).readFile(path)),
  }
  const status = await runCli(argv, io)
  return { status, stdout, stderr }
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield await Promise.resolve(bytes)
}
