// The regions this daemon owns, by id and by name. Two kinds: regions an
// operator asks for (POST /v1/regions, the regions setting), bounded in size
// one by one and added up (RegionLimits), and removed by DELETE; and the
// ones a role makes for its hardware model (system memory, BARs, config
// spaces, NTB windows), sized by the role's own settings, which only the
// role removes: a DELETE of one is refused (ERR_REGION_INTERNAL), as the
// hardware and its rings still use it.
//
// An operator's region may name the peers that may open windows onto it
// (regions: [{ name, size, peers }], POST /v1/regions { peers }); without a
// list every peer may, as do internal regions (their roles scope them with
// NAME@PEER). Reads and writes go through windows, so the list guards them too.

import { Region } from './region.js'
import { ConflictError, InternalRegionError, LimitError, NotFoundError } from '../errors.js'
import { checkRange } from './access.js'

// NAME@PEER is a region only PEER sees, under NAME (one endpoint
// controller per host on an NTB board: each host is wired to its own).
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}(@[A-Za-z0-9][A-Za-z0-9._-]{0,63})?$/

/** Bounds of the regions an operator creates (settings maxRegionSize, maxRegionMemory). */
export interface RegionLimits {
  /** Largest one. */
  maxSize: number
  /** All of them, added up. */
  maxTotal: number
}

const UNLIMITED: RegionLimits = { maxSize: Number.MAX_SAFE_INTEGER, maxTotal: Number.MAX_SAFE_INTEGER }

export class RegionTable {
  private readonly byId = new Map<number, Region>()
  private readonly byName = new Map<string, Region>()
  /** The operator's regions (the rest are internal). */
  private readonly userRegions = new Set<Region>()
  private userBytes = 0
  /** The peers allowed onto an operator's region that has a list. */
  private readonly allowed = new Map<Region, ReadonlySet<string>>()
  private nextId = 1
  private readonly removedListeners = new Set<(r: Region) => void>()

  constructor (private readonly limits: RegionLimits = UNLIMITED) {}

  /** Creates an internal region (a role's hardware model); names are unique, ids are never reused. */
  create (name: string, size: number): Region {
    return this.add(name, size, (id) => new Region(id, name, size))
  }

  /**
   * Creates an operator's region, within RegionLimits (ERR_LIMIT); DELETE may
   * remove it. With `peers`, only those peers may open windows onto it.
   */
  createUser (name: string, size: number, peers?: readonly string[]): Region {
    if (size > this.limits.maxSize) throw new LimitError(`region ${name}: ${size} bytes is over maxRegionSize (${this.limits.maxSize})`)
    if (this.userBytes + size > this.limits.maxTotal) {
      throw new LimitError(`region ${name}: ${size} more bytes would take the regions created here to ${this.userBytes + size}, over maxRegionMemory (${this.limits.maxTotal})`)
    }
    const r = this.create(name, size)
    this.userRegions.add(r)
    this.userBytes += size
    if (peers !== undefined) this.allowed.set(r, new Set(peers))
    return r
  }

  /** The peers allowed onto `r`, or null when every peer is. */
  peersOf (r: Region): string[] | null {
    const list = this.allowed.get(r)
    return list === undefined ? null : [...list]
  }

  /** Whether `peer` may open windows onto `r` (its region list, if it has one, names the peer). */
  allows (r: Region, peer: string): boolean {
    return this.allowed.get(r)?.has(peer) ?? true
  }

  /** Whether a role made it for its hardware model. */
  internal (r: Region): boolean { return !this.userRegions.has(r) }

  /** Removes an operator's region; an internal one is refused (ERR_REGION_INTERNAL). */
  removeUser (ref: string | number): Region {
    const r = this.get(ref)
    if (this.internal(r)) throw new InternalRegionError(r.name)
    return this.remove(r.id)
  }

  /** Adds a region of a Region subclass (an NTB memory window), built with the id given. */
  add<R extends Region> (name: string, size: number, make: (id: number) => R): R {
    if (!NAME.test(name)) throw new ConflictError(`region name ${JSON.stringify(name)} must match ${String(NAME)}`)
    if (this.byName.has(name)) throw new ConflictError(`region ${name} exists`)
    checkRange('region size', Number.MAX_SAFE_INTEGER, 0, size)
    const region = make(this.nextId++)
    this.byId.set(region.id, region)
    this.byName.set(name, region)
    return region
  }

  /** By numeric id, or by name; a string of digits is taken as an id. */
  find (ref: string | number): Region | undefined {
    if (typeof ref === 'number') return this.byId.get(ref)
    return /^\d+$/.test(ref) ? this.byId.get(Number(ref)) : this.byName.get(ref)
  }

  /**
   * What `peer` finds under `ref`: its own NAME@peer first, else NAME. A
   * region scoped to another peer is not there for it, by name or by id:
   * one host never reaches another host's controller on an NTB board.
   */
  findFor (ref: string | number, peer: string): Region | undefined {
    const r = typeof ref === 'string' && !/^\d+$/.test(ref) ? this.byName.get(`${ref}@${peer}`) ?? this.byName.get(ref) : this.find(ref)
    if (r === undefined) return undefined
    const at = r.name.indexOf('@')
    return at < 0 || r.name.slice(at + 1) === peer ? r : undefined
  }

  get (ref: string | number): Region {
    const r = this.find(ref)
    if (r === undefined) throw new NotFoundError('region', ref)
    return r
  }

  list (): Region[] {
    return [...this.byId.values()]
  }

  remove (ref: string | number): Region {
    const r = this.get(ref)
    this.byId.delete(r.id)
    this.byName.delete(r.name)
    if (this.userRegions.delete(r)) this.userBytes -= r.size
    this.allowed.delete(r)
    for (const l of this.removedListeners) l(r)
    return r
  }

  onRemoved (l: (r: Region) => void): void {
    this.removedListeners.add(l)
  }
}
