// The control API's contracts, one definition per resource (see schema.ts):
// the daemon validates, serializes and documents with these schemas and
// builds its replies as their types; the client imports the types only
// (`import type`), so it needs no TypeBox at run time.

import { ErrorSchema, NodeSchema, RegionSchema, PeerSchema, WindowSchema, DoorbellSchema } from './node.js'
import { PciEpFunctionSchema, PciEndpointStateSchema, PciEpControllerSchema, PciFunctionSchema, DeviceSchema, VirtqueueSchema } from './pcie.js'
import { NtbInterfaceSchema, NtbPairSchema, NtbBoardSchema, NtbHostSchema } from './ntb.js'

export { ref, type Static } from './schema.js'
export * from './names.js'
export * from './node.js'
export * from './pcie.js'
export * from './ntb.js'
export * from './ntb-tool.js'
export * from './rpmsg.js'

/** The contracts with an $id: registered once with the API, referenced by routes, listed under the OpenAPI components. */
export const SHARED_SCHEMAS = [
  ErrorSchema, NodeSchema, RegionSchema, PeerSchema, WindowSchema, DoorbellSchema,
  PciEpFunctionSchema, PciEndpointStateSchema, PciEpControllerSchema, PciFunctionSchema, DeviceSchema, VirtqueueSchema,
  NtbInterfaceSchema, NtbPairSchema, NtbBoardSchema, NtbHostSchema
] as const
