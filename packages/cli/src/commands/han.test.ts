import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStore, verifyPassword } from '@smgw/gateway'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCaptured } from '../testing.js'

let dir: string
const p = (...parts: string[]) => join(dir, ...parts)

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'smgw-han-cli-'))
  writeFileSync(p('gateway.json'), JSON.stringify({
    gatewayId: 'smgw-0001', store: { path: 'gateway.db' }, logs: { sigKey: 'sig.key.pem', sigCertificate: 'sig.cert.pem' },
    meters: [{ id: 'm-1', kind: 'sml', intervalS: 2, consumer: 'c-1', transport: { file: 'm1.bin' } }],
  }))
  writeFileSync(p('tech.pw'), 'technician passphrase\n')
})
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

const config = () => ['--config', p('gateway.json')]
const account = (name: string) => {
  const store = openStore(p('gateway.db'), { now: () => new Date() })
  try { return store.han.account(name) } finally { store.close() }
}

describe('smgw han user', () => {
  it('adds a consumer account with the password from stdin and a technician from a file; lists them', async () => {
    const add = await runCaptured(['han', 'user', 'add', 'alice', '--consumer', 'c-1', ...config()], 'a long passphrase\n')
    expect(add.stderr).toBe('')
    expect(add.status).toBe(0)
    expect(add.stdout).toBe('account alice added\n')
    expect(await verifyPassword('a long passphrase', account('alice')!.password)).toBe(true)
    expect((await runCaptured(['han', 'user', 'add', 'tech-1', '--technician', '--password-file', p('tech.pw'), ...config()])).status).toBe(0)
    expect(await verifyPassword('technician passphrase', account('tech-1')!.password)).toBe(true)
    const list = await runCaptured(['han', 'user', 'list', '--json', ...config()])
    expect(JSON.parse(list.stdout)).toMatchObject({ accounts: [{ username: 'alice', role: 'consumer', consumer: 'c-1' }, { username: 'tech-1', role: 'technician' }] })
    expect(list.stdout).not.toContain('scrypt')
    expect((await runCaptured(['han', 'user', 'list', ...config()])).stdout).toBe('alice  consumer  consumer c-1\ntech-1  technician\n')
  })

  it('refuses an unknown consumer, a short password, a taken username (1) and a missing role or password (2)', async () => {
    const unknown = await runCaptured(['han', 'user', 'add', 'bob', '--consumer', 'c-9', ...config()], 'a long passphrase\n')
    expect(unknown.status).toBe(1)
    expect(unknown.stderr).toContain('HAN_ACCOUNT_INVALID')
    expect((await runCaptured(['han', 'user', 'add', 'bob', '--consumer', 'c-1', ...config()], 'short\n')).status).toBe(1)
    expect((await runCaptured(['han', 'user', 'add', 'alice', '--consumer', 'c-1', ...config()], 'a long passphrase\n')).status).toBe(1)
    expect((await runCaptured(['han', 'user', 'add', 'bob', ...config()], 'a long passphrase\n')).status).toBe(2)
    expect((await runCaptured(['han', 'user', 'add', 'bob', '--consumer', 'c-1', ...config()], '')).status).toBe(2)
    expect((await runCaptured(['han', 'user', 'add', 'bob', '--consumer', 'c-1', '--config', p('missing.json')], 'a long passphrase\n')).status).toBe(2)
    // No --password option exists: a password on the command line is a usage error.
    expect((await runCaptured(['han', 'user', 'add', 'bob', '--consumer', 'c-1', '--password', 'x', ...config()])).status).toBe(2)
  })

  it('sets a password and removes an account', async () => {
    const pw = await runCaptured(['han', 'user', 'passwd', 'alice', ...config()], 'another passphrase\n')
    expect(pw.status).toBe(0)
    expect(await verifyPassword('another passphrase', account('alice')!.password)).toBe(true)
    expect((await runCaptured(['han', 'user', 'passwd', 'nobody', ...config()], 'another passphrase\n')).status).toBe(1)
    expect((await runCaptured(['han', 'user', 'remove', 'alice', ...config()])).status).toBe(0)
    expect(account('alice')).toBeUndefined()
    expect((await runCaptured(['han', 'user', 'remove', 'alice', ...config()])).status).toBe(1)
  })

  it('--help shows examples', async () => {
    const h = await runCaptured(['han', 'user', 'add', '--help'])
    expect(h.status).toBe(0)
    expect(h.stdout).toContain('smgw han user add alice --consumer c-1')
  })
})
