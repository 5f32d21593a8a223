// A consumer on the HAN side of a gateway process: HTTPS to its HAN service, trusting only the
// certificate file the gateway made at its first start (`<store>.han-cert.pem`: the server
// certificate with CN = gateway ID and the throw-away root that issued it), logged in with the
// session cookie and sending the session's CSRF token on every write, as the page does
// (packages/gateway/README.md "HAN service": Sessions, CSRF).
import { request } from 'node:https'
import type { PeerCertificate } from 'node:tls'

export interface HanAnswer {
  readonly status: number
  readonly body: unknown
  readonly text: string
}

export interface HanConsumer {
  /** POST /api/v1/session; throws unless 200. */
  login(username: string, password: string): Promise<void>
  get(path: string): Promise<HanAnswer>
  /** A POST with the session cookie and `x-csrf-token` (left out with `csrf: false`: a forged cross-site request). */
  post(path: string, body: unknown, o?: { readonly csrf?: boolean }): Promise<HanAnswer>
}

/**
 * `ca`: the PEM the gateway wrote beside its store; the server must present a certificate that
 * chains to it and whose subject CN is `gatewayId` (the address is 127.0.0.1: no name to match).
 */
export function createHanConsumer(o: { readonly port: number; readonly ca: string; readonly gatewayId: string }): HanConsumer {
  let cookie: string | undefined
  let csrf: string | undefined
  const checkServerIdentity = (_host: string, cert: PeerCertificate): Error | undefined =>
    cert.subject.CN === o.gatewayId ? undefined : new Error(`HAN certificate CN ${String(cert.subject.CN)}, not ${o.gatewayId}`)
  const call = (method: string, path: string, body?: unknown, withCsrf = true): Promise<HanAnswer & { setCookie: string[] }> => new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const headers: Record<string, string> = {}
    if (payload !== undefined) headers['content-type'] = 'application/json'
    if (cookie !== undefined) headers.cookie = cookie
    if (csrf !== undefined && withCsrf && method !== 'GET') headers['x-csrf-token'] = csrf
    const req = request({ host: '127.0.0.1', port: o.port, method, path, headers, ca: o.ca, checkServerIdentity, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => { chunks.push(c) })
      res.on('error', reject)
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let parsed: unknown = null
        try { parsed = JSON.parse(text) } catch { /* not JSON (CSV, an export): the text is kept */ }
        resolve({ status: res.statusCode ?? 0, body: parsed, text, setCookie: res.headers['set-cookie'] ?? [] })
      })
    })
    req.on('error', reject)
    req.end(payload)
  })
  return {
    async login(username, password) {
      const r = await call('POST', '/api/v1/session', { username, password })
      if (r.status !== 200) throw new Error(`HAN login ${username}: ${String(r.status)} ${r.text}`)
      const session = r.setCookie.map((c) => c.split(';')[0]!).find((c) => c.startsWith('smgw_session='))
      if (session === undefined) throw new Error('HAN login: no smgw_session cookie')
      cookie = session
      csrf = (r.body as { csrfToken: string }).csrfToken
    },
    get: (path) => call('GET', path),
    post: (path, body, o) => call('POST', path, body, o?.csrf ?? true),
  }
}
