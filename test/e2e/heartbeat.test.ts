// Heartbeats: a peer that goes silent (its process stopped) is dropped after
// deadAfterMs and declared down after the resume window; when it wakes it
// links again as a new session.

import t from 'tap'
import { startNode, linkUrl } from '../support/nodes.js'
import { startDaemon, until } from '../support/daemon.js'
import { scaled } from '../support/time.js'

t.test('a silent peer is declared down, then relinks', async (t) => {
  // Scaled: on a loaded machine a stall of this process or b's must not pass for silence before b is stopped.
  const a = await startNode('a', ['--heartbeat-ms', String(scaled(100)), '--dead-after-ms', String(scaled(500)), '--resume-window-ms', String(scaled(1000))])
  const seen: string[] = []
  a.on('event', (e) => { if (e.type === 'link' || e.type === 'peer') seen.push(`${e.type}:${e.state}`) })
  const b = await startDaemon('b', ['--peer', linkUrl(a), '--heartbeat-ms', String(scaled(100)), '--dead-after-ms', String(scaled(500))])
  t.teardown(async () => { b.proc.kill('SIGCONT'); await b.stop(); await a.stop('test') })

  await until('b up', () => a.links.get('b')?.state === 'up' ? true : undefined)
  b.proc.kill('SIGSTOP')
  await until('b dropped', () => a.links.get('b')?.state === 'connecting' ? true : undefined)
  t.equal(a.links.get('b')?.lastError, 'peer silent')
  await until('b down', () => a.links.get('b')?.state === 'down' ? true : undefined)
  t.ok(seen.includes('link:down'), 'link down reported once the resume window passed')

  b.proc.kill('SIGCONT')
  await until('b back', () => a.links.get('b')?.state === 'up' ? true : undefined)
  t.equal(a.links.get('b')?.counters.sessions, 2, 'as a new session')
  t.same(seen.filter((s) => s.startsWith('link:')), ['link:up', 'link:down', 'link:up'])
})
