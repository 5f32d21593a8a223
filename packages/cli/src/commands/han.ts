import type { Command } from 'commander'
import type { GatewayConfig, HanAccounts, Store } from '@smgw/gateway'
import type { CliIo } from '../io.js'
import { readAll } from '../io.js'
import type { CommandRun } from '../program.js'
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError } from '../exit.js'
import { toJson } from '../json.js'

const HELP = `
Accounts of the gateway's HAN service (the consumer and service-technician API over HTTPS,
packages/gateway/README.md "HAN service"). A consumer account is bound to one consumer ID
(the "consumer" of meters in the configuration in force: for an administered gateway the
version the GWA made active) and sees only that consumer's meters and
log; a technician account sees the device state, never readings. Passwords are stored as
scrypt hashes (N = 2^15, r = 8, p = 1, 16-byte salt). A password is read from standard
input (first line) or --password-file, never from the command line (shell history, ps).
The store is the one the configuration names; the gateway may be running.

Exit status: 0 done, 1 refused (bad username or password, unknown consumer, no such
account), 2 usage or configuration error.

Examples:
  printf '%s\\n' 'a long passphrase' | smgw han user add alice --consumer c-1 --config gateway.json
  smgw han user add tech-1 --technician --password-file tech.pw --config gateway.json
  smgw han user list --config gateway.json --json
  smgw han user passwd alice --password-file new.pw --config gateway.json
  smgw han user remove alice --config gateway.json
`

type Gateway = typeof import('@smgw/gateway')

interface Common { config: string; json?: boolean }
interface AddOptions extends Common { consumer?: string; technician?: boolean; passwordFile?: string }
interface PasswdOptions extends Common { passwordFile?: string }

