import type { Command } from 'commander'
import type { CliIo } from '../../io.js'
import type { CommandRun } from '../../program.js'
import { registerDecodeSml } from './sml.js'
import { registerDecodeWmbus } from './wmbus.js'
import { registerDecodeMbus } from './mbus.js'

export function register(program: Command, io: CliIo, run: CommandRun): void {
  const decode = program
    .command('decode')
    .description('decode meter data from the LMN (SML, wired M-Bus, wireless M-Bus/OMS) into JSON')
  registerDecodeWmbus(decode, io, run)
  registerDecodeMbus(decode, io, run)
  registerDecodeSml(decode, io, run)
}
