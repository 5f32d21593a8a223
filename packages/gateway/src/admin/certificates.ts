import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CURVES, agreerFromModule, createKeyObjectSigner, decodePemOrDer, encodePem, isCryptoError, signerFromModule, type CurveName, type KeyAgreer, type SecurityModule, type Signer } from '@smgw/crypto'
import {
  createCsr, createRenewalRequest, curveOfSpki, decodeCertificate, parseName, tlsIdentityKey, validatePath,
  type DecodedCertificate, type DistinguishedName, type TlsIdentity, type ValidationPurpose,
} from '@smgw/pki'
import type { ReportedCertificate } from '@smgw/admin-protocol'
import type { Logger } from 'pino'
import { z } from 'zod'
import { GatewayError } from '../errors.js'
import type { SystemLogEntry } from '../log/entries.js'
import { syncDirectory, writeFileAtomic } from './bootloader.js'

/*
 * The gateway's certificate lifecycle (TR-03109-4 v1.2.1 renewal, docs/admin-protocol.md
 * `generate-csr` / `install-certificates` / `update-crls`): the gateway starts with its
 * manufacturer (Gütesiegel, `gs`) identity; the GWA has it generate keys and send CSRs; the
 * operational TLS/SIG/ENC certificates are installed together or not at all; a renewal
 * request is signed by the old key; an own certificate found on a CRL stops being used.
 *
 * Where the keys live: in the security module (`module.generateKey`), labels
 * `admin.<kind>.<n>` (module labels allow A-Z a-z 0-9 . _ -, so no slashes). node:tls signs
 * inside OpenSSL: it gets the TLS key through `module.tlsPrivateKey` — a token's key stays on the
 * token and OpenSSL signs through its pkcs11 engine. Without a module (only TLS can be requested
 * then) the TLS key is generated with node:crypto and kept as a PKCS#8 PEM file (mode 0600) in
 * `stateDir/identity`.
 *
 * State: `stateDir/identity/state.json` names every file and label; files are written under
 * fresh names first and the state file is replaced by one atomic rename, so a crash leaves
 * the old state or the new one. Old keys and certificates stay until new ones are installed.
 *
 * Replaced module keys are retired, then destroyed (BSI-CC-PP-0073 FCS_CKM.4: a key no longer
 * needed is destroyed) by `destroyRetiredKeys`, which the admin service runs once the running
 * configuration has taken over the new identity: a TLS or SIG key at once (nothing is signed
 * with an old key), a key of a request a newer request replaced at once, and an ENC key after
 * {@link RETIRED_ENC_KEY_MS} — until then it still opens `meter-keys` envelopes the GWA sealed
 * to the old ENC certificate before it learned of the new one (it seals to the last reported
 * serial).
 */

export type OperationalKind = 'tls' | 'sig' | 'enc'
export type CertificateKind = OperationalKind | 'gs'
export const OPERATIONAL_KINDS: readonly OperationalKind[] = ['tls', 'sig', 'enc']
/** How long a replaced ENC key still opens envelopes sealed to its certificate: 7 days, a few of the GWA's session cycles. */
export const RETIRED_ENC_KEY_MS = 7 * 24 * 3600 * 1000

/** Path-validation purpose of each kind: the gateway is always the TLS client (TR-03109-1). */
const PURPOSE: Readonly<Record<CertificateKind, ValidationPurpose>> = { tls: 'tls-client', sig: 'sig', enc: 'enc', gs: 'tls-client' }

export interface CertificateTrust {
  readonly roots: readonly Uint8Array[]
  readonly intermediates?: readonly Uint8Array[]
  /** The CRLs at start; `update-crls` replaces them (kept in the state folder). */
  readonly crls?: readonly Uint8Array[]
  readonly requireCrl?: boolean
}

export interface CertificateManagerConfig {
  /** `admin.stateDir`; this manager owns `stateDir/identity/`. */
  readonly stateDir: string
  readonly gatewayId: string
  readonly trust: CertificateTrust
  /** The manufacturer (Gütesiegel) identity: key PEM, certificate DER, sub-CA chain DER. */
  readonly initialIdentity: { readonly key: string; readonly certificate: Uint8Array; readonly chain: readonly Uint8Array[] }
}

