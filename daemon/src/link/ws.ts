// ws, loaded with require(): it is CommonJS, and an ESM import of a CommonJS
// package costs the daemon's start far more than loading it (the ESM loader
// scans every module for its export names; 120-180 ms of CPU for ws against
// 50-70 ms by require(), measured on the built daemon). See api/packages.ts.

import { createRequire } from 'node:module'
import type { WebSocket as WsSocket, WebSocketServer as WsServer } from 'ws'

const ws = createRequire(import.meta.url)('ws') as { WebSocket: typeof WsSocket, WebSocketServer: typeof WsServer }

export const WebSocket = ws.WebSocket
export type WebSocket = WsSocket
export const WebSocketServer = ws.WebSocketServer
export type WebSocketServer = WsServer

/**
 * ws's generateMask hook: an all-zero masking key. RFC 6455 §5.3 makes a
 * client mask every frame, to keep script-chosen bytes from reading as
 * requests to intermediaries that do not know WebSocket; with a zero key ws
 * sends the payload as it is instead of a masked copy (ws 8 Sender.frame).
 */
export function zeroMask (mask: Buffer): void { mask.fill(0) }
