// What ControlClient's methods resolve to is exactly the contracts' types
// (proto/api): compiled by lint's tsc and by test/unit/contract-types.test.ts,
// a contract that changes without the client changing with it fails here.

import type { ControlClient } from '../../client/src/control-client.js'
import type * as C from '../../proto/api/index.js'
import type { Static, TSchema } from 'typebox'

/** True only when A and B are the same type (not merely assignable). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
type Expect<T extends true> = T
type Resolves<K extends keyof ControlClient> = ControlClient[K] extends (...args: never[]) => Promise<infer R> ? R : never
type Items<S extends TSchema> = Array<Static<S>>

export type ClientReturnsTheContracts = [
  Expect<Equal<Resolves<'health'>, Static<typeof C.HealthSchema>>>,
  Expect<Equal<Resolves<'node'>, Static<typeof C.NodeSchema>>>,
  Expect<Equal<Resolves<'regions'>, Items<typeof C.RegionSchema>>>,
  Expect<Equal<Resolves<'region'>, Static<typeof C.RegionSchema>>>,
  Expect<Equal<Resolves<'writeRegion'>, Static<typeof C.WriteResultSchema>>>,
  Expect<Equal<Resolves<'peers'>, Items<typeof C.PeerSchema>>>,
  Expect<Equal<Resolves<'setFaults'>, Static<typeof C.PeerSchema>>>,
  Expect<Equal<Resolves<'windows'>, Items<typeof C.WindowSchema>>>,
  Expect<Equal<Resolves<'openWindow'>, Static<typeof C.WindowSchema>>>,
  Expect<Equal<Resolves<'doorbells'>, Items<typeof C.DoorbellSchema>>>,
  Expect<Equal<Resolves<'ring'>, Static<typeof C.RingResultSchema>>>,
  Expect<Equal<Resolves<'pciEp'>, Static<typeof C.PciEpTreeSchema>>>,
  Expect<Equal<Resolves<'createFunction'>, Static<typeof C.PciEpFunctionSchema>>>,
  Expect<Equal<Resolves<'startController'>, Static<typeof C.PciEpControllerSchema>>>,
  Expect<Equal<Resolves<'pci'>, Static<typeof C.PciRootComplexSchema>>>,
  Expect<Equal<Resolves<'devices'>, Items<typeof C.DeviceSchema>>>,
  Expect<Equal<Resolves<'virtqueues'>, Items<typeof C.VirtqueueSchema>>>,
  Expect<Equal<Resolves<'runTestDevice'>, Static<typeof C.TestRunResultSchema>>>,
  Expect<Equal<Resolves<'rpmsgChannels'>, Items<typeof C.RpmsgChannelSchema>>>,
  Expect<Equal<Resolves<'rpmsgEndpoints'>, Static<typeof C.RpmsgEndpointListSchema>>>,
  Expect<Equal<Resolves<'ntb'>, Static<typeof C.NtbBoardSchema> | Static<typeof C.NtbHostSchema>>>,
  Expect<Equal<Resolves<'ntbLink'>, Static<typeof C.NtbLinkResultSchema>>>,
  Expect<Equal<Resolves<'ntbDoorbells'>, Static<typeof C.NtbDoorbellsSchema>>>,
  Expect<Equal<Resolves<'ntbPeerDoorbell'>, Static<typeof C.NtbPeerDbResultSchema>>>,
  Expect<Equal<Resolves<'ntbSpads'>, Static<typeof C.NtbSpadsSchema>>>,
  Expect<Equal<Resolves<'ntbSpadWrite'>, Static<typeof C.NtbSpadWriteSchema>>>,
  Expect<Equal<Resolves<'ntbWindows'>, Static<typeof C.NtbWindowsSchema>>>,
  Expect<Equal<Resolves<'ntbSetWindow'>, Static<typeof C.NtbWindowSchema>>>,
  Expect<Equal<Resolves<'ntbPerf'>, Static<typeof C.NtbPerfStateSchema>>>,
  Expect<Equal<Resolves<'runNtbPerf'>, Static<typeof C.NtbPerfResultSchema>>>
]
