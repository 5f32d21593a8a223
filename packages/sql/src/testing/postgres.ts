import { execFileSync, spawnSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/*
 * A throwaway PostgreSQL cluster for tests: initdb into a temp dir, pg_ctl start on a free
 * port with the socket in that dir, stop and remove afterwards. As root, PostgreSQL refuses
 * to run, so initdb/pg_ctl run as the `postgres` user (runuser). The binaries come from
 * `pg_config --bindir` or /usr/lib/postgresql/<version>/bin (Debian package `postgresql`,
 * installed by scripts/setup.sh).
 *
 * Missing binaries make `startTestPostgres` throw: the PostgreSQL suite fails loudly in CI.
 * Only a developer's SMGW_SKIP_POSTGRES=1 skips it (see `shouldSkipPostgres`).
 */

export interface TestPostgres {
  readonly connectionString: string
  /** A fresh database in the cluster (each test file or test can have its own). */
  createDatabase(name: string): string
  stop(): void
}

/** Whether a developer asked to skip the PostgreSQL suite (env SMGW_SKIP_POSTGRES=1). Tests only. */
export function shouldSkipPostgres(): boolean {
  return process.env.SMGW_SKIP_POSTGRES === '1'
}

export function findPostgresBinDir(): string | undefined {
  const candidates: string[] = []
  const r = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' })
  if (r.status === 0) candidates.push(r.stdout.trim())
  const root = '/usr/lib/postgresql'
  if (existsSync(root)) {
    for (const v of readdirSync(root).sort((a, b) => Number(b) - Number(a))) candidates.push(join(root, v, 'bin'))
  }
  return candidates.find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'pg_ctl')) && existsSync(join(d, 'postgres')))
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      const port = typeof a === 'object' && a !== null ? a.port : 0
      s.close(() => { resolve(port) })
    })
  })
}

export async function startTestPostgres(): Promise<TestPostgres> {
  const bin = findPostgresBinDir()
  if (bin === undefined) {
    throw new Error('PostgreSQL server binaries not found (pg_config --bindir, /usr/lib/postgresql/*/bin): run scripts/setup.sh (Debian package postgresql), or set SMGW_SKIP_POSTGRES=1 to skip on a developer machine')
  }
  const asRoot = process.getuid?.() === 0
  const dir = mkdtempSync(join(tmpdir(), 'smgw-pg-'))
  const data = join(dir, 'data')
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
    chownSync(dir, uid, gid)
  }
  const run = (cmd: string, args: string[]) => {
    const full = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]] as const : [join(bin, cmd), args] as const
    const r = spawnSync(full[0], full[1], { encoding: 'utf8', cwd: dir })
    if (r.status !== 0) throw new Error(`${cmd} failed (${String(r.status)}): ${r.stderr || r.stdout}`)
  }
  const port = await freePort()
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'])
  const opts = `-p ${String(port)} -k ${dir} -c listen_addresses='' -c fsync=off -c full_page_writes=off -c synchronous_commit=off`
  run('pg_ctl', ['-D', data, '-o', opts, '-w', '-t', '60', '-l', join(dir, 'log'), 'start'])
  const url = (db: string) => `postgresql://postgres@/${db}?host=${encodeURIComponent(dir)}&port=${String(port)}`
  let stopped = false
  return {
    connectionString: url('postgres'),
    createDatabase: (name) => {
      if (!/^[a-z_][a-z0-9_]{0,40}$/.test(name)) throw new Error(`database name ${name}`)
      run('psql', ['-h', dir, '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-q', '-c', `CREATE DATABASE ${name}`])
      return url(name)
    },
    stop: () => {
      if (stopped) return
      stopped = true
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'])
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
  }
}
