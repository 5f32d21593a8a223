import type { Command } from 'commander'
import type { CliIo } from '../io.js'
import type { CommandRun } from '../program.js'

// Placeholder until packages/cms lands; replaced by the real subcommands.
export function register(program: Command, _io: CliIo, _run: CommandRun): void {
  program.command('cms').description('cms (not yet implemented)')
}
