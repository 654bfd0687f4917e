// Durations as Docker and Compose write them: Go's time.ParseDuration
// ("1m30s", "500ms", "2s"), as HEALTHCHECK --interval=... and a compose
// file's healthcheck.interval or stop_grace_period take them. Pure.

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** Milliseconds in `text`; `where` names it in the error. */
export function parseDuration (text: string | number, where: string): number {
  // Compose also takes a bare number of seconds.
  if (typeof text === 'number' && Number.isFinite(text) && text >= 0) return text * 1000
  const s = String(text)
  const parts = /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/.test(s) ? s.match(/\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h)/g) : null
  if (s === '0') return 0
  if (parts === null) throw new Error(`${where}: ${JSON.stringify(text)} is not a duration (e.g. 2s, 500ms, 1m30s)`)
  return parts.reduce((ms, p) => {
    const m = /^(\d+(?:\.\d+)?)(.+)$/.exec(p)!
    return ms + Number(m[1]) * UNIT_MS[m[2]!]!
  }, 0)
}
