import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer as createNetServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Server, TLSSocket } from 'node:tls'
import { AsnConvert } from '@peculiar/asn1-schema'
import fc from 'fast-check'
import { SubjectPublicKeyInfo } from '@peculiar/asn1-x509'
import { createKeyObjectSigner, createPkcs11SecurityModule, createSoftwareSecurityModule, encodePem, findPkcs11Library, PKCS11_ENGINE_PATHS, type SecurityModule } from '@smgw/crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { issueCrl } from './crl.js'
import { decodeCertificate } from './certificate.js'
import { PkiError } from './errors.js'
import { issueCertificate } from './issue.js'
import { createTestPki, newKey, resign, serial, type TestPki } from './testing.js'
import { connectTls, createTlsContext, createTlsServer, peerCertificateOfSession, tlsIdentityKey, TLS_CIPHERS, TLS_CURVES, type TlsContext, type TlsCurve, type TlsIdentity, type TlsTrust } from './tls.js'

let t: TestPki
let other: TestPki
let dir: string
const GW = 'gateways/smgw-0001'
/** OpenSSL 3.0's default groups lack brainpool; a TLS 1.2 client must offer the server certificate's curve. */
const CURVES = TLS_CURVES
const servers: Server[] = []
const sockets: TLSSocket[] = []
const children: ChildProcess[] = []

/** The peer certificates the tests need beyond the demo PKI, issued once. */
const bad: Record<string, { key: KeyObject; cert: Uint8Array; chain: Uint8Array[] }> = {}

function identity(label: string, chainLabel: string, pki: TestPki = t): TlsIdentity {
  return { key: pki.key(label), cert: pki.cert(label), chain: [pki.cert(chainLabel)] }
}
function pem(file: string, der: Uint8Array | Uint8Array[], label = 'CERTIFICATE'): string {
  const path = join(dir, file)
  writeFileSync(path, (Array.isArray(der) ? der : [der]).map((d) => encodePem(label, d)).join(''))
  return path
}
function keyPem(file: string, key: KeyObject): string {
  const path = join(dir, file)
  writeFileSync(path, key.export({ format: 'pem', type: 'pkcs8' }))
  return path
}

beforeAll(async () => {
  t = await createTestPki({ gateways: 1, emts: 1 }, new Date())
  other = await createTestPki({ gateways: 1, emts: 0 }, new Date())
  dir = mkdtempSync(join(tmpdir(), 'pki-tls-'))
  const gwCa = t.ca('sub-ca-gw')
  const leafFrom = async (profile: 'tls', spki: Uint8Array, extra: { notBefore?: Date; notAfter?: Date; tlsRole?: 'client' | 'server' } = {}) =>
    issueCertificate({
      profile, subject: { CN: 'bad peer', C: 'DE' }, publicKey: spki, serialNumber: serial(),
      notBefore: extra.notBefore ?? new Date(Date.now() - 86_400_000), notAfter: extra.notAfter ?? new Date(Date.now() + 86_400_000),
      issuer: gwCa, tlsRole: extra.tlsRole ?? 'client',
    })
  const k1 = newKey('brainpoolP256r1')
  bad.expired = { key: k1, chain: [t.cert('sub-ca-gw')], cert: await leafFrom('tls', createKeyObjectSigner(k1).publicKey, { notBefore: new Date(Date.now() - 10 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) }) }
  const k2 = newKey('brainpoolP256r1')
  bad.serverOnly = { key: k2, chain: [t.cert('sub-ca-gw')], cert: await leafFrom('tls', createKeyObjectSigner(k2).publicKey, { tlsRole: 'server' }) }
  const k3 = newKey('secp521r1')
  bad.p521 = {
    key: k3, chain: [t.cert('sub-ca-gw')],
    cert: await resign(t.cert(`${GW}/tls`), gwCa.signer, (tbs) => {
      tbs.subjectPublicKeyInfo = AsnConvert.parse(createPublicKey(k3).export({ format: 'der', type: 'spki' }), SubjectPublicKeyInfo)
    }),
  }
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
  bad.rsa = {
    key: rsa, chain: [t.cert('sub-ca-gw')],
    cert: await resign(t.cert(`${GW}/tls`), gwCa.signer, (tbs) => {
      tbs.subjectPublicKeyInfo = AsnConvert.parse(createPublicKey(rsa).export({ format: 'der', type: 'spki' }), SubjectPublicKeyInfo)
    }),
  }
}, 30_000)

afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy()
  for (const s of servers.splice(0)) s.close()
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
})
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

/** A free TCP port on 127.0.0.1 (for an openssl s_server). */
async function freePort(): Promise<number> {
  const s = createNetServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const addr = s.address()
  await new Promise<void>((r) => s.close(() => { r() }))
  if (addr === null || typeof addr === 'string') throw new Error('no port')
  return addr.port
}

interface ServerRun {
  readonly port: number
  readonly accepted: Promise<TLSSocket>
  readonly rejected: Promise<PkiError>
}

/** Our server (GWA by default) on 127.0.0.1, port 0; it writes "hello\n" to every accepted client. */
async function startServer(ctx: TlsContext): Promise<ServerRun> {
  let accept: (s: TLSSocket) => void = () => undefined
  let reject: (e: PkiError) => void = () => undefined
  const accepted = new Promise<TLSSocket>((r) => { accept = r })
  const rejected = new Promise<PkiError>((r) => { reject = r })
  const server = createTlsServer(ctx, {
    onConnection: (socket) => {
      sockets.push(socket)
      socket.end('hello\n')
      accept(socket)
    },
    onReject: (err) => { reject(err) },
  })
  servers.push(server)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const addr = server.address()
  if (addr === null || typeof addr === 'string') throw new Error('no port')
  return { port: addr.port, accepted, rejected }
}

function gwaServerContext(trust: TlsTrust = { roots: [t.cert('root')] }): TlsContext {
  return createTlsContext({ identity: identity('gwa/tls', 'sub-ca-emt'), trust })
}

async function connect(ctx: TlsContext, port: number): Promise<TLSSocket> {
  const socket = await connectTls(ctx, { host: '127.0.0.1', port })
  sockets.push(socket)
  return socket
}

async function rejectionOf(p: Promise<unknown>): Promise<PkiError> {
  try {
    await p
  } catch (err) {
    expect(err).toBeInstanceOf(PkiError)
    return err as PkiError
  }
  throw new Error('expected a rejection')
}

/** First rejection seen on either side (the other side usually sees only the alert or the close). */
async function firstRejection(run: ServerRun, client: Promise<unknown>): Promise<PkiError> {
  const clientSide = client.then(() => new Promise<never>(() => undefined), (err: unknown) => {
    expect(err).toBeInstanceOf(PkiError)
    return err as PkiError
  })
  return Promise.race([run.rejected, clientSide])
}

