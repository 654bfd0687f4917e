// NTB daemon processes for end-to-end tests: a board (--role ntb) and hosts
// (--role ntb-vhost / ntb-virtio) that dial it, started as a user would with
// nothing but their role and the board's address; the state each shows at
// GET /v1/ntb; an echo application and tagged, checkable messages for
// rpmsg between the hosts.

import { startDaemon, until, type Daemon } from './daemon.js'
import { getJson, rpmsgBus } from './rpmsg-procs.js'
import type { RpmsgEndpoint } from '../../client/src/index.js'

export type NtbSide = 'vhost' | 'virtio'

export async function startBoard (args: string[] = []): Promise<Daemon> {
  return await startDaemon('board', ['--role', 'ntb', ...args])
}

export async function startHost (name: string, side: NtbSide, board: Daemon, args: string[] = []): Promise<Daemon> {
  return await startDaemon(name, ['--role', `ntb-${side}`, '--peer', board.link, ...args])
}

/** The NTB topology of the RFC: a board, HOST1 on the vhost side and HOST2 on the virtio side, each pushed to `daemons` (stopped by the caller) as soon as it runs. */
export async function startNtbTopology (daemons: Daemon[], opts: { board?: string[], host1?: string[] } = {}): Promise<{ board: Daemon, host1: Daemon, host2: Daemon }> {
  const board = await startBoard(opts.board)
  daemons.push(board)
  const host1 = await startHost('host1', 'vhost', board, opts.host1)
  daemons.push(host1)
  const host2 = await startHost('host2', 'virtio', board)
  daemons.push(host2)
  return { board, host1, host2 }
}

/** What GET /v1/ntb shows on a host (the fields tests look at). */
export interface HostState {
  role: string
  board: string | null
  device: { link: boolean, ready: boolean, vectors: number, translations: Array<{ widx: number, addr: number, size: number }>, peerMws: Array<{ widx: number, bar: number, base: number, size: number }> } | null
  transport: {
    state: string
    peerType: string
    virtioAddr: number | null
    mwSize: number | null
    device: { name: string, status: number, driver: string | null } | null
    counters: Record<string, number>
  } | null
}

export interface InterfaceState { host: string, peer: string | null, started: boolean, linkStatus: boolean, memoryWindows: Array<{ idx: number, bar: number, offset: number, translation: { addr: number, size: number, attached: boolean } | null }> }
export interface BoardState { role: 'ntb', autoPairing: boolean, pairs: Array<{ name: string, a: string, b: string | null, configured: boolean, layout: { mw1Offset: number, mwBars: number[] }, interfaces: InterfaceState[] }>, unpaired: string[] }

export async function hostState (d: Daemon): Promise<HostState> {
  const r = await getJson<HostState>(d.api, '/v1/ntb')
  if (r.status !== 200) throw new Error(`${d.name}: GET /v1/ntb answered ${r.status}: ${JSON.stringify(r.body)}`)
  return r.body
}

export async function boardState (d: Daemon): Promise<BoardState> {
  const r = await getJson<BoardState>(d.api, '/v1/ntb')
  if (r.status !== 200) throw new Error(`${d.name}: GET /v1/ntb answered ${r.status}: ${JSON.stringify(r.body)}`)
  return r.body
}

/** Resolves with the host's state once its transport is up and its rpmsg bus is there. */
export async function hostUp (d: Daemon, ms = 30_000): Promise<HostState> {
  const s = await until(`${d.name}'s NTB transport up`, async () => {
    const st = await hostState(d)
    return st.transport?.state === 'up' && st.transport.device?.status === 15 ? st : undefined
  }, ms)
  await rpmsgBus(d, ms)
  return s
}

/**
 * Message `seq` of `tag`: seq and tag (u32 LE), then bytes from both; 8
 * bytes up to `max`, every 1000th exactly `max`.
 */
export function tagged (tag: number, seq: number, max: number): Buffer {
  const size = seq % 1000 === 999 ? max : 8 + (seq * 37) % (max - 7)
  const out = Buffer.alloc(size)
  out.writeUInt32LE(seq, 0)
  out.writeUInt32LE(tag, 4)
  for (let k = 8; k < size; k++) out[k] = (seq * 13 + k * 7 + tag) & 0xff
  return out
}

/** The tag and seq of a message made by tagged(), or null if it is not one. */
export function untag (payload: Uint8Array, max: number): { tag: number, seq: number } | null {
  const b = Buffer.from(payload)
  if (b.length < 8) return null
  const seq = b.readUInt32LE(0)
  const tag = b.readUInt32LE(4)
  return b.equals(tagged(tag, seq, max)) ? { tag, seq } : null
}

export interface Echo {
  /** Every message echoed: its tag and seq (null: not a tagged message), in arrival order. */
  seen: Array<{ tag: number, seq: number } | null>
  /** Ends when the endpoint ends (its client closes, or its daemon goes). */
  done: Promise<void>
}

/** An ep-style echo application: sends every message back to its source. */
export function echo (ept: RpmsgEndpoint): Echo {
  const seen: Echo['seen'] = []
  const done = (async () => {
    try {
      for await (const m of ept) {
        seen.push(untag(m.payload, ept.maxPayload))
        await ept.send(m.src, m.payload)
      }
    } catch {
      // The daemon went away under the application.
    }
  })()
  return { seen, done }
}

/**
 * Sends `count` tagged messages to `dst` and takes as many echoes; the
 * first problems found (a gap is a loss, a step back a duplicate or a
 * reordering, a foreign tag crosstalk).
 */
export async function exchange (ept: RpmsgEndpoint, dst: number, tag: number, count: number): Promise<string[]> {
  const problems: string[] = []
  const receive = (async () => {
    let next = 0
    for await (const m of ept) {
      const got = untag(m.payload, ept.maxPayload)
      if (m.src !== dst) problems.push(`echo ${next}: from ${m.src}, not ${dst}`)
      if (got === null) problems.push(`echo ${next}: not a tagged message (${m.payload.length} bytes)`)
      else if (got.tag !== tag) problems.push(`echo ${next}: tag ${got.tag}, not ${tag}`)
      else if (got.seq !== next) problems.push(`expected seq ${next}, got ${got.seq}`)
      next++
      if (problems.length > 5 || next === count) break
    }
    if (next < count && problems.length === 0) problems.push(`only ${next} of ${count} echoes`)
  })()
  for (let i = 0; i < count; i++) await ept.send(dst, tagged(tag, i, ept.maxPayload))
  await receive
  return problems
}

/** Whether `seen` is seqs 0..count-1 of `tag` in order, each once. */
export function inOrder (seen: Echo['seen'], tag: number, count: number): string[] {
  const problems: string[] = []
  if (seen.length !== count) problems.push(`${seen.length} messages, not ${count}`)
  seen.forEach((m, i) => {
    if (problems.length > 5) return
    if (m === null || m.tag !== tag || m.seq !== i) problems.push(`message ${i}: ${m === null ? 'not tagged' : `tag ${m.tag} seq ${m.seq}`}`)
  })
  return problems
}