export interface CertificateManagerDeps {
  /** The gateway's security module (meterKeys.securityModule): SIG and ENC keys are generated in it. */
  readonly module?: SecurityModule
  /** System log (awaited when it returns a promise). */
  readonly log: (entry: SystemLogEntry) => void | Promise<void>
  /** Legal time. */
  readonly now: () => Date
  readonly logger?: Logger
}

/** One certificate of the admin report (docs/admin-protocol.md "Admin session"). */
export type CertificateSummaryItem = ReportedCertificate

export interface ConfigOverrides {
  /** The system/consumer/calibration log SIG key in the module and its certificate file (config `logs`). */
  readonly logs?: { readonly sigKeyLabel: string; readonly sigCertificate: string }
  /** The operational WAN TLS identity (config `wan.tls`): the key as a file or as a security-module label. */
  readonly wanTls?: ({ readonly key: string } | { readonly keyLabel: string }) & { readonly certificate: string; readonly chain: readonly string[] }
  /** The CRL files the gateway checks since the last `update-crls` (config `wan.trust.crls`, `admin.trust.crls`). */
  readonly crls?: readonly string[]
}

export interface CertificateManager {
  /** Reads `stateDir/identity/state.json` (none yet: only the initial identity). */
  load(): Promise<void>
  /** The operational TLS identity if installed, valid and not revoked; else the initial Gütesiegel identity. */
  tlsIdentity(): TlsIdentity
  overrides(): ConfigOverrides
  /** The CRLs in force (DER). */
  crls(): readonly Uint8Array[]
  generateCsr(c: { readonly kinds: readonly OperationalKind[] }): Promise<{ csrs: Partial<Record<OperationalKind, string>> }>
  install(c: { readonly certificates: Partial<Record<OperationalKind, string>>; readonly chain: readonly string[] }): Promise<{ serials: Partial<Record<OperationalKind, string>> }>
  updateCrls(c: { readonly crls: readonly string[] }): Promise<{ revokedOwn: CertificateKind[] }>
  summary(): CertificateSummaryItem[]
  /**
   * The operational ENC identity in force — installed, inside its validity at legal time, not
   * found on a CRL — as the key agreer in the security module and the certificate (DER);
   * undefined otherwise (none yet, expired, revoked, no module). `meter-keys` decrypts with it.
   */
  encIdentity(): Promise<EncIdentity | undefined>
  /**
   * The replaced ENC identities still kept (newest first): inside {@link RETIRED_ENC_KEY_MS}
   * after their replacement and inside their certificate's validity. `meter-keys` tries them
   * after the one in force.
   */
  retiredEncIdentities(): Promise<EncIdentity[]>
  /**
   * Destroys the retired module keys that are due (see the file comment), except `keep` (labels
   * the running configuration still names); logs `key-destroyed` for each. A key the module
   * cannot destroy now stays retired and is tried again next time. → the labels destroyed.
   */
  destroyRetiredKeys(keep?: ReadonlySet<string>): Promise<string[]>
}

/** The gateway's ENC key (in the security module) and its operational certificate. */
export interface EncIdentity {
  readonly agreer: KeyAgreer
  readonly certificate: Uint8Array
}

const STATE_FORMAT = 'smgw-identity-state/1'
const fileName = z.string().regex(/^[a-z0-9.-]{1,64}$/)
const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/)
const PendingKey = z.strictObject({ key: fileName.optional(), label: z.string().min(1).max(64).optional(), publicKey: b64 })
const InstalledCertificate = z.strictObject({ key: fileName.optional(), label: z.string().min(1).max(64).optional(), certificate: fileName, chain: z.array(fileName) })
/** A replaced module key, destroyed from `until` on; an ENC key keeps its certificate (CMS recipient identification) until then. */
const RetiredKey = z.strictObject({ kind: z.enum(['tls', 'sig', 'enc']), label: z.string().min(1).max(64), certificate: fileName.optional(), until: z.iso.datetime() })
const kindRecord = <T extends z.ZodType>(t: T) => z.strictObject({ tls: t.optional(), sig: t.optional(), enc: t.optional() })
const IdentityState = z.strictObject({
  format: z.literal(STATE_FORMAT),
  /** Next file/label generation: every key and file gets a name never used before. */
  next: z.int().min(1),
  pending: kindRecord(PendingKey),
  installed: kindRecord(InstalledCertificate),
  crls: z.array(fileName).optional(),
  revoked: z.array(z.enum(['tls', 'sig', 'enc', 'gs'])),
  retired: z.array(RetiredKey).optional(),
})
type IdentityState = z.infer<typeof IdentityState>
type Retired = z.infer<typeof RetiredKey>
type Installed = z.infer<typeof InstalledCertificate>

