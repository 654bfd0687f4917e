// A Region: bytes this daemon owns (rc system memory, an endpoint's BAR, NTB
// scratchpads). Its owner orders every write to it: local writes and writes
// that arrive through peers' windows both go through write(), and each is
// passed, in that order, to the region's observers (the ports that stream it
// to subscribed replicas).

import { PagedMemory } from './paged-memory.js'

/** Told of every write, after it is applied; `origin` is the remote window it came through, if any. */
export type WriteObserver = (offset: number, bytes: Uint8Array, origin: unknown) => void

export class Region extends PagedMemory {
  readonly id: number
  readonly name: string
  /** Bumped on every write; lets readers tell whether anything changed. */
  writes = 0
  private readonly observers = new Set<WriteObserver>()

  constructor (id: number, name: string, size: number) {
    super(size)
    this.id = id
    this.name = name
  }

  protected get what (): string { return `region ${this.name}` }

  write (offset: number, bytes: Uint8Array): void {
    this.writeFrom(offset, bytes, null)
  }

  /** A write that arrived through a peer's window (`origin`), in the owner's order. */
  writeFrom (offset: number, bytes: Uint8Array, origin: unknown): void {
    this.check(offset, bytes.length)
    this.store(offset, bytes)
    this.writes++
    for (const o of this.observers) o(offset, bytes, origin)
  }

  observe (o: WriteObserver): () => void {
    this.observers.add(o)
    return () => { this.observers.delete(o) }
  }
}
