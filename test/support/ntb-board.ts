// An NTB board with in-memory hosts, for unit tests of the endpoint
// function (hw/ntb/epf-ntb.ts): a board MemNode with one endpoint
// controller per host (scoped to it, rc peer = the host), EpfNtb pairs over
// them, and host MemNodes that own pcie.sysmem, record the MSIs they get on
// pcie.msi, and reach the board's BARs through replica windows by their
// plain names.

import pino from 'pino'
import { MemNode, connect } from './mem-node.js'
import { settle, type LoopEnd } from './loop-link.js'
import { EndpointController, MSI_DOORBELL, SYSMEM_REGION } from '../../daemon/src/hw/pcie/endpoint-controller.js'
import { EpfNtb, type EpfNtbConfig } from '../../daemon/src/hw/ntb/epf-ntb.js'
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
