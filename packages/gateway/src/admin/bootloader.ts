import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { open, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/*
 * The one durable switch the administered state is built on (firmware slot pointer, the
 * certificate state): write a temporary file beside the target, fsync it, rename it over the
 * target (POSIX rename(2) replaces atomically), fsync the directory so the rename itself
 * survives a power cut. A reader sees the old file or the new one, never a mixture.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  const file = await open(tmp, 'wx', mode)
  try {
    await file.writeFile(data)
    await file.sync()
  } catch (err) {
    await file.close()
    await rm(tmp, { force: true })
    throw err
  }
  await file.close()
  try {
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
  await syncDirectory(dirname(path))
}

/** fsync of a directory: makes a rename or a new file in it durable (Linux; a no-op where directories cannot be opened). */
export async function syncDirectory(dir: string): Promise<void> {
  let handle
  try {
    handle = await open(dir, 'r')
  } catch {
    return
  }
  try {
    await handle.sync()
  } catch {
    // Some file systems refuse fsync on directories (EINVAL); the rename is still atomic there.
  } finally {
    await handle.close()
  }
}

/**
 * The default health probe of a firmware image (docs/admin-protocol.md "Firmware package"):
 * `node image.mjs health` in the image's folder must exit 0 within `timeoutMs`. The child is
 * killed (SIGKILL) at the timeout — a hanging image counts as unhealthy. It gets an empty
 * environment (least privilege: no PIN or passphrase of the gateway process reaches it; node
 * is started by its own path, `process.execPath`). Children the image itself starts are not tracked (a simulation of a boot,
 * not a sandbox).
 */
export function runImageHealth(imagePath: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [imagePath, 'health'], {
      cwd: dirname(imagePath), stdio: 'ignore', timeout: timeoutMs, killSignal: 'SIGKILL',
      env: {},
    })
    child.once('error', () => { resolve(false) })
    child.once('exit', (code, signal) => { resolve(code === 0 && signal === null) })
  })
}
