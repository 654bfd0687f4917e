// The link and memory layers' metrics: each peer's link (state, round trip,
// traffic each way, sessions, resumes, what the replay buffer holds and what
// ended sessions lost), the doorbell targets and their latency, this
// daemon's regions, its windows on peers' regions, and the owner side's
// (Completer's) requests. All read from the counters PeerLink, Region,
// Window, DoorbellTable and Completer keep for the JSON views.

import type { Registry } from 'prom-client'
import type { SoclinkNode } from '../../node.js'
import { roleName } from '../../node.js'
import type { PeerCounters } from '../../link/peer-events.js'
import type { CompleterCounters } from '../../mem/completer.js'
import { counter, gauge, histogram, type Sample } from './families.js'

const PEER = ['peer'] as const
const STATES = ['connecting', 'up', 'down'] as const

/** Per-peer counters: metric name, help, and the PeerCounters field(s) it reads. */
const PEER_COUNTERS: Array<{ name: string, help: string, read: (c: PeerCounters) => number }> = [
  { name: 'connects', help: 'Connections that completed a handshake with the peer', read: (c) => c.connects },
  { name: 'sessions', help: 'Link sessions started with the peer (a new session, not a resume)', read: (c) => c.sessions },
  { name: 'resumes', help: 'Connections that resumed the existing session (replaying unacknowledged frames)', read: (c) => c.resumes },
  { name: 'protocol_errors', help: 'Packets or frames from the peer that broke the link protocol', read: (c) => c.protocolErrors },
  { name: 'lost_frames', help: 'Frames sent and never acknowledged by the peer, over sessions that ended', read: (c) => c.lostFrames },
  { name: 'lost_bytes', help: 'Bytes of those lost frames', read: (c) => c.lostBytes },
  { name: 'lost_writes', help: 'REST writes (answered 200) among the lost frames', read: (c) => c.lostWrites }
]

const COMPLETER_COUNTERS: Array<{ name: string, help: string, key: keyof CompleterCounters }> = [
  { name: 'subscriptions', help: 'Windows peers opened onto this daemon\'s regions', key: 'subscriptions' },
  { name: 'writes_applied', help: 'Peers\' writes applied to this daemon\'s regions', key: 'writesApplied' },
  { name: 'updates_sent', help: 'Updates sent to peers\' replica windows', key: 'updatesSent' },
  { name: 'reads_served', help: 'Peers\' reads answered', key: 'readsServed' },
  { name: 'unsupported_requests', help: 'Peers\' requests answered Unsupported Request', key: 'unsupportedRequests' },
  { name: 'aborts', help: 'Peers\' requests answered Completer Abort', key: 'completerAborts' },
  { name: 'retries', help: 'Peers\' reads answered RETRY (the completion did not fit in the replay buffer then)', key: 'retries' },
  { name: 'unanswered', help: 'Peers\' requests whose answer could not be sent (the session ended)', key: 'unanswered' },
  { name: 'access_denied', help: 'Windows refused because the region\'s peers list does not name the peer', key: 'accessDenied' }
]

