// One host's side of an NTB endpoint function, as far as a host driver can
// see it, on in-memory nodes: a board node 'b' with an EndpointController
// scoped to host 'h1' (BAR0 struct epf_ntb_ctrl + own scratchpads, BAR1 the
// other host's scratchpads, BAR2 doorbell slots + MW1, BAR3.. MW2..), and
// 'h1' with a RootComplex that enumerates it. The model answers commands as
// pci-epf-ntb.c's command handler does (zeroes COMMAND and ARGUMENT, sets
// CMD_STATUS), and records every command and every doorbell write. The
// other host is pretended: its doorbell slots are filled in, its link is up.

import pino from 'pino'
import type { Test } from 'tap'
import { MemNode, connect } from './mem-node.js'
import { settle, type LoopEnd } from './loop-link.js'
import { EndpointController } from '../../daemon/src/hw/pcie/endpoint-controller.js'
import { RootComplex, type EndpointFunction } from '../../daemon/src/hw/pcie/root-complex.js'
import type { Region } from '../../daemon/src/mem/region.js'
import * as R from '../../daemon/src/hw/ntb/epf-ntb-regs.js'

export interface NtbBoardOptions {
  mwCount?: number
  mwSize?: number
  spadCount?: number
  dbEntrySize?: number
  /** The most vectors CONFIGURE_DOORBELL accepts (the function's MSI capability). */
  maxVectors?: number
  /** DB_OFFSET(n) for every slot the other host configured (MSI: one address for all). */
  dbOffset?: number
  /** False: the board never answers (a hung command handler). */
  answers?: boolean
  /** Commands answered ERROR whatever their argument. */
  refuse?: number[]
}

export interface BoardCommand { cmd: number, arg: number, addr: number, size: number }

export const MSI_DATA = 0x4a00

export class NtbBoardModel {
  readonly ctrl: EndpointController
  readonly bar0: Region
  readonly peerSpad: Region
  readonly dbMw1: Region
  readonly mws: Region[] = []
  readonly mw1Offset: number
  readonly spadOffset: number
  readonly commands: BoardCommand[] = []
  readonly rings: Array<{ offset: number, data: number }> = []
  readonly opts: Required<NtbBoardOptions>

  constructor (ctrl: EndpointController, options: NtbBoardOptions = {}) {
    this.ctrl = ctrl
    const o = this.opts = { mwCount: 2, mwSize: 0x1_0000, spadCount: 128, dbEntrySize: 256, maxVectors: 32, dbOffset: 0x10, answers: true, refuse: [], ...options }
    // epf_ntb_config_spad_bar_alloc: ctrl and spads each rounded to a power of two, spads size-aligned.
    const spadSize = pow2(4 * o.spadCount)
    this.spadOffset = Math.max(pow2(R.CTRL_SIZE), spadSize)
    // epf_ntb_db_mw_bar_init: MW1 starts after R.MAX_DB_COUNT slots, aligned to its size.
    this.mw1Offset = Math.ceil(R.MAX_DB_COUNT * o.dbEntrySize / o.mwSize) * o.mwSize
    ctrl.setHeader({ vendorId: R.NTB_EPF_VENDOR_ID, deviceId: R.NTB_EPF_DEVICE_ID, classCode: R.NTB_EPF_CLASS })
    this.bar0 = ctrl.setBar(R.BAR_CONFIG, this.spadOffset + spadSize)
    this.peerSpad = ctrl.setBar(R.BAR_PEER_SPAD, spadSize)
    this.dbMw1 = ctrl.setBar(R.BAR_DB_MW1, pow2(this.mw1Offset + o.mwSize))
    for (let w = 1; w < o.mwCount; w++) this.mws.push(ctrl.setBar(R.mwBar(w), o.mwSize))
    const c = this.bar0
    // Registers, as the board marks them (epf-ntb.ts): writes there are never combined.
    c.markRegisters(0, c.size)
    this.dbMw1.markRegisters(0, this.mw1Offset)
    c.write32(R.MW_COUNT, o.mwCount)
    c.write32(R.MW1_OFFSET, this.mw1Offset)
    c.write32(R.SPAD_OFFSET, this.spadOffset)
    c.write32(R.SPAD_COUNT, o.spadCount)
    c.write32(R.DB_ENTRY_SIZE, o.dbEntrySize)
    // What the other host's CONFIGURE_DOORBELL (MSI path) leaves in this host's ctrl.
    for (let n = 0; n < R.MAX_DB_COUNT; n++) {
      c.write32(R.DB_DATA(n), MSI_DATA | n)
      c.write32(R.DB_OFFSET(n), o.dbOffset)
    }
    c.observe((offset, length, origin) => {
      if (origin !== null && offset <= R.COMMAND && offset + length >= R.COMMAND + 4) setImmediate(() => { this.work() })
    })
    this.dbMw1.observe((offset, _length, origin) => {
      if (origin !== null && offset < this.mw1Offset) this.rings.push({ offset, data: this.dbMw1.read32(offset) })
    })
  }

