// A TCP relay on loopback that can become a black hole: while it is one,
// bytes in either direction are swallowed (connections stay open, nothing
// arrives, nothing is refused), as on a network partition. Frames sent then
// never reach the other daemon, so they are never acknowledged.

import { createServer, connect, type Socket, type Server } from 'node:net'

export interface BlackholeRelay {
  port: number
  /** Swallow every byte from now on (true) or relay again, new connections only (false). */
  blackhole (on: boolean): void
  close (): Promise<void>
}

export async function startBlackholeRelay (targetPort: number): Promise<BlackholeRelay> {
  const live = new Set<Socket>()
  let hole = false
  const server: Server = createServer((client) => {
    live.add(client)
    client.on('error', () => { client.destroy() })
    client.on('close', () => { live.delete(client) })
    if (hole) { client.on('data', () => {}); return }
    const upstream = connect(targetPort, '127.0.0.1')
    live.add(upstream)
    let swallowing = false
    const drop = (): void => { client.destroy(); upstream.destroy(); live.delete(upstream) }
    upstream.on('error', drop)
    upstream.on('close', () => { if (!swallowing) drop() })
    client.on('close', () => { if (!swallowing) drop() })
    // A connection relayed before the partition swallows from its start on.
    const relay = (from: Socket, to: Socket): void => {
      from.on('data', (d: Buffer) => {
        if (hole) swallowing = true
        if (!swallowing) to.write(d)
      })
    }
    relay(client, upstream)
    relay(upstream, client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return {
    port,
    blackhole (on: boolean) { hole = on },
    async close () {
      for (const s of live) s.destroy()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    }
  }
}
