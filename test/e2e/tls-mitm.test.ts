// A man in the middle between an ep and the rc it dials, on loopback: a
// TCP proxy that records every byte and can change bytes in flight, and a
// proxy that terminates TLS with certificates of another CA. On a mutual
// TLS link it reads nothing of a window's data, a byte it changes breaks the
// connection without reaching either memory (the session then resumes
// through a clean path), and terminating TLS gets it refused by both sides.
// The same proxy on a plain link reads and rewrites the data unnoticed:
// what the TLS tests assert is what they would catch.

import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import { startDaemon, until, type Daemon } from '../support/daemon.js'
import { TestPki, type TestCa } from '../support/pki.js'
import { api, dialError, logLine, peerUp, peers, tlsArgs, type PeerRow } from '../support/tls-daemons.js'
import { startTapProxy, startTlsTerminator, type TapProxy } from '../support/mitm.js'

const pki = await TestPki.create()
t.teardown(async () => { await pki.remove() })
const ca = await pki.ca('soclink test CA')
const otherCa = await pki.ca('the attacker\'s CA')
const rcCert = await ca.issue('rc')
const epCert = await ca.issue('ep')

const SIZE = 4096

interface Path {
  rc: Daemon
  ep: Daemon
  proxy: TapProxy
  /** The test CA for TLS daemons, null for plain ones. */
  trust: TestCa | null
  window: number
  writeRc: (offset: number, data: Buffer) => Promise<void>
  writeEp: (offset: number, data: Buffer) => Promise<void>
  readRc: (offset: number, length: number) => Promise<Buffer>
  readEp: (offset: number, length: number) => Promise<Buffer>
  rcPeer: () => Promise<PeerRow>
}

/** An rc, an ep that dials it through a recording proxy, and a window from the ep onto a region of the rc. */
async function throughProxy (t: Test, tls: boolean): Promise<Path> {
  const trust = tls ? ca : null
  const rc = await startDaemon('rc', ['--role', 'rc', ...(tls ? tlsArgs(rcCert, ca) : [])])
  t.teardown(async () => { await rc.stop('SIGKILL') })
  const proxy = await startTapProxy(Number(new URL(rc.link).port))
  t.teardown(async () => { await proxy.close() })
  const ep = await startDaemon('ep', ['--role', 'ep', '--peer', `${tls ? 'wss' : 'ws'}://127.0.0.1:${proxy.port}/v1/link`, ...(tls ? tlsArgs(epCert, ca) : [])])
  t.teardown(async () => { await ep.stop('SIGKILL') })
  await peerUp(ep, trust, 'rc')
  t.equal((await api(rc, trust, 'POST', '/v1/regions', { name: 'secret', size: SIZE })).status, 201)
  const win = await api<{ id: number }>(ep, trust, 'POST', '/v1/windows', { peer: 'rc', region: 'secret', size: SIZE })
  t.equal(win.status, 201)
  const read = async (d: Daemon, path: string): Promise<Buffer> => {
    const r = await api<Buffer>(d, trust, 'GET', path)
    if (r.status !== 200) throw new Error(`${d.name} GET ${path}: ${r.status}`)
    return r.body
  }
  const write = async (d: Daemon, path: string, data: Buffer): Promise<void> => {
    const r = await api(d, trust, 'PUT', path, undefined, data)
    if (r.status !== 200) throw new Error(`${d.name} PUT ${path}: ${r.status} ${JSON.stringify(r.body)}`)
  }
  return {
    rc, ep, proxy, trust, window: win.body.id,
    writeRc: async (offset, data) => { await write(rc, `/v1/regions/secret/memory?offset=${offset}`, data) },
    writeEp: async (offset, data) => { await write(ep, `/v1/windows/${win.body.id}/memory?offset=${offset}`, data) },
    readRc: async (offset, length) => await read(rc, `/v1/regions/secret/memory?offset=${offset}&length=${length}`),
    readEp: async (offset, length) => await read(ep, `/v1/windows/${win.body.id}/memory?offset=${offset}&length=${length}`),
    rcPeer: async () => (await peers(ep, trust)).find((p) => p.name === 'rc')!
  }
}

/** Resolves once `read` gives `want`. */
async function holds (what: string, read: () => Promise<Buffer>, want: Buffer): Promise<void> {
  await until(what, async () => (await read()).equals(want), 20_000)
}

const marker = (label: string): Buffer => Buffer.from(`TOPSECRET-${label}-${randomBytes(8).toString('hex')}`)
const zeros = (n: number): Buffer => Buffer.alloc(n)

