import { Command, CommanderError } from 'commander'
import type { CliIo } from './io.js'
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError } from './exit.js'
import { register as registerDecode } from './commands/decode/index.js'
import { register as registerPki } from './commands/pki/index.js'
import { register as registerCms } from './commands/cms.js'
import { register as registerSim } from './commands/sim.js'
import { register as registerLog } from './commands/log.js'
import { register as registerGateway } from './commands/gateway.js'
import { register as registerEmt } from './commands/emt.js'
import { register as registerHan } from './commands/han.js'
import { register as registerFirmware } from './commands/firmware.js'
import { register as registerGwa } from './commands/gwa.js'

/** Wraps a command's action: its returned number becomes the exit status. */
export type CommandRun = (action: () => Promise<number> | number) => Promise<void>

/**
 * Runs `smgw` with the given arguments (without `node` and the script) and returns
 * the exit status: 0 success, 1 an input failed, 2 usage error.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let status = EXIT_OK
  const run: CommandRun = async (action) => {
    status = await action()
  }
  const program = new Command('smgw')
    .description('Open Smart Meter Gateway: the German smart metering system (SMGW, SM-PKI, LMN codecs)')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride()
  for (const register of [registerDecode, registerPki, registerCms, registerSim, registerLog, registerGateway, registerEmt, registerHan, registerFirmware, registerGwa]) register(program, io, run)
  for (const sub of allCommands(program)) sub.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr })

  try {
    await program.parseAsync([...argv], { from: 'user' })
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end through here with exit code 0.
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE
    }
    if (err instanceof UsageError) {
      io.stderr(`smgw: ${err.message}\n`)
      return EXIT_USAGE
    }
    io.stderr(`smgw: ${err instanceof Error ? err.message : String(err)}\n`)
    return EXIT_FAILED
  }
  return status
}

function* allCommands(command: Command): Generator<Command> {
  for (const sub of command.commands) {
    yield sub
    yield* allCommands(sub)
  }
}