export function register(program: Command, io: CliIo, run: CommandRun): void {
  const han = program.command('han').description('the gateway\'s HAN service: consumer and technician accounts').addHelpText('after', HELP)
  const user = han.command('user').description('add, list, remove HAN accounts and set their passwords').addHelpText('after', HELP)

  user.command('add')
    .description('add a consumer account (--consumer ID) or a technician account (--technician); password from stdin or --password-file')
    .argument('<username>', '1–64 characters A–Z a–z 0–9 . _ @ -')
    .option('--consumer <id>', 'the consumer ID the account sees (a "consumer" of meters in the configuration)')
    .option('--technician', 'a service-technician account (device state only, no readings)')
    .option('--password-file <file>', 'read the password from this file (first line) instead of standard input')
    .requiredOption('--config <file>', 'the gateway configuration (names the store)')
    .option('--json', 'print JSON')
    .addHelpText('after', `
Examples:
  printf '%s\\n' 'a long passphrase' | smgw han user add alice --consumer c-1 --config gateway.json
  smgw han user add tech-1 --technician --password-file tech.pw --config gateway.json
`)
    .action((username: string, o: AddOptions) => run(() => withAccounts(io, o, 'add', async (accounts) => {
      if ((o.consumer === undefined) === (o.technician !== true)) throw new UsageError('give exactly one of --consumer ID and --technician')
      const password = await readPassword(io, o.passwordFile)
      await accounts.add({ username, role: o.technician === true ? 'technician' : 'consumer', ...(o.consumer === undefined ? {} : { consumer: o.consumer }), password })
      io.stdout(o.json === true ? `${toJson({ ok: true, username })}\n` : `account ${username} added\n`)
      return EXIT_OK
    })))

  user.command('list')
    .description('list the accounts (username, role, consumer, locked until)')
    .requiredOption('--config <file>', 'the gateway configuration (names the store)')
    .option('--json', 'print JSON: { accounts: [...] }')
    .addHelpText('after', `
Examples:
  smgw han user list --config gateway.json
  smgw han user list --config gateway.json --json
`)
    .action((o: Common) => run(() => withAccounts(io, o, 'list', (accounts) => {
      const list = accounts.list()
      if (o.json === true) io.stdout(`${toJson({ accounts: list })}\n`)
      else if (list.length === 0) io.stdout('no accounts\n')
      else {
        for (const a of list) {
          io.stdout(`${a.username}  ${a.role}${a.consumer === undefined ? '' : `  consumer ${a.consumer}`}${a.lockedUntil === undefined ? '' : `  locked until ${a.lockedUntil.toISOString()}`}\n`)
        }
      }
      return Promise.resolve(EXIT_OK)
    })))

  user.command('remove')
    .description('remove an account with its sessions and tokens')
    .argument('<username>')
    .requiredOption('--config <file>', 'the gateway configuration (names the store)')
    .option('--json', 'print JSON')
    .addHelpText('after', `
Example:
  smgw han user remove alice --config gateway.json
`)
    .action((username: string, o: Common) => run(() => withAccounts(io, o, 'remove', (accounts) => {
      const removed = accounts.remove(username)
      if (o.json === true) io.stdout(`${toJson({ ok: removed, username })}\n`)
      else io.stdout(removed ? `account ${username} removed\n` : '')
      if (!removed) io.stderr(`smgw han user remove: no account ${username}\n`)
      return Promise.resolve(removed ? EXIT_OK : EXIT_FAILED)
    })))

  user.command('passwd')
    .description('set a new password (ends the account\'s sessions and clears a lockout); password from stdin or --password-file')
    .argument('<username>')
    .option('--password-file <file>', 'read the password from this file (first line) instead of standard input')
    .requiredOption('--config <file>', 'the gateway configuration (names the store)')
    .option('--json', 'print JSON')
    .addHelpText('after', `
Examples:
  printf '%s\\n' 'another long passphrase' | smgw han user passwd alice --config gateway.json
  smgw han user passwd alice --password-file new.pw --config gateway.json
`)
    .action((username: string, o: PasswdOptions) => run(() => withAccounts(io, o, 'passwd', async (accounts) => {
      const changed = await accounts.setPassword(username, await readPassword(io, o.passwordFile))
      if (o.json === true) io.stdout(`${toJson({ ok: changed, username })}\n`)
      else if (changed) io.stdout(`password of ${username} set\n`)
      if (!changed) io.stderr(`smgw han user passwd: no account ${username}\n`)
      return changed ? EXIT_OK : EXIT_FAILED
    })))
}

async function readPassword(io: CliIo, file: string | undefined): Promise<string> {
  const bytes = file === undefined ? await readAll(io) : await io.readFile(file)
  const text = new TextDecoder().decode(bytes)
  const line = text.split(/\r?\n/)[0] ?? ''
  if (line === '') throw new UsageError(`no password on ${file === undefined ? 'standard input' : file}`)
  return line
}

async function withAccounts(io: CliIo, o: Common, what: string, fn: (accounts: HanAccounts) => Promise<number>): Promise<number> {
  const gw: Gateway = await import('@smgw/gateway')
  let config: GatewayConfig
  try {
    // The consumers of the configuration in force: for an administered gateway the version the
    // GWA made active, whose meters may name consumers the file does not.
    config = (await gw.readEffectiveConfig(o.config)).config
  } catch (err) {
    if (!(err instanceof gw.GatewayError)) throw err
    io.stderr(`smgw han user ${what}: ${err.code}: ${err.message}\n`)
    return EXIT_USAGE
  }
  let store: Store | undefined
  try {
    store = gw.openStore(config.store.path, { now: () => new Date() })
    const consumers = new Set(config.meters.flatMap((m) => (m.consumer === undefined ? [] : [m.consumer])))
    return await fn(gw.createHanAccounts(store, consumers))
  } catch (err) {
    if (!(err instanceof gw.GatewayError)) throw err
    io.stderr(`smgw han user ${what}: ${err.code}: ${err.message}\n`)
    return EXIT_FAILED
  } finally {
    store?.close()
  }
}
