import type { Command } from 'commander'
import { createSmlFramer, decodeSmlMessages, extractReadings, SmlError } from '@smgw/sml'
import type { SmlMessage, SmlQuirks, SmlReading } from '@smgw/sml'
import type { CliIo } from '../../io.js'
import { readAll } from '../../io.js'
import type { CommandRun } from '../../program.js'
import { UsageError } from '../../exit.js'
import type { DecodeOutput } from './result.js'
import { failure, failureFrom, parseHex, printLines, printOne } from './result.js'

/** `--quirk` names on the command line → the library's quirk options. */
const QUIRKS: Readonly<Record<string, keyof SmlQuirks>> = {
  'unsigned-negative-power': 'unsignedNegativePower',
  'signed-positive-power': 'signedPositivePower',
}

interface SmlCliOptions {
  readonly hex?: boolean
  readonly jsonl?: boolean
  readonly pretty?: boolean
  readonly quirk: string[]
  readonly strictTime?: boolean
}

interface DecodeSettings {
  readonly quirks: SmlQuirks
  readonly strictTime: boolean
}

const HELP = `
Input: one SML file (transport v1: 1b1b1b1b 01010101 … 1b1b1b1b 1a XX CRC16), or a capture
from a serial line / optical head holding several files with noise between them. Every file
found is decoded; output is one JSON object:

  {"ok":true,"files":N,"readings":[{"obis","value","unit","scaler","status","valTime",
   "serverId","signature"?,"name"?,"raw",…}],"messages":[…],
   "skipped":BYTES?,"dropped":[{"code","message","bytes"}]?}

"readings" and "messages" concatenate all files in order; "files" counts the files decoded;
"skipped" counts bytes outside any file; "dropped" lists files that were cut off or corrupt.
The result is ok when at least one file decoded. Failure: {"ok":false,"error":{"code","message"}}
with the SmlError code (SML_CRC, SML_TRUNCATED, …; see packages/sml/README.md).

Quirks (real meters that do not follow SML 1.04; active power 16.7.0, 36/56/76.7.0 only):
  unsigned-negative-power   negative power sent with an Unsigned TL: read as two's complement
                            of the length sent (meter model not verified)
  signed-positive-power     positive power sent as a 1..3-byte Integer with the top bit set:
                            read as unsigned (DZG DVS74, serials 42000000-48999999 and
                            55000000-58999999, see libsml)
The Holley DTZ541 time form (bare Unsigned32 for SML_Time) is always accepted unless
--strict-time is given.

Exit status: 0 every input decoded, 1 an input did not, 2 usage error.

Examples:
  smgw decode sml packages/sml/fixtures/capture-serial.bin
  smgw decode sml packages/sml/fixtures/emh-ehz.hex --hex --pretty
  cat dump.bin | smgw decode sml - --quirk unsigned-negative-power
  printf '1b1b1b1b01010101…\\n' | smgw decode sml --jsonl
`

export function registerDecodeSml(decode: Command, io: CliIo, run: CommandRun): void {
  decode
    .command('sml')
    .description('decode SML 1.04 files (electricity meters, BSI TR-03109-1) into readings and messages')
    .argument('[file]', "SML file or serial capture ('-' for standard input)")
    .option('--hex', 'the input is hex text (whitespace, colons and # comments allowed) instead of binary')
    .option('--jsonl', 'read standard input line by line, one hex-encoded SML file per line; print one JSON object per line')
    .option('--pretty', 'indent the JSON output')
    .option('--quirk <name>', `enable a real-meter quirk (${Object.keys(QUIRKS).join(', ')}); repeatable`, (v: string, prev: string[]) => [...prev, v], [])
    .option('--strict-time', 'reject the Holley DTZ541 bare-Unsigned32 SML_Time form')
    .addHelpText('after', HELP)
    .action((file: string | undefined, options: SmlCliOptions) => run(() => decodeSmlCommand(file, options, io)))
}

async function decodeSmlCommand(file: string | undefined, options: SmlCliOptions, io: CliIo): Promise<number> {
  const quirks: { -readonly [K in keyof SmlQuirks]: SmlQuirks[K] } = {}
  for (const name of options.quirk) {
    const key = QUIRKS[name]
    if (key === undefined) throw new UsageError(`unknown quirk '${name}' (known: ${Object.keys(QUIRKS).join(', ')})`)
    quirks[key] = true
  }
  const settings: DecodeSettings = { quirks, strictTime: options.strictTime === true }

  if (options.jsonl === true) {
    if (file !== undefined && file !== '-') throw new UsageError('--jsonl reads standard input; give no file (or -)')
    return printLines(io, (line) => {
      const bytes = parseHex(line)
      if (bytes === undefined) return failure('HEX_INVALID', 'the line is not hex')
      return decodeInput(bytes, settings)
    })
  }

  if (file === undefined) throw new UsageError("missing FILE (use '-' for standard input)")
  let input: Uint8Array
  if (file === '-') input = await readAll(io)
  else {
    try {
      input = await io.readFile(file)
    } catch (err) {
      throw new UsageError(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`)
    }
  }
  if (options.hex === true) {
    const text = new TextDecoder().decode(input).replace(/#[^\n]*/g, '')
    const bytes = parseHex(text)
    if (bytes === undefined) throw new UsageError(`${file === '-' ? 'standard input' : file} is not hex text`)
    input = bytes
  }
  return printOne(io, decodeInput(input, settings), options.pretty === true)
}

/** Decodes every SML file found in `input` (one file or a capture). */
function decodeInput(input: Uint8Array, settings: DecodeSettings): DecodeOutput {
  try {
    const framer = createSmlFramer({ maxFrameBytes: Math.max(16_384, input.length) })
    const events = [...framer.push(input), ...framer.end()]
    const readings: SmlReading[] = []
    const messages: SmlMessage[] = []
    const dropped: { code: string; message: string; bytes: number }[] = []
    let files = 0
    let skipped = 0
    for (const ev of events) {
      if (ev.kind === 'skipped') skipped += ev.count
      else if (ev.kind === 'error') dropped.push({ code: ev.error.code, message: ev.error.message, bytes: ev.count })
      else {
        try {
          const file = { messages: decodeSmlMessages(ev.payload, { strictTime: settings.strictTime }) }
          readings.push(...extractReadings(file, { quirks: settings.quirks, names: true }))
          messages.push(...file.messages)
          files++
        } catch (err) {
          if (!(err instanceof SmlError)) throw err
          dropped.push({ code: err.code, message: err.message, bytes: ev.bytes.length })
        }
      }
    }
    if (files === 0) {
      const first = dropped[0]
      if (first !== undefined) return failure(first.code, first.message)
      return failure('SML_START', input.length === 0 ? 'the input is empty' : 'no SML file (start sequence 1b1b1b1b 01010101) in the input')
    }
    return {
      ok: true,
      files,
      readings,
      messages,
      ...(skipped > 0 ? { skipped } : {}),
      ...(dropped.length > 0 ? { dropped } : {}),
    }
  } catch (err) {
    return failureFrom(err)
  }
}
