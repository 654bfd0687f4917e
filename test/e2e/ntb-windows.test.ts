// A host writing outside its NTB windows, with real daemon processes: through
// the control API's window routes a host writes past the end of one of its
// BARs (refused before anything is sent) and into memory windows nobody
// translated (posted, then refused by the board: an error on the window,
// the replica put right). Neither host's memory changes, byte for byte; a
// write inside a translated window, as a control, changes exactly its bytes
// in the other host's memory.

import t from 'tap'
import { until, type Daemon } from '../support/daemon.js'
import { getJson } from '../support/rpmsg-procs.js'
import { boardState, hostUp, startNtbTopology } from '../support/ntb-daemons.js'

const SYSMEM = 'pcie.sysmem'

const daemons: Daemon[] = []
t.teardown(async () => { for (const d of [...daemons].reverse()) await d.stop() })
// A third memory window, which nobody translates (ntb_perf takes MW2 on both hosts).
const { board, host1, host2 } = await startNtbTopology(daemons, { board: ['--ntb-mws', '3'] })

interface WindowRow { id: number, region: string, size: number, state: string, lastError: string, counters: { writes: number, errors: number } }

async function windowOnto (d: Daemon, region: string): Promise<WindowRow> {
  const { body } = await getJson<{ windows: WindowRow[] }>(d.api, '/v1/windows')
  const w = body.windows.find((x) => x.region === region && x.state === 'open')
  if (w === undefined) throw new Error(`${d.name} has no open window onto ${region}`)
  return w
}

async function put (d: Daemon, path: string, bytes: Uint8Array): Promise<{ status: number, body: unknown }> {
  const res = await fetch(d.api + path, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: bytes })
  return { status: res.status, body: await res.json() }
}

async function read (d: Daemon, path: string): Promise<Buffer> {
  const res = await fetch(d.api + path)
  if (res.status !== 200) throw new Error(`${d.name} GET ${path}: ${res.status} ${await res.text()}`)
  return Buffer.from(await res.arrayBuffer())
}

/** All of a host's system memory, as its daemon holds it. */
async function sysmem (d: Daemon): Promise<Buffer> {
  const { body } = await getJson<{ size: number }>(d.api, `/v1/regions/${SYSMEM}`)
  return await read(d, `/v1/regions/${SYSMEM}/memory?offset=0&length=${body.size}`)
}

/** Offsets where two snapshots differ (the first few). */
function diff (a: Buffer, b: Buffer): number[] {
  const out: number[] = []
  for (let i = 0; i < a.length && out.length < 16; i++) if (a[i] !== b[i]) out.push(i)
  return out
}

const word = Buffer.from([0xde, 0xad, 0xbe, 0xef])

t.test('writes outside a host\'s windows are refused and change no memory; a write inside one lands where translated', async (t) => {
  const s2 = await hostUp(host2)
  await hostUp(host1)
  const virtioAddr = s2.transport!.virtioAddr!
  const mwSize = s2.transport!.mwSize!
  const b = await boardState(board)
  const mw1 = b.pairs[0]!.interfaces.find((i) => i.host === 'host1')!.memoryWindows[0]!
  t.equal(mw1.bar, 2, 'MW1 is in BAR2')
  const mw1Offset = mw1.offset
  t.ok(mw1Offset > 0, `MW1 starts 0x${mw1Offset.toString(16)} into BAR2, after the doorbell slots`)
  const before = { host1: await sysmem(host1), host2: await sysmem(host2) }

  // Past the end of a BAR: the window refuses before anything leaves the host.
  const bar2 = await windowOnto(host1, 'pcie.bar2')
  const past = await put(host1, `/v1/windows/${bar2.id}/memory?offset=${bar2.size - 2}`, word)
  t.match(past, { status: 400, body: { error: { code: 'ERR_OUT_OF_RANGE' } } }, 'HOST1: 4 bytes at 2 before the end of BAR2 are out of range')
  t.match(await put(host1, `/v1/windows/${bar2.id}/memory?offset=${bar2.size}`, word), { status: 400, body: { error: { code: 'ERR_OUT_OF_RANGE' } } }, 'and at its end')

  // Into memory windows nobody translated: MW3 (BAR4) of HOST1, MW1 of HOST2 (HOST1 translates no MW1).
  const targets: Array<{ d: Daemon, w: WindowRow, offset: number, what: string }> = [
    { d: host1, w: await windowOnto(host1, 'pcie.bar4'), offset: 0x100, what: 'HOST1 into MW3 (BAR4)' },
    { d: host2, w: await windowOnto(host2, 'pcie.bar2'), offset: mw1Offset + 0x100, what: 'HOST2 into MW1 (BAR2 after the doorbell slots)' }
  ]
  for (const x of targets) {
    const r = await put(x.d, `/v1/windows/${x.w.id}/memory?offset=${x.offset}`, word)
    t.equal(r.status, 200, `${x.what}: posted, as a memory write is`)
    const row = await until(`${x.what}: the board's refusal`, async () => {
      const w = (await getJson<WindowRow>(x.d.api, `/v1/windows/${x.w.id}`)).body
      return w.counters.errors > x.w.counters.errors ? w : undefined
    })
    t.match(row.lastError, /./, `${x.what}: the window reports the refusal (${row.lastError})`)
    const replica = await until(`${x.what}: the replica put right`, async () => {
      const bytes = await read(x.d, `/v1/windows/${x.w.id}/memory?offset=${x.offset}&length=4`)
      return bytes.equals(Buffer.alloc(4)) ? bytes : undefined
    })
    t.same([...replica], [0, 0, 0, 0], `${x.what}: the host's replica shows zeros again`)
    t.same([...await read(x.d, `/v1/windows/${x.w.id}/memory?offset=${x.offset}&length=4&uncached=true`)], [0, 0, 0, 0], `${x.what}: a non-posted read says the same`)
  }

  const after = { host1: await sysmem(host1), host2: await sysmem(host2) }
  t.same(diff(before.host1, after.host1), [], 'HOST1\'s memory is unchanged, byte for byte')
  t.same(diff(before.host2, after.host2), [], 'HOST2\'s memory is unchanged, byte for byte')

  // The control: inside MW1, which HOST2 translated onto its MW0, near its end (free buffer space).
  const at = mw1Offset + mwSize - 16
  t.equal((await put(host1, `/v1/windows/${bar2.id}/memory?offset=${at}`, word)).status, 200, 'HOST1 writes inside its translated MW1')
  const landed = await until('the write lands in HOST2\'s memory', async () => {
    const m = await sysmem(host2)
    return m.subarray(virtioAddr + mwSize - 16, virtioAddr + mwSize - 12).equals(word) ? m : undefined
  })
  t.same(diff(after.host2, landed), [0, 1, 2, 3].map((k) => virtioAddr + mwSize - 16 + k), 'exactly those 4 bytes changed, at MW0 base + offset in HOST2\'s memory')
})
