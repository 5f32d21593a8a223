import type { Command } from 'commander'
import type { ClsChannel, ClsServer, EmtConfig } from '@smgw/emt'
import { readLines, type CliIo } from '../io.js'
import type { CommandRun } from '../program.js'
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError } from '../exit.js'
import { toJson } from '../json.js'

const HELP = `
The market participant's end of a CLS channel (the gateway README, "CLS channel"): a
mutual-TLS 1.2 endpoint the gateway connects to when its administrator has it open a
channel to a controllable device (command cls-open, endpoint https://HOST:PORT). It uses the
receiver's TLS certificate and SM-PKI trust from --config; a gateway is accepted when its
client certificate validates and, with --gateway, names one of the listed gateway IDs.

serve: runs until SIGINT/SIGTERM. Operator commands on standard input, one per line, go to
the newest open channel: "limit 4.2", "release", "status", "close", or a JSON object sent
as is. Events on standard output (--json: one JSON object per line: listening, channel,
answer, closed, error).

limit: waits for the next channel (--wait-s), sends {"cmd":"limit","kw":KW}, then
{"cmd":"status"}, prints both answers, closes the channel and exits (0: the device took the
limit, 1: it refused or no channel came).

Exit status: 0 ok, 1 failed, 2 usage or configuration error.

Examples:
  smgw emt cls serve --config emt.json --port 9443 --gateway smgw-0001
  echo 'limit 4.2' | smgw emt cls serve --config emt.json --port 9443 --json
  smgw emt cls limit 4.2 --config emt.json --port 9443 --wait-s 120 --json
`

interface ClsOptions {
  readonly config: string
  readonly host: string
  readonly port: string
  readonly gateway: string[]
  readonly json?: boolean
}

const collect = (v: string, prev: string[]): string[] => [...prev, v]

/** An operator line as a device command: `limit 4.2`, `release`, `status`, or a JSON object. undefined: not a command. */
export function parseOperatorCommand(line: string): Record<string, unknown> | undefined {
  const text = line.trim()
  if (text.startsWith('{')) {
    try {
      const v: unknown = JSON.parse(text)
      return typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : undefined
    } catch {
      return undefined
    }
  }
  const m = /^limit\s+(\d+(?:\.\d+)?)$/.exec(text)
  if (m !== null) return { cmd: 'limit', kw: Number(m[1]) }
  if (text === 'release' || text === 'status') return { cmd: text }
  return undefined
}

async function startServer(o: ClsOptions, io: CliIo): Promise<{ server: ClsServer } | { status: number }> {
  const lib = await import('@smgw/emt')
  const port = Number(o.port)
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new UsageError(`--port must be 0–65535, got ${o.port}`)
  let config: EmtConfig
  try {
    config = await lib.readEmtConfig(o.config)
    const { identity, trust, close } = await lib.readClsServerMaterial(config)
    const server = lib.createClsServer({ host: o.host, port, identity, trust, ...(o.gateway.length === 0 ? {} : { gateways: o.gateway }) })
    try {
      await server.start()
    } catch (err) {
      await close()
      throw err
    }
    // The key's security module closes after the server (a token's key signs through OpenSSL's engine while it serves).
    return { server: { ...server, close: async () => { await server.close(); await close() } } }
  } catch (err) {
    if (!(err instanceof lib.EmtError)) throw err
    io.stderr(`smgw emt cls: ${err.code}: ${err.message}\n`)
    return { status: err.code === 'EMT_CONFIG_INVALID' ? EXIT_USAGE : EXIT_FAILED }
  }
}

function printer(io: CliIo, json: boolean) {
  return (event: Record<string, unknown>, text: string): void => {
    io.stdout(json ? `${toJson(event)}\n` : `${text}\n`)
  }
}

const channelEvent = (c: ClsChannel) => ({ event: 'channel', channelId: c.channelId, gatewayId: c.gatewayId, deviceId: c.deviceId, timeoutS: c.timeoutS })

