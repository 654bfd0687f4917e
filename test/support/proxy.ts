// A TCP relay on loopback whose connections a test can cut, to drop a link's
// TCP connection mid-stream without either daemon's help.

import { createServer, connect, type Socket, type Server } from 'node:net'

export interface Relay {
  port: number
  /** Destroys every relayed connection (both halves). */
  cut (): number
  close (): Promise<void>
}

export async function startRelay (targetPort: number): Promise<Relay> {
  const live = new Set<Socket>()
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1')
    live.add(client); live.add(upstream)
    const drop = (): void => { client.destroy(); upstream.destroy(); live.delete(client); live.delete(upstream) }
    client.on('error', drop); upstream.on('error', drop)
    client.on('close', drop); upstream.on('close', drop)
    client.pipe(upstream); upstream.pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return {
    port,
    cut () {
      const n = live.size / 2
      for (const s of [...live]) s.destroy()
      live.clear()
      return n
    },
    async close () {
      for (const s of live) s.destroy()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    }
  }
}
