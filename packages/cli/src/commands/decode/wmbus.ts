import type { Command } from 'commander'
import type { CliIo } from '../../io.js'
import type { CommandRun } from '../../program.js'

// Placeholder until the wmbus codec lands; the helper implementing it replaces this file.
export function registerDecodeWmbus(decode: Command, _io: CliIo, _run: CommandRun): void {
  decode.command('wmbus').description('decode wmbus (not yet implemented)')
}
