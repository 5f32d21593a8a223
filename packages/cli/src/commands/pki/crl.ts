import type { Command } from 'commander'
import type { CliIo } from '../../io.js'
import type { CommandRun } from '../../program.js'
import { EXIT_OK } from '../../exit.js'
import { readIndex, reissueCrls } from './folder.js'
import { parseTime, parseDays } from './input.js'
import { guarded } from './output.js'

export function register(pki: Command, io: CliIo, run: CommandRun): void {
  pki.command('crl')
    .description('reissue the CRL of one CA (or all) of a PKI folder from index.json')
    .requiredOption('--dir <dir>', 'the PKI folder')
    .option('--ca <label>', 'one CA (default: all)')
    .option('--days <n>', 'nextUpdate after this many days', '7')
    .option('--at <iso-time>', 'thisUpdate (default: now)')
    .addHelpText('after', `
Examples:
  smgw pki crl --dir ./pki
  smgw pki crl --dir ./pki --ca sub-ca-gw --days 1
`)
    .action((opts: { dir: string; ca?: string; days: string; at?: string }) =>
      run(() => guarded(io, async () => {
        const index = await readIndex(io, opts.dir)
        const days = parseDays(opts.days) ?? 7
        const now = parseTime(opts.at)
        await reissueCrls(io, opts.dir, index, opts.ca === undefined ? Object.keys(index.cas) : [opts.ca], now, days)
        return EXIT_OK
      })))
}
