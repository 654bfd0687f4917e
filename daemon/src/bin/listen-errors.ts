// A port the daemon cannot listen on is a setting that cannot be used: one
// line that names the setting (--listen, the peer links; --api, the control
// API), its address and why, instead of Node's stack trace. soclinkd exits 2
// on it, as on every ERR_CONFIG.

import { ConfigError } from '../errors.js'

/** Why a listen(2) failed, for the errno codes a user can fix. */
const REASONS: Record<string, string> = {
  EADDRINUSE: 'address already in use (another soclinkd, or another program, listens there): stop it or choose another port',
  EADDRNOTAVAIL: 'no such address on this machine',
  EACCES: 'permission denied (ports below 1024 need privileges)'
}

const WHAT = { listen: 'peer links', api: 'control API' }

/** `err` as a ConfigError naming `setting` and `address` when it is a failed listen a user can fix; else `err` itself. */
export function listenRefusal (setting: 'listen' | 'api', address: { host: string, port: number }, err: unknown): unknown {
  const e = err as NodeJS.ErrnoException | undefined
  if (e?.syscall !== 'listen' && e?.syscall !== 'bind') return err
  const why = e.code !== undefined ? REASONS[e.code] : undefined
  if (why === undefined) return err
  return new ConfigError(`--${setting} ${address.host}:${address.port} (${WHAT[setting]}): ${why}`)
}

/** Runs `listening`, turning a failed listen into listenRefusal's error. */
export async function listenAs<T> (setting: 'listen' | 'api', address: { host: string, port: number }, listening: () => Promise<T>): Promise<T> {
  try {
    return await listening()
  } catch (err) {
    throw listenRefusal(setting, address, err)
  }
}