interface LoadedCertificate {
  readonly entry: Installed
  readonly der: Uint8Array
  readonly decoded: DecodedCertificate
  readonly chain: readonly Uint8Array[]
}

const EMPTY_STATE: IdentityState = { format: STATE_FORMAT, next: 1, pending: {}, installed: {}, revoked: [] }

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64')
}

function fromBase64(text: string, what: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw refused(`${what} is not base64`)
  return new Uint8Array(Buffer.from(text, 'base64'))
}

/** Every file a state names. */
function filesOf(s: IdentityState): Set<string> {
  return new Set([
    ...OPERATIONAL_KINDS.flatMap((k) => { const i = s.installed[k]; return i === undefined ? [] : [i.certificate, ...i.chain, ...(i.key === undefined ? [] : [i.key])] }),
    ...OPERATIONAL_KINDS.flatMap((k) => { const key = s.pending[k]?.key; return key === undefined ? [] : [key] }),
    ...(s.crls ?? []),
    ...(s.retired ?? []).flatMap((r) => r.certificate === undefined ? [] : [r.certificate]),
  ])
}

/** Retired entries for module keys `from` had and `to` no longer names (installed or pending), due `until`. */
function retire(from: Partial<Record<OperationalKind, { readonly label?: string | undefined; readonly certificate?: string }>>, to: IdentityState, until: (kind: OperationalKind) => Date): Retired[] {
  const named = new Set(OPERATIONAL_KINDS.flatMap((k) => [to.installed[k]?.label, to.pending[k]?.label]))
  const out: Retired[] = []
  for (const kind of OPERATIONAL_KINDS) {
    const old = from[kind]
    if (old?.label === undefined || named.has(old.label)) continue
    const keepsCertificate = kind === 'enc' && old.certificate !== undefined
    out.push({ kind, label: old.label, ...(keepsCertificate ? { certificate: old.certificate } : {}), until: until(kind).toISOString() })
  }
  return out
}

/** Names this manager writes (and writeFileAtomic's temporary state files): anything else in the folder is left alone. */
const LEFTOVER = /^(?:(?:tls|sig|enc)-\d+\.(?:key|cert)\.pem|chain-\d+-\d+\.cert\.pem|crl-\d+-\d+\.crl\.pem|\.state\.json\.[0-9a-f]+\.tmp)$/
/** Labels tried past one taken by an interrupted request. */
const MAX_LABEL_SKIPS = 100

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a).equals(Buffer.from(b))
}

/** The CN of an RFC 4514 subject, or undefined (a name with attributes outside the SM-PKI set included). */
function commonNameOf(subject: string): string | undefined {
  try {
    return parseName(subject).CN
  } catch {
    return undefined
  }
}

function refused(message: string, cause?: unknown): GatewayError {
  return new GatewayError('ADMIN_APPLY_FAILED', message, cause === undefined ? undefined : { cause })
}

