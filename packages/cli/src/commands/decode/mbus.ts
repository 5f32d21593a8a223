import type { Command } from 'commander'
import type { CliIo } from '../../io.js'
import type { CommandRun } from '../../program.js'

// Placeholder until the mbus codec lands; the helper implementing it replaces this file.
export function registerDecodeMbus(decode: Command, _io: CliIo, _run: CommandRun): void {
  decode.command('mbus').description('decode mbus (not yet implemented)')
}
