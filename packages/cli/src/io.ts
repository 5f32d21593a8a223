import { readFile } from 'node:fs/promises'

/**
 * Everything a command touches outside its own arguments. Injected so tests
 * capture output and feed standard input without spawning a process (STYLE.md rule 20).
 */
export interface CliIo {
  /** Writes text as is (no newline added). */
  readonly stdout: (text: string) => void
  /** Writes bytes as they are (DER, decrypted content); no encoding, no newline. */
  readonly stdoutBytes: (bytes: Uint8Array) => void
  readonly stderr: (text: string) => void
  /** Standard input as chunks; read at most once. */
  readonly stdin: () => AsyncIterable<Uint8Array>
  readonly readFile: (path: string) => Promise<Uint8Array>
}

export function createProcessIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stdoutBytes: (bytes) => process.stdout.write(bytes),
    stderr: (text) => process.stderr.write(text),
    stdin: () => process.stdin,
    readFile: async (path) => new Uint8Array(await readFile(path)),
  }
}

/** Reads all of standard input. */
export async function readAll(io: CliIo): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const chunk of io.stdin()) chunks.push(chunk)
  return new Uint8Array(Buffer.concat(chunks))
}

/** Yields standard input line by line (without the line end), skipping blank lines. */
export async function* readLines(io: CliIo): AsyncGenerator<string> {
  const decoder = new TextDecoder()
  let pending = ''
  for await (const chunk of io.stdin()) {
    pending += decoder.decode(chunk, { stream: true })
    let nl: number
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl).replace(/\r$/, '')
      pending = pending.slice(nl + 1)
      if (line.trim() !== '') yield line
    }
  }
  pending += decoder.decode()
  if (pending.trim() !== '') yield pending.replace(/\r$/, '')
}
