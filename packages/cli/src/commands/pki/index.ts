import type { Command } from 'commander'
import type { CliIo } from '../../io.js'
import type { CommandRun } from '../../program.js'
import { register as registerInit } from './init.js'
import { register as registerIssue } from './issue.js'
import { register as registerCsr } from './csr.js'
import { register as registerSignCsr } from './sign-csr.js'
import { register as registerRevoke } from './revoke.js'
import { register as registerCrl } from './crl.js'
import { register as registerShow } from './show.js'
import { register as registerVerify } from './verify.js'

export { readTrust, withTrustOptions } from './trust.js'
export type { TrustFileOptions } from './trust.js'

/** `smgw pki`: one file per subcommand; folder.ts is the PKI folder, input.ts the options and files, output.ts the printing. */
export function register(program: Command, io: CliIo, run: CommandRun): void {
  const pki = program.command('pki').description('SM-PKI (TR-03109-4): a demo PKI folder, certificates, CSRs, CRLs, path validation')
  for (const registerSub of [registerInit, registerIssue, registerCsr, registerSignCsr, registerRevoke, registerCrl, registerShow, registerVerify]) registerSub(pki, io, run)
}
