// Driver side of the soclink test device (SOCLINK_TEST_DEVICE_ID, see
// uapi/soclink-ids.ts). vq0 "tx": buffers of testPayloadSize(seq) bytes
// holding testPayload(seq), seq counting from 0. vq1 "rx": writable buffers
// of TEST_MAX_PAYLOAD bytes, the k-th posted expected back holding
// testPayload(k) of testPayloadSize(k) bytes. Buffer memory comes from the
// transport's pool (ops.buffers). run() adds work each way and resolves
// when it is done. Callbacks run with interrupts off while they drain the
// used ring and look again after turning them back on (virtqueue_enable_cb).

import {
  VIRTIO_F_RING_PACKED, VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX, features as featureSet
} from '../uapi/virtio-config.js'
import {
  SOCLINK_TEST_DEVICE_ID, TEST_MAX_PAYLOAD, VIRTIO_DEV_ANY_ID, checkTestPayload, fillTestPayload, testPayloadSize, type DeviceId
} from '../uapi/soclink-ids.js'
import { NotFoundError, UnavailableError, type SoclinkError } from '../errors.js'
import type { BufferPool } from './buffer-pool.js'
import { VirtioError, type VirtioDevice, type VirtioDriver } from './virtio.js'
import type { DriverQueue } from './virtqueue.js'

/** sent/received: buffers given to / taken from the other side; bytes: payload both ways. */
export interface TestCounters { sent: number, received: number, verified: number, errors: number, bytes: number }

export interface TestVirtioDriverOptions {
  /** Ask for VIRTIO_F_RING_PACKED (used if the device offers it). */
  packed?: boolean
  /** Ask for VIRTIO_RING_F_EVENT_IDX; default true. */
  eventIdx?: boolean
}

interface Token { addr: number, seq: number }
interface Waiter { tx: number, rx: number, resolve: (c: TestCounters) => void, reject: (e: Error) => void }

class Session {
  readonly counters: TestCounters = { sent: 0, received: 0, verified: 0, errors: 0, bytes: 0 }
  tx!: DriverQueue<Token>
  rx!: DriverQueue<Token>
  /** One payload on its way into a buffer (memory.write copies it). */
  private readonly scratch = Buffer.alloc(TEST_MAX_PAYLOAD)
  private txTarget = 0
  private txAdded = 0
  private txDone = 0
  private rxTarget = 0
  private rxPosted = 0
  private waiters: Waiter[] = []

  constructor (readonly dev: VirtioDevice, readonly pool: BufferPool) {}

  async start (): Promise<void> {
    [this.tx, this.rx] = await this.dev.findVqs<Token>([
      { name: 'tx', callback: () => { this.onTx() } },
      { name: 'rx', callback: () => { this.onRx() } }
    ])
  }

  run (tx: number, rx: number): Promise<TestCounters> {
    if (this.dev.broken) return Promise.reject(this.dev.lastError ?? new VirtioError('ERR_VIRTIO_QUEUE', `${this.dev.name} is broken`))
    this.txTarget += tx
    this.rxTarget += rx
    const p = new Promise<TestCounters>((resolve, reject) => { this.waiters.push({ tx: this.txTarget, rx: this.rxTarget, resolve, reject }) })
    this.pumpTx()
    this.pumpRx()
    this.settle()
    return p
  }

  /** Rejects every run() still waiting. */
  stop (err: Error): void {
    for (const w of this.waiters) w.reject(err)
    this.waiters = []
  }

  /** After the device was reset: takes every buffer back into the pool. */
  release (): void {
    for (const vq of [this.tx, this.rx]) for (const t of vq?.detachUnused() ?? []) this.pool.free(t.addr)
  }

  private pumpTx (): void {
    while (this.txAdded < this.txTarget && !this.tx.full) {
      const seq = this.txAdded
      const payload = this.scratch.subarray(0, testPayloadSize(seq))
      const addr = this.alloc(payload.length, this.tx)
      if (addr === null) break
      fillTestPayload(seq, payload)
      this.pool.memory.write(addr, payload)
      this.tx.add([{ addr, len: payload.length }], [], { addr, seq })
      this.txAdded++
      this.counters.sent++
      this.counters.bytes += payload.length
    }
    this.tx.kick()
  }

