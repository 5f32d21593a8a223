import type { Command } from 'commander'
import type { CliIo } from '../../io.js'
import { LABELS, parseTime, readDers } from './input.js'

export const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value]

/** The trust options `smgw pki verify` and `smgw cms verify` share. */
export interface TrustFileOptions {
  readonly root: readonly string[]
  readonly chain: readonly string[]
  readonly crl: readonly string[]
  readonly at?: string
}

/** Adds --root (required), --chain, --crl (all repeatable) and --at to a command. */
export function withTrustOptions(command: Command): Command {
  return command
    .requiredOption('--root <file>', 'trusted root certificate(s), PEM or DER (repeatable)', collect)
    .option('--chain <file>', 'untrusted intermediates (repeatable)', collect, [])
    .option('--crl <file>', 'CRLs (repeatable)', collect, [])
    .option('--at <iso-time>', 'validation time (default: now)')
}

/** Reads the files of {@link withTrustOptions} for validatePath. */
export async function readTrust(io: CliIo, o: TrustFileOptions): Promise<{ roots: Uint8Array[]; intermediates: Uint8Array[]; crls: Uint8Array[]; at: Date }> {
  const all = async (files: readonly string[], labels: readonly string[]) => (await Promise.all(files.map((f) => readDers(io, f, labels)))).flat()
  return { roots: await all(o.root, LABELS.certificate), intermediates: await all(o.chain, LABELS.certificate), crls: await all(o.crl, LABELS.crl), at: parseTime(o.at) }
}
