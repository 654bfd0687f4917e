// npm run bench [-- --quick]: every row of BENCHMARKS.md, each read against
// raw WebSocket baselines measured in the same run, from the built
// JavaScript (tsconfig.bench.json compiles this folder into dist/). Parts
// whose daemons share this process run first and stop before the parts
// whose daemons are child processes.

import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { benchOptions } from './options.js'
import { machine } from './machine.js'
import { measureBaselines } from './baselines.js'
import { benchMemory } from './memory.js'
import { benchVirtio } from './virtio.js'
import { benchRpmsgBus } from './rpmsg.js'
import { benchRpmsgNtbBus } from './rpmsg-ntb.js'
import { benchClientPcie } from './client-pcie.js'
import { benchClientNtb } from './client-ntb.js'
import { benchSoak } from './soak.js'
import { ROLES, benchStartup, type StartupBench } from './startup.js'
import { document } from './document.js'
import { rowTable, baselineTable } from './report.js'
import { rows, type Results } from './results.js'
import { BIG_WRITE } from './sizes.js'
import { ANALYSIS_MD, BENCHMARKS_MD } from './paths.js'

const opts = benchOptions(process.argv.slice(2), process.env)
const m = machine()
const c = opts.counts
const t0 = performance.now()

async function step<T> (what: string, fn: () => Promise<T>): Promise<T> {
  const t = performance.now()
  process.stderr.write(`bench: ${what}...`)
  const v = await fn()
  process.stderr.write(` ${((performance.now() - t) / 1000).toFixed(1)} s\n`)
  return v
}

const baselines = await step('raw ws baselines', async () => await measureBaselines(c))
const memory = await step('window writes and doorbells', async () => await benchMemory(c.messages, c.bigMessages, BIG_WRITE, c.rounds))
const virtio = [
  await step('virtio test device, split', async () => await benchVirtio('split', c.buffers)),
  await step('virtio test device, packed', async () => await benchVirtio('packed', c.buffers))
]
const bus = await step('rpmsg in-daemon over PCIe', async () => await benchRpmsgBus(c.busMessages))
const ntbBus = await step('rpmsg in-daemon over NTB', async () => await benchRpmsgNtbBus(c.busMessages))
const client = await step('rpmsg client over PCIe (daemons in child processes)', async () => await benchClientPcie(c))
const ntb = await step('rpmsg client over NTB (daemons in child processes)', async () => await benchClientNtb(c))
const soak = await step(`soak, ${c.soakSeconds} s`, async () => await benchSoak(c.soakSeconds))
const startup = new Map<string, StartupBench>()
for (const role of ROLES) startup.set(role, await step(`start-up, ${role}`, async () => await benchStartup(role, c.spawns)))

const results: Results = { baselines, memory, virtio, bus, ntbBus, client, ntb, soak, startup }
const out = BENCHMARKS_MD
writeFileSync(out, document(opts, m, results, (performance.now() - t0) / 1000) + (existsSync(ANALYSIS_MD) ? '\n' + readFileSync(ANALYSIS_MD, 'utf8') : ''))
// Exiting ends whatever a part left open; the exit hooks (children.ts) kill every child.
process.stdout.write(baselineTable(baselines) + '\n\n' + rowTable(rows(results), baselines) + '\n\nwritten to ' + out + '\n', () => process.exit(0))
