// The pci-epf-vhost register block against the numbers of the RFC
// (DIGEST section 1: struct epf_vhost_reg, __packed, and virtio_pci_epf.c).

import t from 'tap'
import * as r from '../../daemon/src/transport/epf-vhost-regs.js'

t.test('register offsets are those of struct epf_vhost_reg', async (t) => {
  t.same([r.HOST_FEATURES, r.GUEST_FEATURES, r.MSIX_CONFIG, r.NUM_QUEUES, r.DEVICE_STATUS, r.CONFIG_GENERATION, r.ISR, r.HOST_CMD, r.HOST_CMD_STATUS],
    [0x00, 0x08, 0x10, 0x12, 0x14, 0x15, 0x16, 0x1a, 0x1b])
  t.equal(r.REG_SIZE, 0x9c, 'sizeof(struct epf_vhost_reg)')
  t.equal(r.DEVICE_CFG_SPACE, 0x110)
  t.same(r.queueReg(0), { cmd: 0x1c, cmdStatus: 0x1d, status: 0x1e, numBuffers: 0x20, msixVector: 0x22, addr: 0x24 })
  t.same(r.queueReg(7), { cmd: 0x8c, cmdStatus: 0x8d, status: 0x8e, numBuffers: 0x90, msixVector: 0x92, addr: 0x94 })
})

t.test('command encodings', async (t) => {
  t.same([r.HostCmd.NONE, r.HostCmd.SET_STATUS, r.HostCmd.FINALIZE_FEATURES, r.HostCmd.RESET], [0, 1, 2, 3])
  t.same([r.QueueCmd.NONE, r.QueueCmd.ACTIVATE, r.QueueCmd.DEACTIVATE, r.QueueCmd.NOTIFY], [0, 1, 2, 3])
  t.same([r.CmdStatus.NONE, r.CmdStatus.OKAY, r.CmdStatus.ERROR], [0, 1, 2])
  t.ok(r.BAR0_SIZE >= r.DEVICE_CFG_SPACE + 0x100, 'BAR0 holds the registers and device config')
})
