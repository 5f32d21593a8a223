import { Option, type Command } from 'commander'
import { decodeWirelessTelegram, type DataRecord, type MeterAddress, type WirelessTelegram } from '@smgw/mbus'
import type { CliIo } from '../../io.js'
import type { CommandRun } from '../../program.js'
import { UsageError } from '../../exit.js'
import { failure, failureFrom, parseHex, printLines, printOne, type DecodeOutput } from './result.js'

interface WmbusOptions {
  readonly key?: string
  readonly crc: 'auto' | 'present' | 'absent'
  readonly format: 'auto' | 'A' | 'B'
  readonly jsonl?: boolean
  readonly pretty?: boolean
}

const EXAMPLES = `
Examples:
  # OMS Annex N gas meter, security mode 5 (CRCs already removed by the receiver)
  smgw decode wmbus 2E4493157856341233037A2A0020255923C95AAA26D1B2E7493B013EC4A6F6D3529B520EDFF0EA6DEFC99D6D69EBF3 \\
    --key 0102030405060708090A0B0C0D0E0F11

  # the same frame as sent over the air (format A block CRCs are verified and stripped)
  smgw decode wmbus 2E44931578563412330333637A2A0020255923C95AAA26D1B2E7493BC2AD013EC4A6F6D3529B520EDFF0EA6DEFC955B29D6D69EBF3EC8A --key 0102030405060708090A0B0C0D0E0F11

  # one telegram per line on stdin: hex, or {"hex":"…","key":"…"}
  smgw decode wmbus --jsonl --key 0102030405060708090A0B0C0D0E0F11 < telegrams.txt

Output: one JSON object per telegram with ok, manufacturer, id, version, deviceType {name, code},
accessNumber, security (mode), and records [{storage, tariff, subunit, function, quantity, unit,
value, dif, vif}] with value scaled to unit (Wh, J, m3, kg, W, J/h, m3/h, kg/h, °C, K, bar, s, V,
A, Hz, date, datetime; '' for counts and identifiers; raw for manufacturer data).
Failures: {"ok":false,"error":{"code","message"}} with the MbusError code (e.g. MISSING_KEY,
DECRYPT_FAILED, MAC_MISMATCH, MBUS_CRC). Exit status: 0 all decoded, 1 any failed, 2 usage error.
`

export function formatAddress(a: MeterAddress): Record<string, unknown> {
  return { manufacturer: a.manufacturer, id: a.id, version: a.version, deviceType: { name: a.deviceType.name, code: a.deviceType.code } }
}

export function formatRecord(r: DataRecord): Record<string, unknown> {
  return {
    storage: r.storage,
    tariff: r.tariff,
    subunit: r.subunit,
    function: r.function,
    quantity: r.quantity,
    unit: r.unit,
    value: r.value,
    dif: Buffer.from(r.dif).toString('hex'),
    vif: Buffer.from(r.vif).toString('hex'),
    ...(r.modifiers.length > 0 ? { modifiers: r.modifiers } : {}),
  }
}

function formatTelegram(t: WirelessTelegram): DecodeOutput {
  return {
    ok: true,
    ...formatAddress(t.meter),
    accessNumber: t.accessNumber ?? null,
    status: t.status ?? null,
    security: t.securityMode,
    link: {
      control: t.link.control,
      ...formatAddress(t.link.address),
      crc: t.link.crcPresent,
      format: t.link.format ?? null,
    },
    ...(t.ell ? { ell: { ci: t.ell.ci, accessNumber: t.ell.accessNumber, encryption: t.ell.encryption, ...(t.ell.receiver ? { receiver: formatAddress(t.ell.receiver) } : {}) } } : {}),
    ...(t.afl?.messageCounter !== undefined ? { afl: { messageCounter: t.afl.messageCounter } } : {}),
    tpl: t.tpl.kind,
    records: t.records.map(formatRecord),
  }
}

/** Parses a key; undefined when absent, a failure text when malformed. */
export function parseKey(text: string | undefined): Uint8Array | undefined | string {
  if (text === undefined) return undefined
  const key = parseHex(text)
  if (!key) return `key is not hex: ${text}`
  if (key.length !== 16) return `key must be 16 bytes (32 hex digits), got ${key.length}`
  return key
}

function decodeOne(hex: string, key: Uint8Array | undefined, opts: WmbusOptions): DecodeOutput {
  const bytes = parseHex(hex)
  if (!bytes || bytes.length === 0) return failure('BAD_INPUT', 'telegram is not hex')
  try {
    return formatTelegram(decodeWirelessTelegram(bytes, { ...(key ? { key } : {}), crc: opts.crc, format: opts.format }))
  } catch (err) {
    return failureFrom(err)
  }
}

function decodeLine(line: string, defaultKey: Uint8Array | undefined, opts: WmbusOptions): DecodeOutput {
  if (!line.startsWith('{')) return decodeOne(line, defaultKey, opts)
  let item: unknown
  try {
    item = JSON.parse(line)
  } catch {
    return failure('BAD_INPUT', 'line is neither hex nor JSON')
  }
  if (typeof item !== 'object' || item === null || !('hex' in item) || typeof item.hex !== 'string') {
    return failure('BAD_INPUT', 'JSON line needs a "hex" string')
  }
  let key = defaultKey
  if ('key' in item && item.key !== undefined) {
    const parsed = typeof item.key === 'string' ? parseKey(item.key) : 'key must be a string'
    if (typeof parsed === 'string') return failure('BAD_INPUT', parsed)
    key = parsed
  }
  return decodeOne(item.hex, key, opts)
}

export function registerDecodeWmbus(decode: Command, io: CliIo, run: CommandRun): void {
  decode
    .command('wmbus')
    .description('decode a wireless M-Bus / OMS telegram (EN 13757-4, security modes 0, 5, 7, ELL AES-CTR) into JSON')
    .argument('[hex]', 'the telegram in hex (spaces and colons allowed); omit with --jsonl')
    .option('--key <hex>', 'AES-128 meter key, 32 hex digits (mode 5/7 and ELL encryption)')
    .addOption(new Option('--crc <mode>', 'block CRCs: auto (from the L-field), present, absent').choices(['auto', 'present', 'absent']).default('auto'))
    .addOption(new Option('--format <format>', 'frame format when CRCs are present: auto, A, B').choices(['auto', 'A', 'B']).default('auto'))
    .option('--jsonl', 'read telegrams from standard input, one per line; print one JSON object per line')
    .option('--pretty', 'indent the JSON output')
    .addHelpText('after', EXAMPLES)
    .action((hex: string | undefined, opts: WmbusOptions) =>
      run(async () => {
        const key = parseKey(opts.key)
        if (typeof key === 'string') throw new UsageError(key)
        if (opts.jsonl === true) {
          if (hex !== undefined) throw new UsageError('give either a hex argument or --jsonl, not both')
          return printLines(io, (line) => decodeLine(line, key, opts))
        }
        if (hex === undefined) throw new UsageError('missing telegram: give it in hex, or use --jsonl')
        const bytes = parseHex(hex)
        if (!bytes || bytes.length === 0) throw new UsageError(`telegram is not hex: ${hex}`)
        return printOne(io, decodeOne(hex, key, opts), opts.pretty === true)
      }),
    )
}