export function createCertificateManager(config: CertificateManagerConfig, deps: CertificateManagerDeps): CertificateManager {
  const dir = join(config.stateDir, 'identity')
  const statePath = join(dir, 'state.json')
  const initialCert = decodeCertificate(config.initialIdentity.certificate)
  const initialKey: KeyObject = createPrivateKey(config.initialIdentity.key)
  const initialSigner: Signer = createKeyObjectSigner(initialKey)
  if (!bytesEqual(initialSigner.publicKey, initialCert.publicKey)) throw new GatewayError('CONFIG_INVALID', 'admin.initialIdentity: the key does not belong to the certificate')
  const curve: CurveName = curveOfSpki(initialCert.publicKey)
  const log = deps.logger?.child({ component: 'admin-certificates' })

  let state: IdentityState = EMPTY_STATE
  let installed: Partial<Record<OperationalKind, LoadedCertificate>> = {}
  let crls: readonly Uint8Array[] = config.trust.crls ?? []
  /** The installed TLS key for node:tls by file name (its PEM text) or module label, read once (tlsIdentity is synchronous). */
  const tlsKeys = new Map<string, TlsIdentity['key']>()
  /** One mutation at a time (the admin session is sequential, this guards direct callers too). */
  let queue: Promise<unknown> = Promise.resolve()
  const serialized = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn)
    queue = run.catch(() => undefined)
    return run
  }

  const readOne = async (name: string, label: string): Promise<Uint8Array> => {
    const [der] = decodePemOrDer(new Uint8Array(await readFile(join(dir, name))), [label], 'INVALID_ARGUMENT')
    if (der === undefined) throw new GatewayError('ADMIN_APPLY_FAILED', `${name}: no ${label}`)
    return der
  }
  const readPem = (name: string) => readOne(name, 'CERTIFICATE')
  const readCrl = (name: string) => readOne(name, 'X509 CRL')

  const loadInstalled = async (s: IdentityState): Promise<Partial<Record<OperationalKind, LoadedCertificate>>> => {
    const out: Partial<Record<OperationalKind, LoadedCertificate>> = {}
    for (const kind of OPERATIONAL_KINDS) {
      const entry = s.installed[kind]
      if (entry === undefined) continue
      const der = await readPem(entry.certificate)
      out[kind] = { entry, der, decoded: decodeCertificate(der), chain: await Promise.all(entry.chain.map(readPem)) }
    }
    return out
  }

  /** The certificate is in force: installed, inside its validity at legal time, not found on a CRL. */
  const usable = (kind: OperationalKind): LoadedCertificate | undefined => {
    const c = installed[kind]
    if (c === undefined || state.revoked.includes(kind)) return undefined
    const now = deps.now().getTime()
    return now >= c.decoded.notBefore.getTime() && now <= c.decoded.notAfter.getTime() ? c : undefined
  }

  const commit = async (next: IdentityState): Promise<void> => {
    await writeFileAtomic(statePath, `${JSON.stringify(next, null, 2)}\n`, 0o600)
    state = next
  }

  const writeNew = async (name: string, text: string, secret = false): Promise<void> => {
    await writeFile(join(dir, name), text, { flag: 'wx', mode: secret ? 0o600 : 0o644 })
  }

  const validate = (der: Uint8Array, purpose: ValidationPurpose, extra: readonly Uint8Array[], withCrls: readonly Uint8Array[]) =>
    validatePath({
      leaf: der, roots: config.trust.roots, intermediates: [...(config.trust.intermediates ?? []), ...extra], crls: withCrls, at: deps.now(), purpose,
      ...(config.trust.requireCrl === undefined ? {} : { requireCrl: config.trust.requireCrl }),
    })

  /** The subject of a new request: as the current certificate of that kind, else CN = gateway ID with O/C (and serialNumber) of the Gütesiegel certificate. */
  const subjectFor = (kind: OperationalKind): DistinguishedName => {
    const current = installed[kind]
    if (current !== undefined) {
      try {
        return parseName(current.decoded.subject)
      } catch {
        // An attribute the SM-PKI names do not use: ask in the first-request form below.
      }
    }
    const gs = parseName(initialCert.subject)
    return {
      ...(gs.C === undefined ? {} : { C: gs.C }), ...(gs.O === undefined ? {} : { O: gs.O }),
      ...(gs.serialNumber === undefined ? {} : { serialNumber: gs.serialNumber }), CN: config.gatewayId,
    }
  }

  const oldSignerFor = async (kind: OperationalKind): Promise<{ signer: Signer; certificate: Uint8Array; chain: readonly Uint8Array[]; renewal: boolean }> => {
    const current = usable(kind)
    if (current !== undefined) {
      if (current.entry.key !== undefined) {
        return { signer: createKeyObjectSigner(createPrivateKey(await readFile(join(dir, current.entry.key)))), certificate: current.der, chain: current.chain, renewal: true }
      }
      if (current.entry.label !== undefined && deps.module !== undefined) {
        return { signer: await signerFromModule(deps.module, current.entry.label), certificate: current.der, chain: current.chain, renewal: true }
      }
    }
    // TR-03109-4: the first operational request is authenticated by the Gütesiegel key.
    return { signer: initialSigner, certificate: config.initialIdentity.certificate, chain: config.initialIdentity.chain, renewal: false }
  }

  const cacheTlsKey = async (): Promise<void> => {
    const entry = installed.tls?.entry
    if (entry?.key !== undefined && !tlsKeys.has(entry.key)) tlsKeys.set(entry.key, await readFile(join(dir, entry.key), 'utf8'))
    if (entry?.label !== undefined && deps.module !== undefined && !tlsKeys.has(entry.label)) {
      tlsKeys.set(entry.label, tlsIdentityKey(await deps.module.tlsPrivateKey(entry.label)))
    }
  }

  /** Files of the state that `next` no longer names: replaced certificates, keys, chains and CRLs. */
  const removeUnreferenced = async (before: IdentityState, after: IdentityState): Promise<void> => {
    const keep = filesOf(after)
    for (const name of filesOf(before)) {
      if (keep.has(name)) continue
      await rm(join(dir, name), { force: true })
      tlsKeys.delete(name)
    }
  }

  /**
   * After a crash between writing new files and the state switch: files in our naming scheme
   * the state does not name (and temporary state files) are leftovers; they would block the
   * names the next operation writes (files are created exclusively).
   */
  const removeLeftovers = async (): Promise<void> => {
    const keep = filesOf(state)
    for (const name of await readdir(dir)) {
      if (keep.has(name) || !LEFTOVER.test(name)) continue
      await rm(join(dir, name), { force: true })
    }
  }

  /** A new module key: the next free label from `n` (a label taken by a key of an interrupted request is skipped). */
  const generateModuleKey = async (module: SecurityModule, kind: OperationalKind, n: number): Promise<{ label: string; next: number }> => {
    for (let i = n; i < n + MAX_LABEL_SKIPS; i++) {
      const label = `admin.${kind}.${String(i)}`
      try {
        await module.generateKey(curve, label)
        return { label, next: i + 1 }
      } catch (err) {
        if (isCryptoError(err) && err.code === 'KEY_EXISTS') continue
        throw err
      }
    }
    throw refused(`generate-csr: no free key label admin.${kind}.${String(n)}…${String(n + MAX_LABEL_SKIPS - 1)} in the security module`)
  }

  const emit = async (entry: SystemLogEntry): Promise<void> => {
    await deps.log(entry)
  }

  return {
    async load() {
      await mkdir(dir, { recursive: true, mode: 0o700 })
      let text: string | undefined
      try {
        text = await readFile(statePath, 'utf8')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new GatewayError('ADMIN_APPLY_FAILED', `identity state: ${statePath} unreadable`, { cause: err })
      }
      if (text === undefined) {
        state = EMPTY_STATE
      } else {
        let parsed: unknown
        try {
          parsed = JSON.parse(text)
        } catch (err) {
          throw new GatewayError('ADMIN_APPLY_FAILED', `identity state: ${statePath} is not JSON`, { cause: err })
        }
        const r = IdentityState.safeParse(parsed)
        if (!r.success) throw new GatewayError('ADMIN_APPLY_FAILED', `identity state: ${statePath}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
        state = r.data
      }
      try {
        installed = await loadInstalled(state)
        crls = state.crls === undefined ? config.trust.crls ?? [] : await Promise.all(state.crls.map(readCrl))
        await cacheTlsKey()
        await removeLeftovers()
      } catch (err) {
        throw new GatewayError('ADMIN_APPLY_FAILED', 'identity state names a file that cannot be read', { cause: err })
      }
    },

    tlsIdentity() {
      const tls = usable('tls')
      const ref = tls?.entry.key ?? tls?.entry.label
      const key = ref === undefined ? undefined : tlsKeys.get(ref)
      if (tls !== undefined && key !== undefined) return { key, cert: tls.der, chain: tls.chain }
      return { key: config.initialIdentity.key, cert: config.initialIdentity.certificate, chain: config.initialIdentity.chain }
    },

    overrides() {
      const out: { logs?: ConfigOverrides['logs']; wanTls?: ConfigOverrides['wanTls']; crls?: ConfigOverrides['crls'] } = {}
      const sig = usable('sig')
      if (sig?.entry.label !== undefined) out.logs = { sigKeyLabel: sig.entry.label, sigCertificate: join(dir, sig.entry.certificate) }
      const tls = usable('tls')
      if (tls !== undefined) {
        const files = { certificate: join(dir, tls.entry.certificate), chain: tls.entry.chain.map((f) => join(dir, f)) }
        if (tls.entry.key !== undefined) out.wanTls = { key: join(dir, tls.entry.key), ...files }
        else if (tls.entry.label !== undefined) out.wanTls = { keyLabel: tls.entry.label, ...files }
      }
      if (state.crls !== undefined) out.crls = state.crls.map((f) => join(dir, f))
      return out
    },

    crls: () => crls,

    generateCsr: (c) => serialized(async () => {
      const kinds = [...new Set(c.kinds)]
      if (kinds.length === 0) throw refused('generate-csr: no kinds')
      if (kinds.some((k) => k !== 'tls') && deps.module === undefined) throw refused('generate-csr: SIG and ENC keys need the security module (meterKeys.securityModule)')
      await mkdir(dir, { recursive: true, mode: 0o700 })
      let n = state.next
      const pending: IdentityState['pending'] = { ...state.pending }
      const csrs: Partial<Record<OperationalKind, string>> = {}
      const written: string[] = []
      const generatedLabels: string[] = []
      const renewals: [OperationalKind, boolean][] = []
      const before = state
      try {
        for (const kind of kinds) {
          let signer: Signer
          if (kind === 'tls' && deps.module === undefined) {
            const key = generateKeyPairSync('ec', { namedCurve: CURVES[curve].nodeName }).privateKey
            const name = `tls-${String(n)}.key.pem`
            await writeNew(name, key.export({ format: 'pem', type: 'pkcs8' }).toString(), true)
            written.push(name)
            signer = createKeyObjectSigner(key)
            pending.tls = { key: name, publicKey: toBase64(signer.publicKey) }
            n++
          } else {
            const generated = await generateModuleKey(deps.module as SecurityModule, kind, n)
            generatedLabels.push(generated.label)
            signer = await signerFromModule(deps.module as SecurityModule, generated.label)
            pending[kind] = { label: generated.label, publicKey: toBase64(signer.publicKey) }
            n = generated.next
          }
          await emit({ type: 'keys-generated', fields: { kind } })
          const csr = await createCsr({ signer, subject: subjectFor(kind) })
          const old = await oldSignerFor(kind)
          // TR-03109-4: the CSR (signed by the new key) inside a CMS SignedData by the old key, or by the Gütesiegel key the first time.
          const request = await createRenewalRequest({ csr, oldSigner: old.signer, oldCertificate: old.certificate, chain: old.chain, signingTime: deps.now() })
          csrs[kind] = toBase64(request)
          renewals.push([kind, old.renewal])
        }
        const after: IdentityState = { ...state, next: n, pending }
        // A pending key a newer request replaced is never going to be installed: its file goes below, a module key is retired.
        await commit({ ...after, retired: [...(state.retired ?? []), ...retire(state.pending, after, () => deps.now())] })
      } catch (err) {
        for (const name of written) await rm(join(dir, name), { force: true })
        // Module keys of this failed request: no state names them.
        for (const label of generatedLabels) await deps.module?.deleteKey(label).catch(() => false)
        if (err instanceof GatewayError) throw err
        throw refused(`generate-csr failed: ${err instanceof Error ? err.message : String(err)}`, err)
      }
      // After the switch, outside the undo above: what the new state names must stay.
      await removeUnreferenced(before, state)
      for (const [kind, renewal] of renewals) await emit({ type: 'certificate-requested', fields: { kind, renewal } })
      log?.info({ kinds }, 'certificate requests generated')
      return { csrs }
    }),

    install: (c) => serialized(async () => {
      const kinds = OPERATIONAL_KINDS.filter((k) => c.certificates[k] !== undefined)
      if (kinds.length === 0) throw refused('install-certificates: no certificates')
      const chain = c.chain.map((t, i) => fromBase64(t, `chain[${String(i)}]`))
      const accepted: { kind: OperationalKind; der: Uint8Array; decoded: DecodedCertificate }[] = []
      // Every check first: one failing certificate installs none (all or nothing).
      for (const kind of kinds) {
        const der = fromBase64(c.certificates[kind] ?? '', `certificates.${kind}`)
        let decoded: DecodedCertificate
        try {
          decoded = decodeCertificate(der)
        } catch (err) {
          throw refused(`${kind} certificate does not decode`, err)
        }
        const pending = state.pending[kind]
        if (pending === undefined) throw refused(`${kind} certificate: no key was generated for it (generate-csr first)`)
        if (!bytesEqual(decoded.publicKey, fromBase64(pending.publicKey, 'pending key'))) throw refused(`${kind} certificate does not hold the key generated for it`)
        const r = validate(der, PURPOSE[kind], chain, crls)
        if (!r.ok) throw refused(`${kind} certificate does not validate: ${r.reason} (${r.detail})`)
        if (commonNameOf(decoded.subject) !== config.gatewayId) throw refused(`${kind} certificate is not for ${config.gatewayId} (${decoded.subject})`)
        accepted.push({ kind, der, decoded })
      }
      const n = state.next
      const before = state
      const next: IdentityState = { ...state, next: n + 1, installed: { ...state.installed }, revoked: state.revoked.filter((k) => !kinds.includes(k as OperationalKind)) }
      const written: string[] = []
      try {
        const chainFiles: string[] = []
        for (const [i, der] of chain.entries()) {
          const name = `chain-${String(n)}-${String(i)}.cert.pem`
          await writeNew(name, encodePem('CERTIFICATE', der))
          written.push(name)
          chainFiles.push(name)
        }
        for (const a of accepted) {
          const name = `${a.kind}-${String(n)}.cert.pem`
          await writeNew(name, encodePem('CERTIFICATE', a.der))
          written.push(name)
          const pending = state.pending[a.kind]
          next.installed[a.kind] = { ...(pending?.key === undefined ? {} : { key: pending.key }), ...(pending?.label === undefined ? {} : { label: pending.label }), certificate: name, chain: chainFiles }
        }
        next.pending = Object.fromEntries(Object.entries(state.pending).filter(([k]) => !kinds.includes(k as OperationalKind)))
        const now = deps.now()
        next.retired = [...(state.retired ?? []), ...retire(state.installed, next, (k) => k === 'enc' ? new Date(now.getTime() + RETIRED_ENC_KEY_MS) : now)]
        await syncDirectory(dir)
        await commit(next)
      } catch (err) {
        for (const name of written) await rm(join(dir, name), { force: true })
        throw refused(`install-certificates failed: ${err instanceof Error ? err.message : String(err)}`, err)
      }
      installed = await loadInstalled(state)
      await cacheTlsKey()
      const serials: Partial<Record<OperationalKind, string>> = {}
      for (const a of accepted) {
        serials[a.kind] = a.decoded.serialHex
        await emit({ type: 'certificate-installed', fields: { kind: a.kind, serial: a.decoded.serialHex } })
      }
      // TR-03109-4: the old keys stay until the new certificates are in; now they are (module keys: retired, destroyRetiredKeys).
      await removeUnreferenced(before, state)
      log?.info({ kinds }, 'operational certificates installed')
      return { serials }
    }),

    updateCrls: (c) => serialized(async () => {
      const next = c.crls.map((t, i) => fromBase64(t, `crls[${String(i)}]`))
      // The new CRLs must be usable for the gateway's own paths: a CRL that does not decode or verify
      // would make every validation CRL_INVALID, so it is refused and the old CRLs stay.
      const own: [CertificateKind, LoadedCertificate | { der: Uint8Array; decoded: DecodedCertificate; chain: readonly Uint8Array[] }][] = [
        ['gs', { der: config.initialIdentity.certificate, decoded: initialCert, chain: config.initialIdentity.chain }],
        ...OPERATIONAL_KINDS.flatMap((k) => { const i = installed[k]; return i === undefined ? [] : [[k, i] as [CertificateKind, LoadedCertificate]] }),
      ]
      const revokedNow: CertificateKind[] = []
      for (const [kind, cert] of own) {
        const r = validate(cert.der, PURPOSE[kind], cert.chain, next)
        if (r.ok) continue
        if (r.reason === 'REVOKED') {
          if (!state.revoked.includes(kind)) revokedNow.push(kind)
        }
        else if (r.reason === 'CRL_INVALID' || r.reason === 'CRL_EXPIRED' || r.reason === 'CRL_MISSING') throw refused(`update-crls: ${r.reason} for the ${kind} certificate (${r.detail}); the CRLs in force stay`)
      }
      const n = state.next
      const before = state
      const names: string[] = []
      try {
        await mkdir(dir, { recursive: true, mode: 0o700 })
        for (const [i, der] of next.entries()) {
          const name = `crl-${String(n)}-${String(i)}.crl.pem`
          await writeNew(name, encodePem('X509 CRL', der))
          names.push(name)
        }
        await commit({ ...state, next: n + 1, crls: names, revoked: [...new Set([...state.revoked, ...revokedNow])] })
      } catch (err) {
        for (const name of names) await rm(join(dir, name), { force: true })
        throw refused(`update-crls failed: ${err instanceof Error ? err.message : String(err)}`, err)
      }
      crls = next
      await removeUnreferenced(before, state)
      const revokedOwn: CertificateKind[] = []
      for (const kind of revokedNow) {
        revokedOwn.push(kind)
        const serial = kind === 'gs' ? initialCert.serialHex : installed[kind]?.decoded.serialHex ?? ''
        await emit({ type: 'certificate-revoked', fields: { kind, serial } })
        log?.warn({ kind, serial }, 'own certificate revoked: no longer used')
      }
      return { revokedOwn }
    }),

    async encIdentity() {
      const enc = usable('enc')
      if (enc?.entry.label === undefined || deps.module === undefined) return undefined
      return { agreer: await agreerFromModule(deps.module, enc.entry.label), certificate: enc.der }
    },

    async retiredEncIdentities() {
      const module = deps.module
      if (module === undefined) return []
      const now = deps.now().getTime()
      const out: EncIdentity[] = []
      for (const r of [...(state.retired ?? [])].reverse()) {
        if (r.kind !== 'enc' || r.certificate === undefined || Date.parse(r.until) <= now) continue
        const der = await readPem(r.certificate)
        const c = decodeCertificate(der)
        if (now < c.notBefore.getTime() || now > c.notAfter.getTime()) continue
        out.push({ agreer: await agreerFromModule(module, r.label), certificate: der })
      }
      return out
    },

    destroyRetiredKeys: (keep = new Set()) => serialized(async () => {
      const retired = state.retired ?? []
      const now = deps.now().getTime()
      const due = retired.filter((r) => Date.parse(r.until) <= now && !keep.has(r.label))
      if (due.length === 0 || deps.module === undefined) return []
      const destroyed: Retired[] = []
      for (const r of due) {
        try {
          await deps.module.deleteKey(r.label) // false: gone already (an interrupted earlier run) — done all the same
          destroyed.push(r)
        } catch (err) {
          log?.warn({ kind: r.kind, label: r.label, err: err instanceof Error ? err.message : String(err) }, 'retired key not destroyed: tried again next time')
        }
      }
      if (destroyed.length === 0) return []
      const before = state
      await commit({ ...state, retired: retired.filter((r) => !destroyed.includes(r)) })
      await removeUnreferenced(before, state)
      for (const r of destroyed) tlsKeys.delete(r.label)
      for (const r of destroyed) await emit({ type: 'key-destroyed', fields: { kind: r.kind, label: r.label } })
      return destroyed.map((r) => r.label)
    }),

    summary() {
      const items: CertificateSummaryItem[] = [{ kind: 'gs', serial: initialCert.serialHex, notAfter: initialCert.notAfter.toISOString(), source: 'initial' }]
      for (const kind of OPERATIONAL_KINDS) {
        const c = usable(kind)
        if (c !== undefined) items.push({ kind, serial: c.decoded.serialHex, notAfter: c.decoded.notAfter.toISOString(), source: 'operational' })
      }
      return items
    },
  }
}
