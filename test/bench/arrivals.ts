// Messages counted as they arrive, for the one-way rows.

import type { RpmsgEndpoint } from '../../client/src/index.js'

/** reach(n) resolves once n have arrived. */
export class Arrivals {
  count = 0
  private want = Infinity
  private wake: () => void = () => {}

  hit (): void { if (++this.count >= this.want) this.wake() }

  async reach (n: number): Promise<void> {
    if (this.count >= n) return
    this.want = n
    await new Promise<void>((resolve) => { this.wake = resolve })
  }
}

/** Counts what arrives at an application's endpoint (its iterator) until it closes. */
export function counter (ept: RpmsgEndpoint): Arrivals {
  const a = new Arrivals()
  const it = ept[Symbol.asyncIterator]()
  void (async () => { while ((await it.next()).done !== true) a.hit() })()
  return a
}
