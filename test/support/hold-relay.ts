// A TCP relay on loopback that can hold what flows one way (the bytes wait,
// in order, until released), as a peer that stops answering does while its
// link stays connected: a test holds the rc's requests to an ep without
// stopping either process, at a moment of its choosing.

import { createServer, connect, type Socket } from 'node:net'

export type Direction = 'toTarget' | 'toClient'

export interface HoldRelay {
  port: number
  hold (d: Direction): void
  /** Sends what was held, in order, and lets bytes flow again. */
  release (d: Direction): void
  close (): Promise<void>
}

interface Pipe { from: Socket, to: Socket, direction: Direction, held: Buffer[] }

export async function startHoldRelay (targetPort: number): Promise<HoldRelay> {
  const holding = new Set<Direction>()
  const pipes = new Set<Pipe>()
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1')
    const drop = (): void => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream) }
    for (const [from, to, direction] of [[client, upstream, 'toTarget'], [upstream, client, 'toClient']] as const) {
      sockets.add(from)
      const pipe: Pipe = { from, to, direction, held: [] }
      pipes.add(pipe)
      from.on('data', (chunk: Buffer) => {
        if (holding.has(direction)) pipe.held.push(chunk)
        else to.write(chunk)
      })
      from.on('error', drop)
      from.on('close', () => { pipes.delete(pipe); drop() })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    hold (d) { holding.add(d) },
    release (d) {
      holding.delete(d)
      for (const p of pipes) {
        if (p.direction !== d) continue
        for (const chunk of p.held.splice(0)) p.to.write(chunk)
      }
    },
    async close () {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    }
  }
}