t.test('mutual TLS: the proxy reads nothing, a changed byte breaks the connection and reaches neither memory', async (t) => {
  const p = await throughProxy(t, true)

  // (a) Reading: markers written on both sides cross the proxy, encrypted.
  const down = marker('rc')
  const up = marker('ep')
  await p.writeRc(0, down)
  await p.writeEp(512, up)
  await holds('the ep\'s replica holds the rc\'s marker', async () => await p.readEp(0, down.length), down)
  await holds('the rc\'s region holds the ep\'s marker', async () => await p.readRc(512, up.length), up)
  const toServer = p.proxy.recorded('toServer')
  const toClient = p.proxy.recorded('toClient')
  t.equal(toServer[0], 0x16, 'the connection through the proxy is TLS (it opens with a handshake record)')
  t.ok(toClient.length > down.length && toServer.length > up.length, `the proxy relayed ${toClient.length} + ${toServer.length} bytes`)
  for (const [name, m] of [['rc', down], ['ep', up]] as const) {
    for (const [dir, bytes] of [['toServer', toServer], ['toClient', toClient]] as const) {
      t.equal(bytes.indexOf(m), -1, `the ${name}'s marker is nowhere in the bytes relayed ${dir}`)
      t.equal(bytes.indexOf('TOPSECRET'), -1, `nor is its prefix (${dir})`)
    }
  }

  // (b) Changing: every application-data record gets a flipped byte, each way.
  const before = await p.rcPeer()
  const changedBefore = p.proxy.changed
  p.proxy.flipRecords = true
  const down2 = marker('rc2')
  const up2 = marker('ep2')
  await p.writeRc(1024, down2)
  await p.writeEp(1536, up2)
  let seen: PeerRow | null = null
  const broke = await until('the ep sees the link break', async () => {
    seen = await p.rcPeer()
    return /integrity check/.test(seen.lastError) ? seen : undefined
  }, 20_000, () => `the ep's view of the rc: ${JSON.stringify(seen)}`)
  t.ok(p.proxy.changed > changedBefore, `the proxy changed ${p.proxy.changed - changedBefore} chunks in flight`)
  t.match(broke.lastError, /a TLS record failed its integrity check/, `the ep says why: ${broke.lastError}`)
  await logLine(p.rc, /connection lost; waiting to resume|link down/)
  // While the path is bad, each memory holds what was written or what was there: never a changed byte.
  const early = await p.readEp(1024, down2.length)
  t.ok(early.equals(down2) || early.equals(zeros(down2.length)), 'the ep\'s replica holds no changed byte while the path is bad')
  const earlyRc = await p.readRc(1536, up2.length)
  t.ok(earlyRc.equals(up2) || earlyRc.equals(zeros(up2.length)), 'nor does the rc\'s region')

  // The path is clean again: the session resumes and both writes arrive intact.
  p.proxy.flipRecords = false
  const back = await until('the link resumed', async () => {
    const r = await p.rcPeer()
    return r.state === 'up' && r.counters.resumes > before.counters.resumes ? r : undefined
  }, 30_000)
  t.equal(back.counters.sessions, before.counters.sessions, 'the same session: the link resumed, nothing above it was reset')
  await holds('the ep\'s replica holds the rc\'s second marker', async () => await p.readEp(1024, down2.length), down2)
  await holds('the rc\'s region holds the ep\'s second marker', async () => await p.readRc(1536, up2.length), up2)
  t.ok((await p.readRc(0, SIZE)).equals(await p.readEp(0, SIZE)), 'the rc\'s region and the ep\'s replica are the same, byte for byte')
})

t.test('a proxy that terminates TLS with another CA\'s certificates is refused by both sides', async (t) => {
  const rc = await startDaemon('rc', ['--role', 'rc', ...tlsArgs(rcCert, ca)])
  t.teardown(async () => { await rc.stop('SIGKILL') })
  // Certificates with the right names and addresses, from the wrong CA.
  const fakeRc = await otherCa.issue('rc', {}, 'fake-rc')
  const fakeEp = await otherCa.issue('ep', {}, 'fake-ep')
  const mitm = await startTlsTerminator(rc.link, fakeRc, fakeEp)
  t.teardown(async () => { await mitm.close() })
  const ep = await startDaemon('ep', ['--role', 'ep', '--peer', `wss://127.0.0.1:${mitm.port}/v1/link`, ...tlsArgs(epCert, ca)])
  t.teardown(async () => { await ep.stop('SIGKILL') })

  t.match(await dialError(ep, ca, /certificate/), /the peer's certificate is not signed by this daemon's CA/, 'the ep refuses the proxy\'s server certificate')
  t.match(await mitm.upstream, /^HTTP 403: the client certificate \("ep", "localhost"\) is not signed by this daemon's CA/, 'the rc refuses the proxy\'s client certificate')
  await logLine(rc, /refused .*: the client certificate .* not signed by this daemon's CA/)
  t.equal(mitm.plaintext().length, 0, 'the proxy got no plaintext from the ep')
  t.same((await peers(rc, ca)).filter((p) => p.state === 'up'), [], 'the rc has no link up')
  t.same((await peers(ep, ca)).filter((p) => p.state === 'up'), [], 'nor has the ep')
})

t.test('the control: on a plain link the same proxy reads the data and changes it unnoticed', async (t) => {
  const p = await throughProxy(t, false)
  const down = marker('rc')
  await p.writeRc(0, down)
  await holds('the ep\'s replica holds the marker', async () => await p.readEp(0, down.length), down)
  t.not(p.proxy.recorded('toClient').indexOf(down), -1, 'the proxy read the marker in the bytes it relayed')

  const before = await p.rcPeer()
  p.proxy.rewrite = (chunk) => {
    const at = chunk.indexOf('TOPSECRET')
    if (at < 0) return chunk
    const out = Buffer.from(chunk)
    out.write('TAMPERED!', at)
    return out
  }
  const down2 = marker('rc2')
  await p.writeRc(1024, down2)
  const tampered = Buffer.from(down2.toString().replace('TOPSECRET', 'TAMPERED!'))
  await holds('the ep\'s replica holds the changed bytes', async () => await p.readEp(1024, down2.length), tampered)
  t.ok((await p.readRc(1024, down2.length)).equals(down2), 'while the rc\'s region holds what was written')
  const after = await p.rcPeer()
  t.equal(after.state, 'up', 'and the link never noticed')
  t.equal(after.counters.connects, before.counters.connects, 'no reconnect')
})
