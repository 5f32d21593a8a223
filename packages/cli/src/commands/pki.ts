import type { Command } from 'commander'
import type { CliIo } from '../io.js'
import type { CommandRun } from '../program.js'

// Placeholder until packages/pki lands; replaced by the real subcommands.
export function register(program: Command, _io: CliIo, _run: CommandRun): void {
  program.command('pki').description('pki (not yet implemented)')
}
