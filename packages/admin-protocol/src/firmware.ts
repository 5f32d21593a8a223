import { digest, type CmsSigner } from '@smgw/crypto'
import { AdminProtocolError } from './errors.js'
import { compareVersions } from './freshness.js'
import { FIRMWARE_MANIFEST_FORMAT, FIRMWARE_PACKAGE_FORMAT, FirmwareManifest, FirmwarePackage } from './formats.js'
import { decodeJsonAs, encodeUtf8 } from './json.js'
import { signAdminObject } from './sign.js'
import type { SignerVerifier } from './verifier.js'

/** The largest firmware package file read (the image is a small Node.js program in this simulation). */
export const FIRMWARE_PACKAGE_MAX_BYTES = 32 * 1024 * 1024

export interface OpenedFirmware {
  readonly manifest: FirmwareManifest
  readonly image: Uint8Array
}

/**
 * A firmware package the gateway may install (docs/admin-protocol.md "Firmware package"),
 * checked in this order: the package file (UNSUPPORTED_FORMAT, MALFORMED), the manifest's
 * signature and that the signer is the manufacturer (SIGNATURE_INVALID,
 * SIGNER_NOT_MANUFACTURER via `manufacturer`), version greater than `activeVersion`
 * (DOWNGRADE; equal counts as one too — reinstalling is not an update), then the image's size
 * and SHA-256 against the signed manifest (HASH_MISMATCH).
 */
export async function openFirmwarePackage(bytes: Uint8Array, manufacturer: SignerVerifier, at: Date, activeVersion: string): Promise<OpenedFirmware> {
  if (bytes.length > FIRMWARE_PACKAGE_MAX_BYTES) throw new AdminProtocolError('TOO_LARGE', `firmware package of ${bytes.length} bytes, at most ${FIRMWARE_PACKAGE_MAX_BYTES}`)
  const pkg = decodeJsonAs(bytes, FirmwarePackage, FIRMWARE_PACKAGE_FORMAT, false)
  const { content } = await manufacturer.open(Buffer.from(pkg.manifest, 'base64'), at)
  const manifest = decodeJsonAs(content, FirmwareManifest, FIRMWARE_MANIFEST_FORMAT, true)
  if (compareVersions(manifest.version, activeVersion) <= 0) throw new AdminProtocolError('DOWNGRADE', `firmware ${manifest.version} is not newer than the active ${activeVersion}`)
  const image = new Uint8Array(Buffer.from(pkg.image, 'base64'))
  if (image.length !== manifest.size) throw new AdminProtocolError('HASH_MISMATCH', `image of ${image.length} bytes, the manifest says ${manifest.size}`)
  const sha256 = Buffer.from(digest('SHA-256', image)).toString('hex')
  if (sha256 !== manifest.sha256) throw new AdminProtocolError('HASH_MISMATCH', 'image SHA-256 differs from the manifest')
  return { manifest, image }
}

export interface CreateFirmwarePackageOptions {
  readonly name: string
  readonly version: string
  readonly image: Uint8Array
  /** The manufacturer's SIG key and certificate (@smgw/crypto createCmsSigner). */
  readonly signer: CmsSigner
  /** Manifest `createdAt` and the CMS signing time. */
  readonly at: Date
}

/** The manufacturer's side: a signed manifest over the image, and the package file (JSON, UTF-8). */
export async function createFirmwarePackage(o: CreateFirmwarePackageOptions): Promise<Uint8Array> {
  const manifest: FirmwareManifest = {
    format: FIRMWARE_MANIFEST_FORMAT,
    name: o.name,
    version: o.version,
    sha256: Buffer.from(digest('SHA-256', o.image)).toString('hex'),
    size: o.image.length,
    createdAt: o.at.toISOString(),
  }
  const checked = FirmwareManifest.safeParse(manifest)
  if (!checked.success) throw new AdminProtocolError('MALFORMED', `firmware manifest: ${checked.error.issues[0]?.message ?? 'invalid'}`, { cause: checked.error })
  const signed = await signAdminObject(manifest, o.signer, o.at)
  const pkg: FirmwarePackage = { format: FIRMWARE_PACKAGE_FORMAT, manifest: Buffer.from(signed).toString('base64'), image: Buffer.from(o.image).toString('base64') }
  return encodeUtf8(JSON.stringify(pkg))
}