/** `smgw emt cls serve`: until `signal` aborts. Exported for tests. */
export async function runClsServe(o: ClsOptions, io: CliIo, signal: AbortSignal): Promise<number> {
  const started = await startServer(o, io)
  if ('status' in started) return started.status
  const { server } = started
  const print = printer(io, o.json === true)
  print({ event: 'listening', port: server.port() }, `smgw emt cls: listening on ${o.host}:${String(server.port())} (mutual TLS)`)
  let stopped = false
  // Channels as they come; each is announced, and its end too.
  const watch = async (): Promise<void> => {
    while (!stopped) {
      let c: ClsChannel
      try {
        c = await server.nextChannel(3_600_000)
      } catch {
        continue // an hour without a channel, or the endpoint closed (then `stopped` ends the loop)
      }
      print(channelEvent(c), `channel ${c.channelId} from ${c.gatewayId} to device ${c.deviceId} (at most ${String(c.timeoutS)} s)`)
      void c.closed.then(() => { print({ event: 'closed', channelId: c.channelId }, `channel ${c.channelId} closed`) })
    }
  }
  void watch()
  const operate = async (): Promise<void> => {
    for await (const line of readLines(io)) {
      if (stopped) return
      const channel = server.channels().at(-1)
      if (channel === undefined) {
        print({ event: 'error', code: 'NO_CHANNEL', message: 'no channel is open' }, 'no channel is open')
        continue
      }
      if (line.trim() === 'close') {
        await channel.close()
        continue
      }
      const command = parseOperatorCommand(line)
      if (command === undefined) {
        print({ event: 'error', code: 'NOT_A_COMMAND', message: `not a command: ${line}` }, `not a command (limit KW, release, status, close or a JSON object): ${line}`)
        continue
      }
      try {
        const answer = await channel.send(command)
        print({ event: 'answer', channelId: channel.channelId, answer }, `answer: ${JSON.stringify(answer)}`)
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'EMT_CLS_FAILED'
        print({ event: 'error', code, message: (err as Error).message }, `${code}: ${(err as Error).message}`)
      }
    }
  }
  void operate().catch((err: unknown) => { io.stderr(`smgw emt cls: standard input: ${err instanceof Error ? err.message : String(err)}\n`) })
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve()
    else signal.addEventListener('abort', () => { resolve() }, { once: true })
  })
  stopped = true
  await server.close()
  print({ event: 'stopped' }, 'smgw emt cls: stopped')
  return EXIT_OK
}

/** `smgw emt cls limit KW`: one channel, one limit. Exported for tests. */
export async function runClsLimit(kw: number, o: ClsOptions & { waitS: string }, io: CliIo): Promise<number> {
  const waitS = Number(o.waitS)
  if (!Number.isFinite(waitS) || waitS <= 0) throw new UsageError(`--wait-s must be a positive number, got ${o.waitS}`)
  const started = await startServer(o, io)
  if ('status' in started) return started.status
  const { server } = started
  const print = printer(io, o.json === true)
  try {
    print({ event: 'listening', port: server.port() }, `smgw emt cls: listening on ${o.host}:${String(server.port())}; waiting for a channel`)
    const channel = await server.nextChannel(waitS * 1000)
    print(channelEvent(channel), `channel ${channel.channelId} from ${channel.gatewayId} to device ${channel.deviceId}`)
    const answer = await channel.send({ cmd: 'limit', kw }) as { ok?: unknown }
    print({ event: 'answer', channelId: channel.channelId, answer }, `limit: ${JSON.stringify(answer)}`)
    const status = await channel.send({ cmd: 'status' })
    print({ event: 'answer', channelId: channel.channelId, answer: status }, `status: ${JSON.stringify(status)}`)
    await channel.close()
    print({ event: 'closed', channelId: channel.channelId }, `channel ${channel.channelId} closed`)
    return answer.ok === true ? EXIT_OK : EXIT_FAILED
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'EMT_CLS_FAILED'
    print({ event: 'error', code, message: (err as Error).message }, `smgw emt cls: ${code}: ${(err as Error).message}`)
    return EXIT_FAILED
  } finally {
    await server.close()
  }
}

export function registerEmtCls(emt: Command, io: CliIo, run: CommandRun): void {
  const cls = emt.command('cls')
    .description('the EMT end of a CLS channel: a mutual-TLS endpoint the gateway connects to; send commands to the controllable device')
    .addHelpText('after', HELP)
  const common = (c: Command): Command => c
    .requiredOption('--config <file>', 'EMT configuration (JSON): its TLS certificate and SM-PKI trust are used')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'TCP port of the CLS endpoint (0: any free port)', '9443')
    .option('--gateway <id>', 'accept only this gateway ID (repeatable; default: any SM-PKI gateway)', collect, [])
    .option('--json', 'one JSON object per line on standard output')
    .addHelpText('after', HELP)
  common(cls.command('serve').description('serve CLS channels; operator commands on standard input'))
    .action((o: ClsOptions) => run(async () => {
      const controller = new AbortController()
      const abort = (): void => { controller.abort() }
      process.once('SIGINT', abort)
      process.once('SIGTERM', abort)
      try {
        return await runClsServe(o, io, controller.signal)
      } finally {
        process.off('SIGINT', abort)
        process.off('SIGTERM', abort)
      }
    }))
  common(cls.command('limit').description('wait for the next channel, limit the device to KW kilowatts, print its answer and status, close').argument('<kw>', 'the power limit, kW (e.g. 4.2)'))
    .option('--wait-s <s>', 'how long to wait for the gateway to open a channel', '300')
    .action((kwText: string, o: ClsOptions & { waitS: string }) => run(async () => {
      const kw = Number(kwText)
      if (kwText.trim() === '' || !Number.isFinite(kw) || kw <= 0) throw new UsageError(`<kw> must be a positive number, got ${kwText}`)
      return runClsLimit(kw, o, io)
    }))
}
