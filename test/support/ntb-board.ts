// An NTB board with in-memory hosts, for unit tests of the endpoint
// function (hw/ntb/epf-ntb.ts): a board MemNode with one endpoint
// controller per host (scoped to it, rc peer = the host), EpfNtb pairs over
// them, and host MemNodes that own pcie.sysmem, record the MSIs they get on
// pcie.msi, and reach the board's BARs through replica windows by their
// plain names. And, for the hosts' driver (hw/ntb/ntb-hw-epf.ts) and what
// runs on it, ntbDriverPair: two hosts whose root complexes enumerate
// their interfaces of one function and bind ntb_hw_epf to them.

import pino from 'pino'
import { MemNode, connect } from './mem-node.js'
import { settle, type LoopEnd } from './loop-link.js'
import { EndpointController, MSI_DOORBELL, SYSMEM_REGION } from '../../daemon/src/hw/pcie/endpoint-controller.js'
import { RootComplex, type EndpointFunction } from '../../daemon/src/hw/pcie/root-complex.js'
import { EpfNtb, type EpfNtbConfig } from '../../daemon/src/hw/ntb/epf-ntb.js'
import { NtbHwEpf } from '../../daemon/src/hw/ntb/ntb-hw-epf.js'
import type { Region } from '../../daemon/src/mem/region.js'
import type { Window } from '../../daemon/src/mem/window.js'

export interface NtbHost {
  name: string
  node: MemNode
  sysmem: Region
  /** MSI vectors received, in order. */
  msi: number[]
  /** Link events the host's controller sent (true: up). */
  linkEvents: boolean[]
  ctrl: EndpointController
  /** The host's windows onto the board's BARs, by BAR number (after open()). */
  bars: Window[]
}

export interface NtbBoard {
  board: MemNode
  hosts: Map<string, NtbHost>
  ntbs: EpfNtb[]
  ends: LoopEnd[]
  host (name: string): NtbHost
  /** Opens the host's windows onto every BAR of its controller. */
  open (name: string): Promise<Window[]>
  /** ARGUMENT then COMMAND, as ntb_epf_send_command; returns CMD_STATUS and clears it. */
  command (name: string, command: number, argument?: number): Promise<number>
  settle (): Promise<void>
}

export const SYSMEM_SIZE = 1 << 24

export function ntbBoard (hostNames: string[], pairs: Array<[string, string]>, config: EpfNtbConfig): NtbBoard {
  const board = new MemNode('board')
  const hosts = new Map<string, NtbHost>()
  const ends: LoopEnd[] = []
  for (const name of hostNames) {
    const node = new MemNode(name)
    ends.push(...connect(board, node))
    const msi: number[] = []
    const linkEvents: boolean[] = []
    node.doorbells.declare(MSI_DOORBELL, (_peer, vector) => { msi.push(vector) })
    // Refused writes are checked on the windows themselves.
    node.requester.on('error', () => {})
    const ctrl = new EndpointController({
      regions: board.regions,
      requester: board.requester,
      doorbellRing: (target, value) => { board.doorbells.ring(board.links.get(name)!, target, value) },
      sendLinkEvent: (up) => { linkEvents.push(up) },
      rcPeer: name,
      name: `ntb-${name}`,
      scope: name
    })
    hosts.set(name, { name, node, sysmem: node.regions.create(SYSMEM_REGION, SYSMEM_SIZE), msi, linkEvents, ctrl, bars: [] })
  }
  board.requester.on('error', () => {})
  const logger = pino({ level: 'silent' })
  const ntbs = pairs.map(([a, b], k) => new EpfNtb({ name: `ntb${k}`, config, primary: hosts.get(a)!.ctrl, secondary: hosts.get(b)!.ctrl, logger }))
  const host = (name: string): NtbHost => {
    const h = hosts.get(name)
    if (h === undefined) throw new Error(`no host ${name}`)
    return h
  }
  const settleAll = async (): Promise<void> => { await settle(ends) }
  return {
    board,
    hosts,
    ntbs,
    ends,
    host,
    settle: settleAll,
    async open (name) {
      const h = host(name)
      h.bars = []
      for (const b of h.ctrl.state().bars) {
        h.bars[b.index] = h.node.requester.open({ peer: 'board', region: `pcie.bar${b.index}`, offset: 0, size: b.size, replica: true })
      }
      await Promise.all(h.bars.filter((w) => w !== undefined).map(async (w) => await h.node.requester.opened(w)))
      return h.bars
    },
    async command (name, command, argument = 0) {
      const ctrl = host(name).bars[0]!
      ctrl.write32(0x04, argument)
      ctrl.write32(0x00, command)
      await settleAll()
      const status = ctrl.read16(0x08)
      ctrl.write16(0x08, 0)
      await settleAll()
      return status
    }
  }
}

/** A host whose root complex enumerated its interface of the board's function, with ntb_hw_epf bound to it. */
export interface NtbDriverHost { node: MemNode, root: RootComplex, fn: EndpointFunction, dev: NtbHwEpf }

export interface NtbDriverPair {
  h1: NtbDriverHost
  h2: NtbDriverHost
  ntb: EpfNtb
  ends: LoopEnd[]
  /** Disposes both drivers, stops the function, lets the links drain, destroys the root complexes. */
  stop: () => Promise<void>
}

/**
 * Board b with one EpfNtb (ntb0) joining hosts h1 and h2: each host's
 * RootComplex (SYSMEM_SIZE of memory) enumerates its interface, and its
 * NtbHwEpf is initialised on it (link still disabled).
 */
export async function ntbDriverPair (config: EpfNtbConfig): Promise<NtbDriverPair> {
  const logger = pino({ level: 'silent' })
  const b = new MemNode('b')
  const nodes = [new MemNode('h1'), new MemNode('h2')]
  const ends = nodes.flatMap((n) => connect(n, b))
  const roots = nodes.map((node) => new RootComplex({ regions: node.regions, requester: node.requester, doorbells: node.doorbells, memorySize: SYSMEM_SIZE, logger }))
  const ctrls = nodes.map((node, i) => new EndpointController({
    regions: b.regions,
    requester: b.requester,
    doorbellRing: (target, value) => { b.doorbells.ring(b.links.get(node.name)!, target, value) },
    sendLinkEvent: (up, reason) => { setImmediate(() => { roots[i]!.linkEvent('b', up, reason) }) },
    rcPeer: node.name,
    name: `ntb0.${node.name}`,
    scope: node.name
  }))
  const ntb = new EpfNtb({ name: 'ntb0', config, primary: ctrls[0]!, secondary: ctrls[1]!, logger })
  const found = roots.map(async (root) => await new Promise<EndpointFunction>((resolve, reject) => {
    root.once('enumerated', resolve)
    root.once('failed', (_peer, message) => { reject(new Error(message)) })
  }))
  ntb.startInterface('h1')
  ntb.startInterface('h2')
  const fns = await Promise.all(found)
  const hosts = nodes.map((node, i): NtbDriverHost => ({ node, root: roots[i]!, fn: fns[i]!, dev: new NtbHwEpf({ fn: fns[i]!, rc: roots[i]! }) }))
  const stop = async (): Promise<void> => {
    for (const h of hosts) h.dev.dispose()
    ntb.stop('test over')
    await settle(ends)
    for (const r of roots) r.destroy()
  }
  try {
    await Promise.all(hosts.map(async (h) => { await h.dev.init() }))
  } catch (err) {
    await stop()
    throw err
  }
  return { h1: hosts[0]!, h2: hosts[1]!, ntb, ends, stop }
}
