import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { createKeyObjectSigner, decodeCertificates, decodePrivateKey } from '@smgw/crypto'
import { createGatewayLogs, exportLogSince, openStore } from '@smgw/gateway'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCaptured } from '../testing.js'

let dir: string
const p = (...parts: string[]) => join(dir, ...parts)
const GW = 'pki/gateways/smgw-0001'
let start: Date

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smgw-log-cli-'))
  const init = await runCaptured(['pki', 'init', p('pki'), '--gateways', '1'])
  expect(init.status).toBe(0)
  // A store with logs over two legal days, signed with the demo gateway's SIG key.
  // The demo certificates start now, so the log starts at 10:00 UTC of the day after (heads are validated at their signing time).
  const [cert] = decodeCertificates(readFileSync(p(GW, 'sig.cert.pem')))
  start = new Date(Math.floor(cert!.notBefore.getTime() / 86_400_000) * 86_400_000 + 86_400_000 + 10 * 3_600_000)
  let t = start.getTime()
  const now = () => new Date(t)
  const store = openStore(p('gateway.db'), { now })
  const logs = createGatewayLogs({ store, signer: createKeyObjectSigner(decodePrivateKey(readFileSync(p(GW, 'sig.key.pem')))), certificate: cert!.der, now })
  for (let i = 0; i < 6; i++) {
    await logs.consumer('c-1', { type: 'data-sent', fields: { recipient: 'EMT-1', purpose: 'taf7', dataClass: 'load-profile', text: `day values ${i} sent to EMT-1` } })
    await logs.system({ type: 'login-succeeded', fields: { interface: 'wan', role: 'gwa' } })
    t += 8 * 3_600_000
  }
  store.close()
}, 60_000)

afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

function tamperedCopy(name: string, sql: string): string {
  const path = p(name)
  writeFileSync(path, readFileSync(p('gateway.db')))
  const db = new Database(path)
  db.exec(sql)
  db.close()
  return path
}

