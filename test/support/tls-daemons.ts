// Daemons with TLS for end-to-end tests: their flags from a certificate
// made by pki.ts, and their HTTPS control API reached with node:https and
// the test CA (fetch takes no CA; the client library's TLS options are not
// what these tests are about).

import { request as httpsRequest } from 'node:https'
import { request as httpRequest } from 'node:http'
import { readFileSync } from 'node:fs'
import type { Issued, TestCa } from './pki.js'
import { until, type Daemon } from './daemon.js'

/** The flags of a daemon with `cert`, verifying peers against `ca` (mutual TLS) unless ca is null. */
export function tlsArgs (cert: Issued, ca: TestCa | null): string[] {
  return ['--tls-cert', cert.cert, '--tls-key', cert.key, ...(ca !== null ? ['--tls-ca', ca.cert] : [])]
}

export interface HttpsReply<T> { status: number, body: T }

/**
 * A request to a daemon's API, HTTPS trusting `ca` only (or plain HTTP for
 * a daemon without TLS); JSON in and out (raw bytes in with `bytes`).
 */
export async function api<T> (d: Daemon, ca: TestCa | null, method: string, path: string, body?: unknown, bytes?: Buffer): Promise<HttpsReply<T>> {
  const secure = d.api.startsWith('https:')
  const request = secure ? httpsRequest : httpRequest
  const payload = bytes ?? (body === undefined ? undefined : Buffer.from(JSON.stringify(body)))
  const headers: Record<string, string> = {}
  if (payload !== undefined) headers['content-type'] = bytes !== undefined ? 'application/octet-stream' : 'application/json'
  return await new Promise<HttpsReply<T>>((resolve, reject) => {
    const req = request(d.api + path, { method, headers, ...(secure && ca !== null ? { ca: readFileSync(ca.cert) } : {}) }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const raw = Buffer.concat(chunks)
        const type = res.headers['content-type'] ?? ''
        resolve({ status: res.statusCode ?? 0, body: (type.includes('json') ? JSON.parse(raw.toString()) : raw) as T })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(payload)
  })
}

export interface PeerRow { name: string, url: string | null, state: string, lastError: string, counters: Record<string, number> }

/** GET /v1/peers over HTTPS. */
export async function peers (d: Daemon, ca: TestCa | null): Promise<PeerRow[]> {
  const r = await api<{ peers: PeerRow[] }>(d, ca, 'GET', '/v1/peers')
  if (r.status !== 200) throw new Error(`${d.name}: GET /v1/peers answered ${r.status}`)
  return r.body.peers
}

/** The peer `name` once it is up. */
export async function peerUp (d: Daemon, ca: TestCa | null, name: string, ms = 20_000): Promise<PeerRow> {
  return await until(`${d.name} linked to ${name}`, async () => (await peers(d, ca)).find((p) => p.name === name && p.state === 'up'), ms)
}

/** The first dialed peer's lastError once it matches `re` (a dial that keeps failing says why). */
export async function dialError (d: Daemon, ca: TestCa | null, re: RegExp, ms = 20_000): Promise<string> {
  return await until(`${d.name}'s lastError matching ${String(re)}`, async () => {
    const e = (await peers(d, ca)).find((p) => p.url !== null)?.lastError ?? ''
    return re.test(e) ? e : undefined
  }, ms, () => 'see the daemon\'s peers')
}

/** A log line of `d` (its msg) matching `re`, once one is there. */
export async function logLine (d: Daemon, re: RegExp, ms = 20_000): Promise<string> {
  return await until(`${d.name} logging ${String(re)}`, () => d.logs.map(msgOf).find((m) => re.test(m)), ms, () => d.logs.slice(-5).join('\n'))
}

export function msgOf (line: string): string {
  try { return (JSON.parse(line) as { msg?: string }).msg ?? '' } catch { return '' }
}