describe('TR-03109-3 TLS 1.2 between node endpoints', () => {
  it('gateway (client) ↔ GWA (server): mutual authentication with brainpool certificates', async () => {
    const run = await startServer(gwaServerContext())
    const socket = await connect(createTlsContext({ identity: identity(`${GW}/tls`, 'sub-ca-gw'), trust: { roots: [t.cert('root')] } }), run.port)
    expect(socket.getProtocol()).toBe('TLSv1.2')
    expect(TLS_CIPHERS.wan).toContain(socket.getCipher().name)
    const serverSide = await run.accepted
    expect(decodeCertificate(new Uint8Array(serverSide.getPeerCertificate().raw)).subject).toContain('CN=smgw-0001')
    const data = await new Promise<string>((r) => socket.once('data', (d: Buffer) => { r(d.toString()) }))
    expect(data).toBe('hello\n')
  })

  it('peerCertificateOfSession: the server\'s session names the client\'s leaf exactly, the client\'s the server\'s; anything else is undefined', async () => {
    const run = await startServer(gwaServerContext())
    const socket = await connect(createTlsContext({ identity: identity(`${GW}/tls`, 'sub-ca-gw'), trust: { roots: [t.cert('root')] } }), run.port)
    const serverSide = await run.accepted
    expect(peerCertificateOfSession(serverSide.getSession())).toEqual(t.cert(`${GW}/tls`))
    expect(peerCertificateOfSession(socket.getSession())).toEqual(t.cert('gwa/tls'))
    expect(peerCertificateOfSession(undefined)).toBeUndefined()
    const session = new Uint8Array(serverSide.getSession() ?? [])
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 400 }), fc.nat({ max: session.length - 1 }).map((n) => session.slice(0, n)),
      fc.tuple(fc.nat({ max: session.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([i, x]) => { const b = session.slice(); b[i] = b[i]! ^ x; return b })), (bytes) => {
      const peer = peerCertificateOfSession(bytes)
      // Never throws; what it returns is one whole DER SEQUENCE.
      if (peer !== undefined) expect(peer[0]).toBe(0x30)
    }))
  })

  it('rejects a client from another PKI (wrong CA)', async () => {
    const run = await startServer(gwaServerContext())
    const client = createTlsContext({ identity: identity(`${GW}/tls`, 'sub-ca-gw', other), trust: { roots: [t.cert('root')] } })
    const err = await firstRejection(run, connect(client, run.port))
    expect(err.code).toBe('PKI_TLS_PEER_REJECTED')
  })

  it('rejects a revoked client (our CRL check; OpenSSL is not given the CRL)', async () => {
    const gwTls = decodeCertificate(t.cert(`${GW}/tls`))
    const crl = await issueCrl({ issuer: t.ca('sub-ca-gw'), crlNumber: 5n, thisUpdate: new Date(Date.now() - 1000), nextUpdate: new Date(Date.now() + 86_400_000), revoked: [{ serialNumber: gwTls.serialNumber, revocationDate: new Date(Date.now() - 1000), reason: 'keyCompromise' }] })
    const run = await startServer(gwaServerContext({ roots: [t.cert('root')], crls: [crl] }))
    void connect(createTlsContext({ identity: identity(`${GW}/tls`, 'sub-ca-gw'), trust: { roots: [t.cert('root')] } }), run.port).catch(() => undefined)
    const err = await run.rejected
    expect(err.reason).toBe('REVOKED')
  })

  it('rejects an expired client certificate', async () => {
    const run = await startServer(gwaServerContext())
    const b = bad.expired
    if (b === undefined) throw new Error('fixture')
    const err = await firstRejection(run, connect(createTlsContext({ identity: b, trust: { roots: [t.cert('root')] } }), run.port))
    expect(err.reason).toBe('EXPIRED')
  })

  it('rejects a client whose certificate lacks clientAuth (wrong EKU)', async () => {
    const run = await startServer(gwaServerContext())
    const b = bad.serverOnly
    if (b === undefined) throw new Error('fixture')
    const err = await firstRejection(run, connect(createTlsContext({ identity: b, trust: { roots: [t.cert('root')] } }), run.port))
    expect(err.reason).toBe('EKU')
  })

  it('rejects a client with a secp521r1 key (curve not allowed)', async () => {
    const run = await startServer(gwaServerContext())
    const b = bad.p521
    if (b === undefined) throw new Error('fixture')
    const err = await firstRejection(run, connect(createTlsContext({ identity: b, trust: { roots: [t.cert('root')] } }), run.port))
    // OpenSSL already refuses it in the handshake (tls12_check_peer_sigalg: wrong curve); mapped to our code.
    expect(err.reason).toBe('CURVE_NOT_ALLOWED')
  })

  it('rejects a client with an RSA certificate', async () => {
    const run = await startServer(gwaServerContext())
    const b = bad.rsa
    if (b === undefined) throw new Error('fixture')
    const err = await firstRejection(run, connect(createTlsContext({ identity: b, trust: { roots: [t.cert('root')] } }), run.port))
    expect(err.code).toBe('PKI_TLS_PEER_REJECTED')
  })

  it('ECDHE group: brainpoolP256r1 by default; the server\'s ecdhCurves order decides among what the client offers', async () => {
    const gateway = (ecdhCurves?: readonly TlsCurve[]) => createTlsContext({ identity: identity(`${GW}/tls`, 'sub-ca-gw'), trust: { roots: [t.cert('root')] }, ...(ecdhCurves === undefined ? {} : { ecdhCurves }) })
    const groupOf = async (server: TlsContext, client: TlsContext) => {
      const run = await startServer(server)
      const socket = await connect(client, run.port)
      await run.accepted
      return socket.getEphemeralKeyInfo()
    }
    expect(await groupOf(gwaServerContext(), gateway())).toMatchObject({ type: 'ECDH', name: 'brainpoolP256r1' })
    const nistFirst = createTlsContext({ identity: identity('gwa/tls', 'sub-ca-emt'), trust: { roots: [t.cert('root')] }, ecdhCurves: ['prime256v1', 'brainpoolP256r1'] })
    expect(await groupOf(nistFirst, gateway())).toMatchObject({ type: 'ECDH', name: 'prime256v1' })
    // A gateway that offers brainpool only still gets brainpool from that server; the certificates stay brainpool either way.
    expect(await groupOf(nistFirst, gateway(['brainpoolP256r1', 'brainpoolP384r1']))).toMatchObject({ type: 'ECDH', name: 'brainpoolP256r1' })
    // No group in common: the handshake fails (OpenSSL: no shared group), nothing outside TR-03109-3 is tried.
    const nistOnly = createTlsContext({ identity: identity('gwa/tls', 'sub-ca-emt'), trust: { roots: [t.cert('root')] }, ecdhCurves: ['secp384r1'] })
    await expect(groupOf(nistOnly, gateway(['brainpoolP256r1']))).rejects.toThrow()
  })

  it('a TLS session resumes within its lifetime, never after it — a resumption in between does not extend it (TR-03109-3: at most 48 h)', async () => {
    // 3 s instead of 48 h; OpenSSL counts whole seconds from the full handshake.
    const run = await startServer(createTlsContext({ identity: identity('gwa/tls', 'sub-ca-emt'), trust: { roots: [t.cert('root')] }, sessionTimeoutSeconds: 3 }))
    const gateway = createTlsContext({ identity: identity(`${GW}/tls`, 'sub-ca-gw'), trust: { roots: [t.cert('root')] } })
    const deliver = async (session: Buffer | undefined) => {
      const socket = await connectTls(gateway, { host: '127.0.0.1', port: run.port, ...(session === undefined ? {} : { session }) })
      sockets.push(socket)
      await new Promise((r) => socket.once('data', r))
      return { resumed: socket.isSessionReused(), session: socket.getSession() ?? session }
    }
    const started = Date.now()
    const first = await deliver(undefined)
    expect(first.resumed).toBe(false)
    await new Promise((r) => setTimeout(r, started + 1500 - Date.now()))
    const second = await deliver(first.session)
    expect(second.resumed).toBe(true)
    // 4.1 s after the full handshake (> 3 s), 2.6 s after the resumption (≤ 3 s: it would resume had the resumption renewed the lifetime).
    await new Promise((r) => setTimeout(r, started + 4100 - Date.now()))
    const third = await deliver(second.session)
    expect(third.resumed).toBe(false)
    expect((await deliver(third.session)).resumed).toBe(true)
    expect(() => createTlsContext({ identity: identity('gwa/tls', 'sub-ca-emt'), trust: { roots: [t.cert('root')] }, sessionTimeoutSeconds: 48 * 3600 + 1 })).toThrow(expect.objectContaining({ code: 'PKI_BAD_ARGUMENT' }) as Error)
  })

  it('ecdhCurves outside TR-03109-3, repeated or empty: PKI_BAD_ARGUMENT', () => {
    const make = (ecdhCurves: readonly string[]) => () => createTlsContext({ identity: identity('gwa/tls', 'sub-ca-emt'), trust: { roots: [t.cert('root')] }, ecdhCurves: ecdhCurves as TlsCurve[] })
    for (const bad of [['X25519'], ['secp521r1', 'prime256v1'], ['prime256v1', 'prime256v1'], []]) {
      expect(make(bad)).toThrow(expect.objectContaining({ code: 'PKI_BAD_ARGUMENT' }) as Error)
    }
    expect(make(['secp384r1'])).not.toThrow()
  })

  it('the client rejects a server whose certificate is client-only (EKU) and a server from another PKI', async () => {
    const gwAsServer = await startServer(createTlsContext({ identity: identity(`${GW}/tls`, 'sub-ca-gw'), trust: { roots: [t.cert('root')] } }))
    const client = createTlsContext({ identity: identity('emt-1/tls', 'sub-ca-emt'), trust: { roots: [t.cert('root')] } })
    expect((await rejectionOf(connect(client, gwAsServer.port))).reason).toBe('EKU')
    const foreign = await startServer(createTlsContext({ identity: identity('gwa/tls', 'sub-ca-emt', other), trust: { roots: [t.cert('root')] } }))
    expect((await rejectionOf(connect(client, foreign.port))).reason).toBe('NO_PATH')
  })
})