  private pumpRx (): void {
    while (this.rxPosted < this.rxTarget && !this.rx.full) {
      const addr = this.alloc(TEST_MAX_PAYLOAD, this.rx)
      if (addr === null) break
      this.rx.add([], [{ addr, len: TEST_MAX_PAYLOAD }], { addr, seq: this.rxPosted++ })
    }
    this.rx.kick()
  }

  private onTx (): void {
    do {
      this.tx.disableCb()
      for (let b = this.tx.getBuf(); b !== null; b = this.tx.getBuf()) {
        this.pool.free(b.token.addr)
        this.txDone++
      }
    } while (!this.tx.enableCb())
    this.pumpTx()
    this.settle()
  }

  private onRx (): void {
    do {
      this.rx.disableCb()
      for (let b = this.rx.getBuf(); b !== null; b = this.rx.getBuf()) {
        const { addr, seq } = b.token
        this.counters.received++
        this.counters.bytes += b.len
        const ok = b.len === testPayloadSize(seq) && checkTestPayload(seq, this.pool.memory.read(addr, b.len))
        if (ok) this.counters.verified++
        else this.counters.errors++
        this.pool.free(addr)
      }
    } while (!this.rx.enableCb())
    this.pumpRx()
    this.settle()
  }

  /** A buffer, or null to wait for one to come back; an empty pool with nothing outstanding ends the runs. */
  private alloc (size: number, vq: DriverQueue<Token>): number | null {
    const addr = this.pool.alloc(size)
    if (addr === null && vq.inFlight === 0) this.stop(new UnavailableError(`buffer pool has no ${size} bytes free for ${vq.name}`))
    return addr
  }

  private settle (): void {
    const done = (w: Waiter): boolean => this.txDone >= w.tx && this.counters.received >= w.rx
    for (const w of this.waiters.filter(done)) w.resolve({ ...this.counters })
    this.waiters = this.waiters.filter((w) => !done(w))
  }
}

export class TestVirtioDriver implements VirtioDriver {
  readonly name = 'soclink-test'
  readonly idTable: readonly DeviceId[] = [{ device: SOCLINK_TEST_DEVICE_ID, vendor: VIRTIO_DEV_ANY_ID }]
  readonly features: bigint
  private readonly sessions = new Map<VirtioDevice, { session: Session, off: () => void }>()

  constructor (options: TestVirtioDriverOptions = {}) {
    this.features = featureSet(VIRTIO_F_VERSION_1) |
      (options.eventIdx === false ? 0n : featureSet(VIRTIO_RING_F_EVENT_IDX)) |
      (options.packed === true ? featureSet(VIRTIO_F_RING_PACKED) : 0n)
  }

  async probe (dev: VirtioDevice): Promise<void> {
    const pool = dev.ops.buffers
    if (pool === null) throw new VirtioError('ERR_VIRTIO_DRIVER', `${dev.name}: the transport gives no buffer memory`)
    const session = new Session(dev, pool)
    await session.start()
    const onBroken = (err: SoclinkError): void => { session.stop(err) }
    dev.on('broken', onBroken)
    this.sessions.set(dev, { session, off: () => { dev.off('broken', onBroken) } })
  }

  /** As drivers' remove: reset first so the device lets go of the buffers, then take them back. */
  async remove (dev: VirtioDevice): Promise<void> {
    const entry = this.sessions.get(dev)
    if (entry === undefined) return
    this.sessions.delete(dev)
    entry.off()
    entry.session.stop(new VirtioError('ERR_VIRTIO_REMOVED', `${dev.name}: the driver was removed`))
    await dev.reset()
    entry.session.release()
  }

  /**
   * Sends `count` more buffers on tx and receives `count` more on rx (or
   * {tx, rx} apiece) on `dev`, or on the only device bound; resolves with a
   * copy of the counters once the device has used them all.
   */
  async run (count: number | { tx: number, rx: number }, dev?: VirtioDevice): Promise<TestCounters> {
    const { tx, rx } = typeof count === 'number' ? { tx: count, rx: count } : count
    return await this.session(dev).run(tx, rx)
  }

  counters (dev?: VirtioDevice): TestCounters {
    return this.session(dev).counters
  }

  private session (dev?: VirtioDevice): Session {
    const entry = dev === undefined && this.sessions.size === 1 ? [...this.sessions.values()][0] : this.sessions.get(dev!)
    if (entry === undefined) throw new NotFoundError('test virtio device', dev?.name ?? '(none)')
    return entry.session
  }
}
