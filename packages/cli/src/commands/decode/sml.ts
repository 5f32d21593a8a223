import type { Command } from 'commander'
import type { CliIo } from '../../io.js'
import type { CommandRun } from '../../program.js'

// Placeholder until the sml codec lands; the helper implementing it replaces this file.
export function registerDecodeSml(decode: Command, _io: CliIo, _run: CommandRun): void {
  decode.command('sml').description('decode sml (not yet implemented)')
}