  /** The doorbell slot a ring at `offset` hit. */
  slotOf (offset: number): number { return (offset - this.opts.dbOffset) / this.opts.dbEntrySize }

  raiseMsi (vector: number): void { this.ctrl.raiseMsi(vector) }

  /** epf_ntb_cmd_handler, run once per COMMAND write. */
  private work (): void {
    const c = this.bar0
    const cmd = c.read32(R.COMMAND)
    if (cmd === 0) return
    const arg = c.read32(R.ARGUMENT)
    this.commands.push({ cmd, arg, addr: c.read64(R.LOWER_ADDR), size: c.read64(R.LOWER_SIZE) })
    if (!this.opts.answers) return
    c.write32(R.COMMAND, 0)
    c.write32(R.ARGUMENT, 0)
    c.write16(R.CMD_STATUS, this.run(cmd, arg) ? R.COMMAND_STATUS_OK : R.COMMAND_STATUS_ERROR)
  }

  /** One command's effect; false for ERROR. */
  private run (cmd: number, arg: number): boolean {
    const c = this.bar0
    if (this.opts.refuse.includes(cmd)) return false
    switch (cmd) {
      case R.CMD_CONFIGURE_DOORBELL: return (arg & R.DB_COUNT_MASK) <= this.opts.maxVectors
      case R.CMD_CONFIGURE_MW: return arg < this.opts.mwCount && c.read64(R.LOWER_SIZE) <= this.opts.mwSize
      case R.CMD_LINK_UP:
      case R.CMD_LINK_DOWN:
        // epf_ntb_link_up(): the other host is up already, so both see the link now.
        c.write16(R.LINK_STATUS, cmd === R.CMD_LINK_UP ? R.LINK_STATUS_UP : 0)
        this.raiseMsi(0)
        return true
      default: return true
    }
  }
}

export interface NtbHostBench {
  board: NtbBoardModel
  root: RootComplex
  fn: EndpointFunction
  ends: LoopEnd[]
  h1: MemNode
  b: MemNode
}

/** Host h1 with the model's function enumerated through its root complex. */
export async function ntbHost (t: Test, options: NtbBoardOptions = {}): Promise<NtbHostBench> {
  const h1 = new MemNode('h1')
  const b = new MemNode('b')
  const ends = connect(h1, b)
  const root = new RootComplex({ regions: h1.regions, requester: h1.requester, doorbells: h1.doorbells, memorySize: 1 << 24, logger: pino({ level: 'silent' }) })
  const ctrl = new EndpointController({
    regions: b.regions,
    requester: b.requester,
    doorbellRing: (target, value) => { b.doorbells.ring(b.links.get('h1')!, target, value) },
    sendLinkEvent: (up, reason) => { setImmediate(() => { root.linkEvent('b', up, reason) }) },
    rcPeer: 'h1',
    name: 'ntb.h1',
    scope: 'h1'
  })
  const board = new NtbBoardModel(ctrl, options)
  const found = new Promise<EndpointFunction>((resolve, reject) => {
    root.once('enumerated', resolve)
    root.once('failed', (_peer, message) => { reject(new Error(message)) })
  })
  ctrl.start()
  const fn = await found
  t.teardown(async () => {
    ctrl.stop('test over')
    await settle(ends)
    root.destroy()
  })
  return { board, root, fn, ends, h1, b }
}

function pow2 (n: number): number {
  return 2 ** Math.ceil(Math.log2(n))
}
