// Commands for PCIe and virtio: the endpoint's configfs tree (`pci-ep`),
// the root complex's bus (`pci`), devices, virtqueues and the test device.

import type { Command } from 'commander'
import type { Context } from './context.js'
import type { PciEpFunctionAttrs } from '../../../proto/api/index.js'
import { asCount, asNumber } from './args.js'
import { Progress } from '../progress.js'
import { testDeviceProgress } from './progress-polls.js'
import {
  controllersTable, devicesTable, functionsTable, pciEpText, pciText, testRunText, virtqueuesTable
} from './pcie-views.js'

/** Function attributes as options; commander's camelCase names are the API's field names. */
const NUMERIC_ATTRS: Array<[flag: string, description: string]> = [
  ['vendor-id', 'Vendor ID (16 bits)'],
  ['device-id', 'Device ID (16 bits)'],
  ['revision-id', 'Revision ID (8 bits)'],
  ['class-code', 'class, subclass, prog-if (24 bits)'],
  ['subsys-vendor-id', 'Subsystem Vendor ID: the virtio vendor id'],
  ['subsys-id', 'Subsystem ID: the virtio device id'],
  ['interrupt-pin', '0 none, 1..4 INTA..INTD'],
  ['msi-interrupts', 'MSI vectors (1..32)'],
  ['num-vrings', 'virtqueues (1..8)'],
  ['vring-size', 'buffers in each virtqueue']
]

function attrOptions (cmd: Command): Command {
  for (const [flag, description] of NUMERIC_ATTRS) cmd.option(`--${flag} <n>`, `${description}; decimal or 0x hex`, asNumber(flag.replace(/-/g, ' ')))
  return cmd
    .option('--type <type>', 'function driver: vhost')
    .option('--vhost-driver <name>', 'the vhost-client driver linked to the function')
}

export function pciEpCommands (program: Command, ctx: Context): void {
  const ep = program.command('pci-ep').description('the endpoint\'s pci_ep configfs tree (an ep daemon): shows it without a subcommand')
    .action(async () => {
      const tree = await ctx.client().pciEp()
      ctx.print(tree, () => pciEpText(tree))
    })

  const fn = ep.command('function').description('endpoint functions (functions/pci_epf_vhost/<name>)')
  attrOptions(fn.command('create').description('create a function; attributes not given take the defaults')
    .argument('<name>', 'function name'))
    .action(async (name: string, attrs: PciEpFunctionAttrs) => {
      const f = await ctx.client().createFunction(name, attrs)
      ctx.print(f, () => functionsTable([f]))
    })
  attrOptions(fn.command('update').description('change attributes of a function whose controller is stopped')
    .argument('<name>', 'function name'))
    .action(async (name: string, attrs: PciEpFunctionAttrs, cmd: Command) => {
      if (Object.keys(attrs).length === 0) cmd.error('error: give at least one attribute to change')
      const f = await ctx.client().updateFunction(name, attrs)
      ctx.print(f, () => functionsTable([f]))
    })
  fn.command('delete').description('remove an unlinked function')
    .argument('<name>', 'function name')
    .action(async (name: string) => {
      await ctx.client().deleteFunction(name)
      ctx.print({ deleted: name }, () => `deleted function ${name}`)
    })

  ep.command('link').description('link a function into a controller')
    .argument('<ctrl>', 'controller, e.g. pcie0')
    .argument('<name>', 'function name')
    .action(async (ctrl: string, name: string) => {
      await ctx.client().linkFunction(ctrl, name)
      ctx.print({ controller: ctrl, function: name, linked: true }, () => `linked ${name} into ${ctrl}`)
    })
  ep.command('unlink').description('unlink a function from a stopped controller')
    .argument('<ctrl>', 'controller, e.g. pcie0')
    .argument('<name>', 'function name')
    .action(async (ctrl: string, name: string) => {
      await ctx.client().unlinkFunction(ctrl, name)
      ctx.print({ controller: ctrl, function: name, linked: false }, () => `unlinked ${name} from ${ctrl}`)
    })
  ep.command('start').description('start a controller: the link trains and the rc enumerates the function')
    .argument('<ctrl>', 'controller, e.g. pcie0')
    .action(async (ctrl: string) => {
      const c = await ctx.client().startController(ctrl)
      ctx.print(c, () => controllersTable([c]))
    })
  ep.command('stop').description('stop a controller: the rc removes the function')
    .argument('<ctrl>', 'controller, e.g. pcie0')
    .action(async (ctrl: string) => {
      const c = await ctx.client().stopController(ctrl)
      ctx.print(c, () => controllersTable([c]))
    })
}

export function virtioCommands (program: Command, ctx: Context): void {
  program.command('pci').description('the root complex\'s bus: system memory and enumerated functions (an rc daemon)').action(async () => {
    const pci = await ctx.client().pci()
    ctx.print(pci, () => pciText(pci))
  })
  program.command('devices').description('virtio devices (rc) or the vhost device (ep)').action(async () => {
    const devices = await ctx.client().devices()
    ctx.print(devices, () => devicesTable(devices))
  })
  program.command('device').description('one device')
    .argument('<name>', 'virtio<n> or vhost<n>')
    .action(async (name: string) => {
      const d = await ctx.client().device(name)
      ctx.print(d, () => devicesTable([d]))
    })
  program.command('virtqueues').description('every virtqueue: ring addresses, indices, counters').action(async () => {
    const queues = await ctx.client().virtqueues()
    ctx.print(queues, () => virtqueuesTable(queues))
  })

  const test = program.command('test-device').description('the soclink test device pair')
  test.command('run').description('send and receive COUNT buffers each way on a virtio device (rc), contents checked')
    .argument('<name>', 'virtio<n>')
    .argument('<count>', 'buffers each way', asNumber('count'))
    .option('--tx <n>', 'buffers to send instead of COUNT', asNumber('tx'))
    .option('--rx <n>', 'buffers to receive instead of COUNT', asNumber('rx'))
    .option('--timeout <ms>', 'give up after this many milliseconds (default 120000)', asCount('timeout'))
    .action(async (name: string, count: number, o: { tx?: number, rx?: number, timeout?: number }) => {
      const c = ctx.client()
      const tx = o.tx ?? count
      const rx = o.rx ?? count
      const progress = new Progress()
      // The counters before the run, so the line counts this run's buffers only.
      const poll = progress.shown ? await testDeviceProgress(c, name, tx + rx) : null
      const run = c.runTestDevice(name, { tx, rx, ...(o.timeout !== undefined && { timeoutMs: o.timeout }) })
      const r = poll === null ? await run : await progress.track(run, poll)
      ctx.print(r, () => testRunText(name, r))
    })
}
