// soclink run: runs an unmodified Linux program so that its rpmsg_char
// device files (/dev/rpmsg_ctrlN, /dev/rpmsgN) and rpmsg sysfs reach this
// daemon's rpmsg gateway. The program gets the shim (client/native, built to
// dist/native/libsoclink-rpmsg.so) in LD_PRELOAD; each of its processes
// connects to a Unix socket this command listens on, and this command
// relays that connection to one gateway connection of its own (version 1),
// message for message (proto/rpmsg.proto, "Local framing"). The program's
// exit status is this command's.

import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { constants, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import type { Command } from 'commander'
import type { Context } from './context.js'
import { resolveCredentials, type Credentials } from '../credentials.js'
import { socketOptions, whenOpen } from '../transport.js'

/** Where `npm run build` puts the shim (scripts/build-native.mjs). */
export const SHIM_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '../../../native/libsoclink-rpmsg.so')

/** A local frame's length: u32 little-endian; at most the gateway's largest message. */
const MAX_FRAME = 1 << 20

/** Relays one shim connection to one gateway connection until either ends. */
function relay (local: Socket, gatewayUrl: string, credentials: Credentials): void {
  const ws = new WebSocket(gatewayUrl, socketOptions(credentials))
  const early: Buffer[] = []
  let pending: Buffer = Buffer.alloc(0)
  const end = (): void => {
    local.destroy()
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.terminate()
  }
  ws.on('open', () => { for (const m of early.splice(0)) ws.send(m) })
  ws.on('message', (data: Buffer) => {
    const head = Buffer.alloc(4)
    head.writeUInt32LE(data.length)
    local.write(Buffer.concat([head, data]))
  })
  ws.on('close', end)
  ws.on('error', (err) => {
    process.stderr.write(`soclink run: rpmsg gateway ${gatewayUrl}: ${err.message}\n`)
    end()
  })
  local.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
    while (pending.length >= 4) {
      const n = pending.readUInt32LE(0)
      if (n > MAX_FRAME) { end(); return }
      if (pending.length < 4 + n) break
      const msg = pending.subarray(4, 4 + n)
      pending = pending.subarray(4 + n)
      if (ws.readyState === WebSocket.OPEN) ws.send(msg)
      else early.push(Buffer.from(msg))
    }
  })
  // The program's process ended (or closed the shim's socket): its gateway
  // connection closes, and the daemon destroys the endpoints it owned.
  local.on('close', () => { if (ws.readyState === WebSocket.OPEN) ws.close(); else if (ws.readyState === WebSocket.CONNECTING) ws.terminate() })
  local.on('error', () => { /* 'close' follows and ends the gateway connection */ })
}

export function runCommand (program: Command, ctx: Context): void {
  program.command('run')
    .description('run an unmodified Linux program with its rpmsg_char devices (/dev/rpmsg_ctrlN, /dev/rpmsgN, rpmsg sysfs) on this daemon\'s rpmsg gateway')
    .argument('<program>', 'the program')
    .argument('[args...]', 'its arguments (after --)')
    .action(async (file: string, args: string[]) => {
      const shim = process.env.SOCLINK_RPMSG_SHIM ?? SHIM_PATH
      if (!existsSync(shim)) {
        throw new Error(`the rpmsg_char shim is not built (${shim}): install a C compiler (cc) and run \`npm run build:native\``)
      }
      const gatewayUrl = ctx.client().base.replace(/\/+$/, '').replace(/^http/, 'ws') + '/v1/rpmsg'
      // The token and TLS trust of --token-file, --ca (every relayed connection carries them).
      const credentials = resolveCredentials(ctx.connection())
      // A gateway that refuses us (401, 403, an untrusted certificate) says
      // so before the program starts, not as an EPIPE in its first open().
      const probe = new WebSocket(gatewayUrl, socketOptions(credentials))
      await whenOpen(probe, `the rpmsg gateway ${gatewayUrl}`, credentials)
      probe.close()
      const dir = mkdtempSync(join(tmpdir(), 'soclink-run-'))
      const socketPath = join(dir, 'gateway.sock')
      const open = new Set<Socket>()
      const server: Server = createServer((s) => {
        open.add(s)
        s.on('close', () => open.delete(s))
        relay(s, gatewayUrl, credentials)
      })
      await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(socketPath, resolve) })
      const preload = [shim, process.env.LD_PRELOAD].filter((x) => x !== undefined && x !== '').join(' ')
      const child = spawn(file, args, {
        stdio: 'inherit',
        env: { ...process.env, LD_PRELOAD: preload, SOCLINK_RPMSG_SOCKET: socketPath, SOCLINK_RPMSG_ROOT: join(dir, 'tree') }
      })
      const forward = (sig: NodeJS.Signals): void => { child.kill(sig) }
      const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']
      for (const sig of signals) process.on(sig, forward)
      const status = await new Promise<number>((resolve) => {
        child.once('error', (err) => { process.stderr.write(`soclink run: ${file}: ${err.message}\n`); resolve(127) })
        child.once('exit', (code, signal) => { resolve(code ?? 128 + (signal !== null ? constants.signals[signal] : 0)) })
      })
      for (const sig of signals) process.off(sig, forward)
      server.close()
      // What the program's own children still hold ends with this command.
      for (const s of open) s.destroy()
      rmSync(dir, { recursive: true, force: true })
      process.exitCode = status
    })
}
