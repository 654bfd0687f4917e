// The kernel's rpmsg client sample (samples/rpmsg/rpmsg_client_sample.c) as
// an rpmsg driver: it serves channels named "rpmsg-client-sample", sends
// "hello world!" to the remote when it probes, and answers every message
// it receives with another "hello world!" until it has received MSG_LIMIT
// (100), then says "goodbye!" and stays quiet. With the driver on both
// sides each sends 100 messages and receives 100.
//
// The first message. The kernel sends it from probe; the RFC defers it
// ([P 15]: delayed work 500 ms after probe, because the virtio side's
// announce_create, which sends AS ASSIGN, runs after probe; [P 16]: on the
// vhost side, re-polls every 50 ms until the address service has given
// rpdev->dst). Here neither needs a timer:
//   - virtio side (remote known at probe): the send is deferred to a
//     microtask. The bus queues its AS ASSIGN synchronously after
//     'channel-created', and sends leave in the order they are queued, so
//     the vhost side learns our address before our hello reaches it.
//   - vhost side (remote unknown until AS ASSIGN): it waits for the bus's
//     'channel-bound' event for this channel. After a reset of the virtio
//     side the channel is bound again but not probed again, so the sample
//     only answers then, as the kernel's vhost rpdev would.

import type { Logger } from 'pino'
import { asSoclinkError } from '../virtio/virtio.js'
import type { RpmsgChannel } from './core.js'
import type { RpmsgDriver, RpmsgParent } from './driver.js'
import { RPMSG_ADDR_ANY } from './wire.js'

/** The id-table entry (struct rpmsg_device_id .name). */
export const SAMPLE_ID = 'rpmsg-client-sample'
/** The driver's name (KBUILD_MODNAME). */
export const SAMPLE_DRIVER = 'rpmsg_client_sample'
export const SAMPLE_MSG = 'hello world!'
export const MSG_LIMIT = 100

const HELLO = new TextEncoder().encode(SAMPLE_MSG)

/** One probed channel: messages received and sent, sends that failed, and whether the limit was reached. */
export interface SampleView {
  side: RpmsgParent['side']
  device: string
  channel: string
  src: number
  dst: number | null
  rx: number
  tx: number
  done: boolean
  failed: number
  lastError: string | null
}

interface State {
  readonly ch: RpmsgChannel
  readonly parent: RpmsgParent
  readonly log: Logger
  rx: number
  tx: number
  failed: number
  lastError: string | null
  removed: boolean
  readonly off: Array<() => void>
}

export class RpmsgClientSample implements RpmsgDriver {
  readonly name = SAMPLE_DRIVER
  readonly idTable: readonly string[] = [SAMPLE_ID]
  private readonly states = new Map<RpmsgChannel, State>()

  constructor (private readonly logger: Logger) {}

  probe (ch: RpmsgChannel, parent: RpmsgParent): void {
    const log = this.logger.child({ device: parent.device, side: parent.side, channel: ch.name })
    const st: State = { ch, parent, log, rx: 0, tx: 0, failed: 0, lastError: null, removed: false, off: [] }
    const onMessage = (_payload: Uint8Array, src: number): void => { this.receive(st, src) }
    ch.on('message', onMessage)
    st.off.push(() => { ch.off('message', onMessage) })
    this.states.set(ch, st)
    log.info(`new channel: 0x${ch.src.toString(16)} -> 0x${ch.dst.toString(16)}!`)
    if (ch.dst !== RPMSG_ADDR_ANY) {
      queueMicrotask(() => { if (!st.removed) this.send(st) })
      return
    }
    const bound = (c: RpmsgChannel): void => {
      if (c !== ch) return
      ch.bus.off('channel-bound', bound)
      this.send(st)
    }
    ch.bus.on('channel-bound', bound)
    st.off.push(() => { ch.bus.off('channel-bound', bound) })
  }

  remove (ch: RpmsgChannel): void {
    const st = this.states.get(ch)
    if (st === undefined) return
    this.states.delete(ch)
    st.removed = true
    for (const off of st.off.splice(0)) off()
    st.log.info('rpmsg sample client driver is removed')
  }

  /** Every channel probed and not removed. */
  views (): SampleView[] {
    return [...this.states.values()].map((st) => ({
      side: st.parent.side,
      device: st.parent.device,
      channel: st.ch.name,
      src: st.ch.src,
      dst: st.ch.dst === RPMSG_ADDR_ANY ? null : st.ch.dst,
      rx: st.rx,
      tx: st.tx,
      done: st.rx >= MSG_LIMIT,
      failed: st.failed,
      lastError: st.lastError
    }))
  }

  /** rpmsg_sample_cb(). */
  private receive (st: State, src: number): void {
    st.rx++
    st.log.info(`incoming msg ${st.rx} (src: 0x${src.toString(16)})`)
    if (st.rx >= MSG_LIMIT) {
      st.log.info('goodbye!')
      return
    }
    this.send(st)
  }

  /** rpmsg_send(): waits for a buffer like the kernel's; a failure is counted and logged, and ends nothing else. */
  private send (st: State): void {
    st.ch.send(HELLO).then(() => { st.tx++ }, (err: unknown) => {
      st.failed++
      st.lastError = asSoclinkError(err, 'ERR_RPMSG_SEND').message
      st.log.warn({ err: st.lastError }, 'rpmsg_send failed')
    })
  }
}
