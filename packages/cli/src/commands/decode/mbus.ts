import type { Command } from 'commander'
import { decodeWiredTelegram, type WiredTelegram } from '@smgw/mbus'
import type { CliIo } from '../../io.js'
import type { CommandRun } from '../../program.js'
import { UsageError } from '../../exit.js'
import { failure, failureFrom, parseHex, printLines, printOne, type DecodeOutput } from './result.js'
import { formatAddress, formatRecord, parseKey } from './wmbus.js'

interface MbusOptions {
  readonly key?: string
  readonly jsonl?: boolean
  readonly pretty?: boolean
}

const EXAMPLES = `
Examples:
  # OMS Annex N gas meter as a wired M-Bus RSP_UD long frame (no encryption)
  smgw decode mbus 6820206808FD7278563412931533032A0000000C1427048502046D32371F1502FD1700008916

  # a single-character acknowledgement and a short frame (SND_NKE to address 1)
  smgw decode mbus E5
  smgw decode mbus 1040014116

  # one frame per line on stdin
  smgw decode mbus --jsonl < frames.txt

Output: one JSON object per frame with ok, frame {kind, control, address}, and for long frames with
a transport layer: manufacturer, id, version, deviceType {name, code} (from a long header, CI 72h),
accessNumber, security, records [{storage, tariff, subunit, function, quantity, unit, value, dif, vif}].
Failures carry error {code, message} (e.g. MBUS_CHECKSUM, MBUS_FRAME, MBUS_TRUNCATED).
Exit status: 0 all decoded, 1 any failed, 2 usage error.
`

function formatTelegram(t: WiredTelegram): DecodeOutput {
  const f = t.frame
  return {
    ok: true,
    frame: {
      kind: f.kind,
      ...(f.kind === 'ack' ? {} : { control: f.control, address: f.address }),
      ...(f.kind === 'control' || f.kind === 'long' ? { ci: f.ci } : {}),
    },
    ...(t.meter ? formatAddress(t.meter) : { manufacturer: null, id: null, version: null, deviceType: null }),
    accessNumber: t.accessNumber ?? null,
    status: t.status ?? null,
    security: t.securityMode,
    records: t.records.map(formatRecord),
  }
}

function decodeOne(hex: string, key: Uint8Array | undefined): DecodeOutput {
  const bytes = parseHex(hex)
  if (!bytes || bytes.length === 0) return failure('BAD_INPUT', 'frame is not hex')
  try {
    return formatTelegram(decodeWiredTelegram(bytes, key ? { key } : {}))
  } catch (err) {
    return failureFrom(err)
  }
}

export function registerDecodeMbus(decode: Command, io: CliIo, run: CommandRun): void {
  decode
    .command('mbus')
    .description('decode a wired M-Bus frame (EN 13757-2/-3: ACK, short, control, long frames; security modes 0 and 5) into JSON')
    .argument('[hex]', 'the frame in hex (spaces and colons allowed); omit with --jsonl')
    .option('--key <hex>', 'AES-128 meter key, 32 hex digits (security mode 5)')
    .option('--jsonl', 'read frames from standard input, one per line; print one JSON object per line')
    .option('--pretty', 'indent the JSON output')
    .addHelpText('after', EXAMPLES)
    .action((hex: string | undefined, opts: MbusOptions) =>
      run(async () => {
        const key = parseKey(opts.key)
        if (typeof key === 'string') throw new UsageError(key)
        if (opts.jsonl === true) {
          if (hex !== undefined) throw new UsageError('give either a hex argument or --jsonl, not both')
          return printLines(io, (line) => decodeOne(line, key))
        }
        if (hex === undefined) throw new UsageError('missing frame: give it in hex, or use --jsonl')
        const bytes = parseHex(hex)
        if (!bytes || bytes.length === 0) throw new UsageError(`frame is not hex: ${hex}`)
        return printOne(io, decodeOne(hex, key), opts.pretty === true)
      }),
    )
}
