// A virtual serial line: a `socat` pty pair, its two ends as symlinks A and B in `dir`.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'

export interface PtyPair {
  readonly a: string
  readonly b: string
  close(): Promise<void>
}

/** Starts socat and waits (bounded, 5 s) until both ends exist. */
export async function openPtyPair(dir: string): Promise<PtyPair> {
  const a = join(dir, 'ttyA')
  const b = join(dir, 'ttyB')
  const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' })
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
  }
  const deadline = Date.now() + 5000
  while (!(existsSync(a) && existsSync(b))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      await close()
      throw new Error('socat did not create the pty pair within 5 s')
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return { a, b, close }
}
