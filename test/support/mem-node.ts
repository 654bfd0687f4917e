// A daemon's memory layer without the daemon: regions with their completer,
// windows with their requester, doorbell targets, and loop links to other
// MemNodes. Every frame that arrives goes to the requester, then the
// completer, then the doorbell table, as the composition root does.

import { RegionTable } from '../../daemon/src/mem/region-table.js'
import { Completer } from '../../daemon/src/mem/completer.js'
import { Requester } from '../../daemon/src/mem/requester.js'
import { DoorbellTable } from '../../daemon/src/link/doorbells.js'
import { loopLink, type LoopEnd, type LoopOptions } from './loop-link.js'

export class MemNode {
  readonly name: string
  readonly regions = new RegionTable()
  readonly completer = new Completer(this.regions)
  readonly requester: Requester
  readonly doorbells = new DoorbellTable()
  /** This node's end of the link to each peer, by peer name. */
  readonly links = new Map<string, LoopEnd>()

  constructor (name: string) {
    this.name = name
    this.requester = new Requester((peer) => this.links.get(peer) ?? null)
  }

  /** Every link end held by this node. */
  ends (): LoopEnd[] { return [...this.links.values()] }
}

/** Links two nodes; returns [a's end, b's end]. */
export function connect (a: MemNode, b: MemNode, opts: LoopOptions = {}): [LoopEnd, LoopEnd] {
  const [atA, atB] = loopLink(a.name, b.name, opts)
  for (const [node, end] of [[a, atA], [b, atB]] as const) {
    node.links.set(end.name, end)
    end.handler = (link, d) => node.requester.handle(link, d) || node.completer.handle(link, d) || node.doorbells.handle(link, d)
  }
  return [atA, atB]
}