describe('against openssl s_server / s_client (OpenSSL 3.0 CLI)', () => {
  function run(args: string[], stdin?: string): { child: ChildProcess; out: Promise<{ code: number | null; stdout: string; stderr: string }>; waitFor: (text: string) => Promise<void> } {
    const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] })
    children.push(child)
    let stdout = ''
    let stderr = ''
    const waiters: { text: string; resolve: () => void }[] = []
    const check = () => {
      for (const w of waiters.splice(0)) if ((stdout + stderr).includes(w.text)) w.resolve(); else waiters.push(w)
    }
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); check() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); check() })
    if (stdin !== undefined) child.stdin.end(stdin)
    const out = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => { resolve({ code, stdout, stderr }) }))
    return {
      child, out,
      waitFor: (text) => new Promise<void>((resolve, reject) => {
        waiters.push({ text, resolve })
        check()
        void out.then(() => { reject(new Error(`openssl ended before "${text}": ${stdout}${stderr}`)) })
      }),
    }
  }

  function sServer(port: number, key: KeyObject, cert: Uint8Array, chain: Uint8Array[]) {
    return run(['s_server', '-accept', `127.0.0.1:${String(port)}`, '-naccept', '1', '-tls1_2', '-key', keyPem(`srv-${String(port)}.key`, key),
      '-cert', pem(`srv-${String(port)}.pem`, cert), '-cert_chain', pem(`srv-chain-${String(port)}.pem`, chain),
      '-CAfile', pem('root.pem', t.cert('root')), '-Verify', '3', '-verify_return_error', '-named_curve', 'brainpoolP256r1'])
  }

  it('our client ↔ openssl s_server (GWA certificate): handshake, TLS 1.2, allowed suite', async () => {
    const port = await freePort()
    const srv = sServer(port, t.key('gwa/tls'), t.cert('gwa/tls'), [t.cert('sub-ca-emt')])
    await srv.waitFor('ACCEPT')
    const socket = await connect(createTlsContext({ identity: identity(`${GW}/tls`, 'sub-ca-gw'), trust: { roots: [t.cert('root')] } }), port)
    expect(socket.getProtocol()).toBe('TLSv1.2')
    expect(TLS_CIPHERS.wan).toContain(socket.getCipher().name)
  })

  it('our client rejects openssl s_server presenting an expired certificate and a client-only certificate', async () => {
    const client = createTlsContext({ identity: identity('emt-1/tls', 'sub-ca-emt'), trust: { roots: [t.cert('root')] } })
    const p1 = await freePort()
    const b = bad.expired
    if (b === undefined) throw new Error('fixture')
    const s1 = sServer(p1, b.key, b.cert, b.chain)
    await s1.waitFor('ACCEPT')
    expect((await rejectionOf(connect(client, p1))).reason).toBe('EXPIRED')
    const p2 = await freePort()
    const s2 = sServer(p2, t.key(`${GW}/tls`), t.cert(`${GW}/tls`), [t.cert('sub-ca-gw')])
    await s2.waitFor('ACCEPT')
    expect((await rejectionOf(connect(client, p2))).reason).toBe('EKU')
  })

  function sClient(port: number, extra: string[], key = t.key(`${GW}/tls`), cert = t.cert(`${GW}/tls`)) {
    return run(['s_client', '-connect', `127.0.0.1:${String(port)}`, '-key', keyPem(`cli-${String(port)}.key`, key), '-cert', pem(`cli-${String(port)}.pem`, cert),
      '-cert_chain', pem('cli-chain.pem', t.cert('sub-ca-gw')), '-CAfile', pem('root.pem', t.cert('root')), '-curves', CURVES, '-verify_return_error', ...extra], '')
  }

  it('openssl s_client (gateway certificate) ↔ our server: accepted, TLS 1.2', async () => {
    const srv = await startServer(gwaServerContext())
    const cli = sClient(srv.port, ['-tls1_2', '-ign_eof'])
    const socket = await srv.accepted
    expect(socket.getProtocol()).toBe('TLSv1.2')
    const res = await cli.out
    expect(res.stdout).toContain('hello')
    expect(res.stdout).toMatch(/Verify return code: 0 \(ok\)/)
  })

  it('openssl s_client -tls1_1 and -tls1_3 fail against our server', async () => {
    const srv = await startServer(gwaServerContext())
    const r11 = await sClient(srv.port, ['-tls1_1']).out
    expect(r11.code).not.toBe(0)
    const r13 = await sClient(srv.port, ['-tls1_3']).out
    expect(r13.code).not.toBe(0)
  })

  it('openssl s_client without a client certificate: our server refuses it (NO_PATH)', async () => {
    const srv = await startServer(gwaServerContext())
    const cli = run(['s_client', '-connect', `127.0.0.1:${String(srv.port)}`, '-tls1_2', '-CAfile', pem('root.pem', t.cert('root')), '-curves', CURVES, '-ign_eof'], '')
    expect((await srv.rejected).reason).toBe('NO_PATH')
    expect((await cli.out).stdout).not.toContain('hello')
  })

  it('HAN profile: AES-256-GCM is offered only there', async () => {
    const han = await startServer(createTlsContext({ profile: 'han', identity: identity('gwa/tls', 'sub-ca-emt'), trust: { roots: [t.cert('root')] } }))
    const ok = await sClient(han.port, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES256-GCM-SHA384', '-ign_eof']).out
    expect(ok.stdout).toContain('Cipher is ECDHE-ECDSA-AES256-GCM-SHA384')
    const wan = await startServer(gwaServerContext())
    expect((await sClient(wan.port, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES256-GCM-SHA384']).out).code).not.toBe(0)
  })

  it('openssl s_client with a cipher outside the profile fails', async () => {
    const srv = await startServer(gwaServerContext())
    const r = await sClient(srv.port, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES256-SHA384']).out
    expect(r.code).not.toBe(0)
  })

  it('openssl s_client with a revoked certificate: our server destroys it with REVOKED', async () => {
    const gwTls = decodeCertificate(t.cert(`${GW}/tls`))
    const crl = await issueCrl({ issuer: t.ca('sub-ca-gw'), crlNumber: 6n, thisUpdate: new Date(Date.now() - 1000), nextUpdate: new Date(Date.now() + 86_400_000), revoked: [{ serialNumber: gwTls.serialNumber, revocationDate: new Date(Date.now() - 1000) }] })
    const srv = await startServer(createTlsContext({ identity: identity('gwa/tls', 'sub-ca-emt'), trust: { roots: [t.cert('root')], crls: [crl] } }))
    const cli = sClient(srv.port, ['-tls1_2', '-ign_eof'])
    expect((await srv.rejected).reason).toBe('REVOKED')
    expect((await cli.out).stdout).not.toContain('hello')
  })

  it('renegotiation requested by openssl s_client is refused', async () => {
    const srv = await startServer(createTlsContext({ identity: identity('gwa/tls', 'sub-ca-emt'), trust: { roots: [t.cert('root')] } }))
    // Keep the connection open: a server that does not end the socket.
    servers[0]?.removeAllListeners('secureConnection')
    servers[0]?.on('secureConnection', (s: TLSSocket) => { sockets.push(s) })
    const cli = run(['s_client', '-connect', `127.0.0.1:${String(srv.port)}`, '-tls1_2', '-key', keyPem('reneg.key', t.key(`${GW}/tls`)), '-cert', pem('reneg.pem', t.cert(`${GW}/tls`)),
      '-cert_chain', pem('cli-chain.pem', t.cert('sub-ca-gw')), '-CAfile', pem('root.pem', t.cert('root')), '-curves', CURVES])
    await cli.waitFor('Verify return code')
    cli.child.stdin?.write('R\n')
    await cli.waitFor('RENEGOTIATING')
    cli.child.stdin?.end()
    const res = await cli.out
    // OpenSSL with SSL_OP_NO_RENEGOTIATION answers with a no_renegotiation alert: the renegotiation never completes.
    expect(res.stdout + res.stderr).toMatch(/RENEGOTIATING\n.*no renegotiation/)
  })
})

const softhsm = findPkcs11Library(existsSync)
const pkcs11Engine = findPkcs11Library(existsSync, PKCS11_ENGINE_PATHS)

describe.skipIf(softhsm === undefined || pkcs11Engine === undefined)('the client key in a security module: a PKCS#11 token through OpenSSL\'s pkcs11 engine, and the software module', () => {
  let module: SecurityModule
  let software: SecurityModule
  beforeAll(async () => {
    const tokens = join(dir, 'tokens')
    mkdirSync(tokens, { recursive: true })
    writeFileSync(join(dir, 'softhsm2.conf'), `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`)
    // SoftHSM2 reads SOFTHSM2_CONF at C_Initialize (pkcs11js here, p11-kit's proxy under the engine); this file runs in its own process.
    process.env.SOFTHSM2_CONF = join(dir, 'softhsm2.conf')
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'gateway token', '--pin', '1234', '--so-pin', '5678'])
    module = await createPkcs11SecurityModule({ library: softhsm ?? '', tokenLabel: 'gateway token', pin: '1234' })
    software = await createSoftwareSecurityModule({ dir: join(dir, 'software-module'), passphrase: 'test passphrase', scryptLogN: 10 })
  }, 30_000)
  afterAll(async () => {
    await module.close()
    await software.close()
  })

  /** A TLS client certificate for the module key `label` (generated now), from the gateway sub-CA. */
  async function clientIdentity(sm: SecurityModule, label: string): Promise<TlsIdentity> {
    const info = await sm.generateKey('brainpoolP256r1', label)
    const cert = await issueCertificate({
      profile: 'tls', tlsRole: 'client', subject: { CN: 'smgw-0001', O: 'SMGW Test', C: 'DE' }, publicKey: info.publicKey, serialNumber: serial(),
      notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 86_400_000), issuer: t.ca('sub-ca-gw'),
    })
    return { key: tlsIdentityKey(await sm.tlsPrivateKey(label)), cert, chain: [t.cert('sub-ca-gw')] }
  }

  it('a key generated on the token (not extractable) authenticates the gateway to our server; the module keeps working beside the engine', async () => {
    const id = await clientIdentity(module, 'admin.tls.1')
    expect(id.key).toMatchObject({ kind: 'engine', engine: pkcs11Engine, identifier: 'pkcs11:token=gateway%20token;object=admin.tls.1;type=private?pin-value=1234' })
    const run = await startServer(gwaServerContext())
    const socket = await connect(createTlsContext({ identity: id, trust: { roots: [t.cert('root')] } }), run.port)
    expect(socket.getProtocol()).toBe('TLSv1.2')
    const serverSide = await run.accepted
    // OpenSSL verified the CertificateVerify the token signed: the server holds the token key's certificate.
    expect(new Uint8Array(serverSide.getPeerCertificate().raw)).toEqual(id.cert)
    expect(await new Promise<string>((r) => socket.once('data', (d: Buffer) => { r(d.toString()) }))).toBe('hello\n')
    // The module's own session still signs after the engine logged in to the same token.
    expect((await module.sign('admin.tls.1', new Uint8Array([1, 2, 3]), 'SHA-256')).length).toBeGreaterThan(60)
  })

  it('openssl s_server accepts the token-held client key as well', async () => {
    const id = await clientIdentity(module, 'admin.tls.2')
    const port = await freePort()
    const srv = spawn('openssl', ['s_server', '-accept', `127.0.0.1:${String(port)}`, '-naccept', '1', '-tls1_2', '-key', keyPem('engine-srv.key', t.key('gwa/tls')),
      '-cert', pem('engine-srv.pem', t.cert('gwa/tls')), '-cert_chain', pem('engine-srv-chain.pem', [t.cert('sub-ca-emt')]),
      '-CAfile', pem('engine-root.pem', t.cert('root')), '-Verify', '3', '-verify_return_error', '-named_curve', 'brainpoolP256r1'], { stdio: ['pipe', 'pipe', 'pipe'] })
    children.push(srv)
    let out = ''
    srv.stdout.on('data', (d: Buffer) => { out += d.toString() })
    srv.stderr.on('data', (d: Buffer) => { out += d.toString() })
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => { if (out.includes('ACCEPT')) { clearInterval(timer); resolve() } }, 20)
      srv.once('close', () => { clearInterval(timer); reject(new Error(out)) })
    })
    const socket = await connect(createTlsContext({ identity: id, trust: { roots: [t.cert('root')] } }), port)
    expect(socket.getProtocol()).toBe('TLSv1.2')
    socket.end('bye\n')
    await new Promise<void>((resolve) => { srv.once('close', () => { resolve() }) })
    expect(out).toMatch(/verify return:1/)
    expect(out).toContain('CN = smgw-0001')
  })

  it('the software module hands node:tls the unsealed key', async () => {
    const id = await clientIdentity(software, 'admin.tls.1')
    expect(typeof id.key === 'object' && !('kind' in id.key) ? id.key.asymmetricKeyType : undefined).toBe('ec')
    const run = await startServer(gwaServerContext())
    await connect(createTlsContext({ identity: id, trust: { roots: [t.cert('root')] } }), run.port)
    expect(new Uint8Array((await run.accepted).getPeerCertificate().raw)).toEqual(id.cert)
  })
})
