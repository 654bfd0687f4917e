// In-process daemons (SoclinkNode with real sockets on loopback) for
// integration tests that need to drive memory and doorbells directly.

import pino from 'pino'
import { loadSettings } from '../../daemon/src/config/settings.js'
import { SoclinkNode } from '../../daemon/src/node.js'

export async function startNode (name: string, args: string[] = []): Promise<SoclinkNode> {
  const loaded = loadSettings({ argv: ['--name', name, '--listen', '127.0.0.1:0', '--api', '127.0.0.1:0', ...args], env: {}, readFile: () => '' })
  if (loaded.kind !== 'run') throw new Error('unexpected help')
  const node = new SoclinkNode(loaded.settings, pino({ level: process.env.SOCLINK_TEST_LOG ?? 'silent' }))
  await node.start()
  return node
}

export function linkUrl (node: SoclinkNode, port = node.listenAddress!.port): string {
  return `ws://127.0.0.1:${port}/v1/link`
}