export function linkMetrics (registry: Registry, node: SoclinkNode): void {
  const peers = (): ReturnType<SoclinkNode['links']['list']> => node.links.list()
  const perPeer = (read: (l: ReturnType<typeof peers>[number]) => number | null) => function * (): Iterable<Sample> {
    for (const l of peers()) {
      const v = read(l)
      if (v !== null) yield [{ peer: l.label }, v]
    }
  }
  gauge(registry, { name: 'soclink_peer_up', help: 'Whether the link to the peer is up (1) or not (0)', labels: PEER }, perPeer((l) => l.state === 'up' ? 1 : 0))
  gauge(registry, { name: 'soclink_peer_state', help: 'The link\'s state: 1 for the state it is in, 0 for the others', labels: ['peer', 'state'] }, function * () {
    for (const l of peers()) for (const s of STATES) yield [{ peer: l.label, state: s }, l.state === s ? 1 : 0]
  })
  gauge(registry, { name: 'soclink_peer_info', help: 'The peer\'s role (1 per peer)', labels: ['peer', 'role'] }, function * () {
    for (const l of peers()) yield [{ peer: l.label, role: roleName(l.role) }, 1]
  })
  gauge(registry, { name: 'soclink_peer_rtt_seconds', help: 'Round trip of the last answered heartbeat Ping', labels: PEER }, perPeer((l) => l.rttMs === null ? null : l.rttMs / 1000))
  gauge(registry, { name: 'soclink_peer_replay_bytes', help: 'Bytes of frames sent and not yet acknowledged (held in the replay buffer)', labels: PEER }, perPeer((l) => l.unackedBytes))
  gauge(registry, { name: 'soclink_peer_replay_frames', help: 'Frames sent and not yet acknowledged (held in the replay buffer)', labels: PEER }, perPeer((l) => l.unacked))
  const inOut = (name: string, help: string, inbound: (c: PeerCounters) => number, outbound: (c: PeerCounters) => number): void => {
    counter(registry, { name, help, labels: ['peer', 'direction'] }, function * () {
      for (const l of peers()) {
        yield [{ peer: l.label, direction: 'in' }, inbound(l.counters)]
        yield [{ peer: l.label, direction: 'out' }, outbound(l.counters)]
      }
    })
  }
  inOut('soclink_peer_frames_total', 'Link frames received from (in) and sent to (out) the peer, heartbeats and acknowledgements not included', (c) => c.framesIn, (c) => c.framesOut)
  inOut('soclink_peer_packets_total', 'WebSocket messages received from (in) and sent to (out) the peer', (c) => c.packetsIn, (c) => c.packetsOut)
  inOut('soclink_peer_bytes_total', 'Bytes of those messages', (c) => c.bytesIn, (c) => c.bytesOut)
  for (const m of PEER_COUNTERS) counter(registry, { name: `soclink_peer_${m.name}_total`, help: m.help, labels: PEER }, perPeer((l) => m.read(l.counters)))

  // Doorbell targets this daemon declares (msi and intx on an rc: its interrupts).
  const DB = ['target'] as const
  counter(registry, { name: 'soclink_doorbell_rings_total', help: 'Rings peers sent to the doorbell target', labels: DB }, function * () {
    for (const t of node.doorbells.list()) yield [{ target: t.name }, t.rings]
  })
  counter(registry, { name: 'soclink_doorbell_unknown_rings_total', help: 'Rings of doorbell targets this daemon never declared', labels: [] }, function * () {
    yield [{}, node.doorbells.unknownRings]
  })
  histogram(registry, {
    name: 'soclink_doorbell_latency_seconds',
    help: 'From the arrival of the link packet carrying a doorbell to the return of its handler (frames ahead of it in the packet applied first)',
    labels: DB
  }, function * () {
    for (const t of node.doorbells.list()) yield [{ target: t.name }, t.latency]
  })

  // Regions this daemon owns, and its windows onto peers' regions.
  const REGION = ['region'] as const
  gauge(registry, { name: 'soclink_region_size_bytes', help: 'Size of the region', labels: REGION }, function * () {
    for (const r of node.regions.list()) yield [{ region: r.name }, r.size]
  })
  counter(registry, { name: 'soclink_region_writes_total', help: 'Writes applied to the region (local and peers\')', labels: REGION }, function * () {
    for (const r of node.regions.list()) yield [{ region: r.name }, r.writes]
  })
  counter(registry, { name: 'soclink_region_written_bytes_total', help: 'Bytes of those writes', labels: REGION }, function * () {
    for (const r of node.regions.list()) yield [{ region: r.name }, r.writeBytes]
  })
  const WINDOW = ['window', 'peer', 'region'] as const
  const windows = (read: (w: ReturnType<SoclinkNode['requester']['list']>[number]) => number) => function * (): Iterable<Sample> {
    for (const w of node.requester.list()) yield [{ window: w.id, peer: w.spec.peer, region: String(w.spec.region) }, read(w)]
  }
  gauge(registry, { name: 'soclink_window_open', help: 'Whether the window is open (1) or opening, waiting, closed or failed (0)', labels: WINDOW }, windows((w) => w.state === 'open' ? 1 : 0))
  counter(registry, { name: 'soclink_window_writes_total', help: 'Writes through the window', labels: WINDOW }, windows((w) => w.counters.writes))
  counter(registry, { name: 'soclink_window_written_bytes_total', help: 'Bytes of those writes', labels: WINDOW }, windows((w) => w.bytes.written))
  counter(registry, { name: 'soclink_window_updates_total', help: 'Updates from the region\'s owner applied to the (replica) window', labels: WINDOW }, windows((w) => w.counters.updates))
  counter(registry, { name: 'soclink_window_updated_bytes_total', help: 'Bytes of those updates', labels: WINDOW }, windows((w) => w.bytes.updated))
  counter(registry, { name: 'soclink_window_reads_total', help: 'Reads through the window', labels: WINDOW }, windows((w) => w.counters.reads))
  counter(registry, { name: 'soclink_window_errors_total', help: 'Errors the owner reported for the window', labels: WINDOW }, windows((w) => w.counters.errors))

  for (const m of COMPLETER_COUNTERS) {
    counter(registry, { name: `soclink_completer_${m.name}_total`, help: m.help, labels: [] }, function * () { yield [{}, node.completer.counters[m.key]] })
  }
}