describe('smgw log verify', () => {
  it('a store: every chain verifies under the given SIG certificate (exit 0)', async () => {
    const r = await runCaptured(['log', 'verify', p('gateway.db'), '--cert', p(GW, 'sig.cert.pem')])
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/^consumer log of consumer c-1: ok, 6 entries, 2 signed day heads, signed under the given certificate; entry 6 not signed yet$/m)
    expect(r.stdout).toMatch(/^system log: ok, 6 entries/m)
  })

  it('a range export (what the GWA reads with read-log sinceSeq) names its first and last entry and the unsigned tail', async () => {
    const store = openStore(p('gateway.db'), { now: () => start })
    try {
      writeFileSync(p('range.json'), exportLogSince(store, 'consumer', 'c-1', 3))
    } finally {
      store.close()
    }
    const r = await runCaptured(['log', 'verify', p('range.json'), '--cert', p(GW, 'sig.cert.pem')])
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/^consumer log of consumer c-1: ok, \d+ entries \(entries (\d+)…6, anchored by the signed head before them\), \d+ signed day heads?, signed under the given certificate; entry 6 not signed yet$/m)
  })

  it('--root/--chain validates the certificate path; --json reports each chain', async () => {
    const r = await runCaptured(['log', 'verify', p('gateway.db'), '--root', p('pki/root-ca/ca.cert.pem'), '--chain', p('pki/chain.pem'), '--json'])
    expect(r.status).toBe(0)
    const json = JSON.parse(r.stdout) as { ok: boolean; chains: { ok: boolean; trust: string; log: string }[] }
    expect(json.ok).toBe(true)
    expect(json.chains.map((c) => [c.log, c.trust])).toEqual([['consumer', 'path'], ['system', 'path']])
    const foreign = await runCaptured(['log', 'verify', p('gateway.db'), '--root', p('pki/sub-ca-emt/ca.cert.pem')])
    expect(foreign.status).toBe(1)
    expect(foreign.stderr).toMatch(/CERT_INVALID/)
  })

  it('a tampered store: exit 1 naming the first bad entry and the reason', async () => {
    const changed = tamperedCopy('changed.db', "UPDATE log_entries SET fields = replace(fields, 'EMT-1', 'EMT-9') WHERE log = 'consumer' AND seq = 2")
    const r = await runCaptured(['log', 'verify', changed, '--cert', p(GW, 'sig.cert.pem')])
    expect(r.status).toBe(1)
    expect(r.stdout).toMatch(/^consumer log of consumer c-1: FAILED at entry 2: HASH_MISMATCH/m)
    expect(r.stdout).toMatch(/^system log: ok/m)
    expect(r.stderr).toBe('smgw log verify: consumer log of consumer c-1: first bad entry 2: HASH_MISMATCH\n')
    const deleted = tamperedCopy('deleted.db', "DELETE FROM log_entries WHERE log = 'system' AND seq = 4")
    const j = await runCaptured(['log', 'verify', deleted, '--json'])
    expect(j.status).toBe(1)
    expect((JSON.parse(j.stdout) as { chains: unknown[] }).chains).toContainEqual(expect.objectContaining({ ok: false, log: 'system', seq: 4, reason: 'SEQ_GAP' }))
    const signature = tamperedCopy('signature.db', "UPDATE log_heads SET signature = zeroblob(70) WHERE log = 'consumer'")
    expect((await runCaptured(['log', 'verify', signature])).stderr).toMatch(/first bad entry \d+: BAD_SIGNATURE/)
  })

  it('an export of one consumer verifies offline; a changed byte does not', async () => {
    const out = p('c-1.jsonl')
    const e = await runCaptured(['log', 'export', p('gateway.db'), '--log', 'consumer', '--consumer', 'c-1', '--out', out])
    expect(e.status).toBe(0)
    const r = await runCaptured(['log', 'verify', out, '--cert', p(GW, 'sig.cert.pem')])
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/^consumer log of consumer c-1: ok, 6 entries/)
    writeFileSync(p('c-1-bad.jsonl'), readFileSync(out, 'utf8').replace('day values 3', 'day values 4'))
    const bad = await runCaptured(['log', 'verify', p('c-1-bad.jsonl')])
    expect(bad.status).toBe(1)
    expect(bad.stderr).toMatch(/first bad entry 4: HASH_MISMATCH/)
    writeFileSync(p('c-1-broken.jsonl'), readFileSync(out, 'utf8').replace('"kind":"entry"', '"kind": "entry"'))
    const broken = await runCaptured(['log', 'verify', p('c-1-broken.jsonl')])
    expect(broken.status).toBe(1)
    expect(broken.stderr).toMatch(/LOG_EXPORT_MALFORMED/)
    const system = await runCaptured(['log', 'export', p('gateway.db'), '--log', 'system'])
    expect(system.status).toBe(0)
    expect(system.stdout.split('\n')[0]).toMatch(/"format":"smgw-log-export\/1","log":"system","stream":""/)
  })

  it('a file that is neither store nor export: exit 1 with LOG_SOURCE_UNKNOWN; a missing file: exit 1', async () => {
    const r = await runCaptured(['log', 'verify', p(GW, 'sig.cert.pem')])
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/LOG_SOURCE_UNKNOWN/)
    expect((await runCaptured(['log', 'verify', p('missing.db')])).status).toBe(1)
  })

  it('usage errors exit 2', async () => {
    expect((await runCaptured(['log', 'verify'])).status).toBe(2)
    expect((await runCaptured(['log', 'verify', p('gateway.db'), '--chain', p('pki/chain.pem')])).status).toBe(2)
    expect((await runCaptured(['log', 'export', p('gateway.db'), '--log', 'consumer'])).status).toBe(2)
    expect((await runCaptured(['log', 'export', p('gateway.db'), '--log', 'audit'])).status).toBe(2)
    expect((await runCaptured(['log', 'export', p('gateway.db'), '--log', 'consumer', '--consumer', 'nobody'])).status).toBe(2)
  })
})

describe('smgw log show and --help', () => {
  it('lists entries with the signed day heads marked', async () => {
    const r = await runCaptured(['log', 'show', p('gateway.db'), '--log', 'consumer'])
    expect(r.status).toBe(0)
    expect(r.stdout.startsWith(`consumer log of consumer c-1\n       1  ${start.toISOString()}  data-sent  dataClass="load-profile" purpose="taf7" recipient="EMT-1" text="day values 0 sent to EMT-1"\n`)).toBe(true)
    expect(r.stdout).toContain(`── day ${start.toISOString().slice(0, 10)} signed at`)
    expect(r.stdout).not.toContain('system log')
    const j = await runCaptured(['log', 'show', p('gateway.db'), '--json'])
    expect((JSON.parse(j.stdout) as { log: string; entries: unknown[] }[]).map((c) => [c.log, c.entries.length])).toEqual([['consumer', 6], ['system', 6]])
  })

  it('--help explains the logs with examples', async () => {
    const r = await runCaptured(['log', '--help'])
    expect(r.status).toBe(0)
    expect(r.stdout).toContain('Examples:')
    expect(r.stdout).toContain('smgw log verify')
  })
})
