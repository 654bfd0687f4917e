// The accepting side of a link, on one connection that reached the link
// port: Challenge out, one Hello in (handshake.ts checks it), then which
// link the connection joins. A name that this daemon dials itself is
// refused (CODE_DUPLICATE); a name that is linked (up, or waiting to
// resume) is taken over only by the same identity (credential.ts); under
// mutual TLS the name must be one the client certificate proves. The link
// then resumes its session or starts one (PeerLink.accept), and the Welcome
// says which. What only a socket knows (the TLS certificate, the address
// for the log, the pre-auth byte count) is the caller's (link-table.ts).

import type { Clock, Timer } from './clock.js'
import { decodePacket, encodePacket, wire } from './codec.js'
import { AcceptorHandshake, type AcceptStep } from './handshake.js'
import { takeoverRefusal } from './credential.js'
import { certificateNameRefusal } from './tls-reasons.js'
import { goodbye, type LinkSocket } from './transport.js'
import type { LinkOptions } from './options.js'
import type { PeerLink } from './peer-link.js'
import { FrameError } from '../errors.js'

const Code = wire.Goodbye.Code

/** How long a connection refused at its handshake timeout has to end the close handshake before it is terminated. */
export const CLOSE_GRACE_MS = 1000

/** The kinds of refusal the acceptor tells its caller about. */
export type AcceptRefusal = 'timeout' | 'handshake' | 'takeover'

/** What the acceptor needs of the links and of the connection's socket. */
export interface AcceptorEdge {
  /** The link under `name`, if there is one. */
  link: (name: string) => PeerLink | undefined
  /** A new link for a peer that dialed us. */
  newLink: (name: string) => PeerLink
  /** What the connection's client certificate proves (mutual TLS), else null. */
  certificate: () => { kind: 'certificate', names: string[] } | null
  /** A refusal, for the log (`name`: the name the peer claimed, '' if none). */
  refused: (kind: AcceptRefusal, name: string, why: string, level: 'warn' | 'error') => void
  /** The handshake ended, whichever way: the connection is no longer pending. */
  settled: () => void
  /** The connection authenticated and joined a link. */
  joined: () => void
}

/**
 * Runs the acceptor's side of the handshake on `sock`, which has until
 * `waitMs` from now to send a Hello that passes.
 */
export function accept (sock: LinkSocket, opts: LinkOptions, clock: Clock, waitMs: number, edge: AcceptorEdge): void {
  const hs = new AcceptorHandshake(opts)
  let settled = false
  let grace: Timer | null = null
  const settle = (): void => {
    if (settled) return
    settled = true
    clock.clearTimeout(timer)
    edge.settled()
  }
  const timer = clock.setTimeout(() => {
    edge.refused('timeout', '', 'no Hello within the handshake timeout', 'warn')
    goodbye(sock, Code.CODE_PROTOCOL, 'handshake timed out')
    grace = clock.setTimeout(() => { sock.terminate() }, CLOSE_GRACE_MS)
  }, Math.max(0, waitMs))
  sock.listen({
    message: (data, isBinary) => {
      if (settled) return
      settle()
      // Timed out or cut off already: no link on a closing socket.
      if (!sock.open) return
      hello(sock, hs, opts, data, isBinary, edge)
    },
    close: () => { settle(); clock.clearTimeout(grace) },
    // The close that follows ends the handshake.
    error: () => {}
  })
  sock.send(encodePacket(hs.challenge()))
}

function hello (sock: LinkSocket, hs: AcceptorHandshake, opts: LinkOptions, data: Buffer, isBinary: boolean, edge: AcceptorEdge): void {
  let step: AcceptStep
  try {
    if (!isBinary) throw new FrameError('text message on a binary link')
    step = hs.check(decodePacket(data).frame)
  } catch (err) {
    step = { kind: 'refuse', code: Code.CODE_PROTOCOL, why: `bad handshake: ${(err as Error).message}` }
  }
  const claimed = (step.kind === 'hello' ? step.name : undefined) ?? helloName(data)
  if (step.kind === 'refuse') {
    edge.refused('handshake', claimed, step.why, step.code === Code.CODE_AUTH ? 'error' : 'warn')
    goodbye(sock, step.code, step.why)
    return
  }
  // Mutual TLS: the name is the one the client certificate proves (the upgrade required one), and the certificate is the credential.
  const certificate = edge.certificate()
  if (certificate !== null) step = { ...step, credential: certificate }
  const wrongName = opts.tls?.mutual === true ? certificateNameRefusal(step.name, certificate?.names ?? [], 'client') : null
  if (wrongName !== null) {
    edge.refused('handshake', step.name, wrongName, 'error')
    goodbye(sock, Code.CODE_AUTH, wrongName)
    return
  }
  let link = edge.link(step.name)
  if (link?.url !== undefined) {
    goodbye(sock, Code.CODE_DUPLICATE, `${opts.name} already dials ${step.name}; give --peer on one side only`)
    return
  }
  // Up, or waiting to resume: only the same identity takes the link over (a restart of the same node does).
  const live = link?.hasSession === true ? link.credential : null
  const taken = live !== null ? takeoverRefusal(step.name, live, step.credential) : null
  if (taken !== null) {
    const why = `authentication failed: ${taken}`
    edge.refused('takeover', step.name, why, 'error')
    goodbye(sock, Code.CODE_AUTH, why)
    return
  }
  link ??= edge.newLink(step.name)
  edge.joined()
  const resume = link.accept(sock, step)
  sock.send(encodePacket(hs.welcome(resume)))
  link.flush()
}

/** The name a Hello claims, for the log of a refusal ('' if the frame is no Hello). */
function helloName (data: Buffer): string {
  try {
    return decodePacket(data).frame.hello?.name ?? ''
  } catch {
    return '' // not a packet: the refusal says so already
  }
}
