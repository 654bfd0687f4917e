// How much each part of the bench does: the full run, or --quick (the same
// rows, fewer messages: about two minutes on two cores). Each count can be
// set with its environment variable (BENCH_ and the name in capitals).

export interface Counts {
  /** 496-byte raw ws messages and window writes. */
  messages: number
  /** Raw ws 64 KiB messages and 64 KiB window writes. */
  bigMessages: number
  /** Round trips of every ping-pong. */
  rounds: number
  /** Test device buffers each way. */
  buffers: number
  /** In-daemon rpmsg messages each way, PCIe and NTB. */
  busMessages: number
  /** Client library messages, one awaited send() at a time. */
  awaitedMessages: number
  /** Client library messages with sends in flight (every windowed and scaling row, in total). */
  windowedMessages: number
  /** Daemon spawns timed for the start-up rows, per role. */
  spawns: number
  /** Seconds of the soak (RSS and event-loop delay of two daemons under rpmsg traffic). */
  soakSeconds: number
}

const FULL: Counts = { messages: 200_000, bigMessages: 5_000, rounds: 5_000, buffers: 50_000, busMessages: 100_000, awaitedMessages: 20_000, windowedMessages: 50_000, spawns: 5, soakSeconds: 30 }
const QUICK: Counts = { messages: 40_000, bigMessages: 1_500, rounds: 1_000, buffers: 5_000, busMessages: 20_000, awaitedMessages: 3_000, windowedMessages: 10_000, spawns: 3, soakSeconds: 10 }

const envName = (key: string): string => 'BENCH_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase()

export interface BenchOptions { quick: boolean, counts: Counts, command: string }

export function benchOptions (argv: string[], env: NodeJS.ProcessEnv): BenchOptions {
  const unknown = argv.filter((a) => a !== '--quick')
  if (unknown.length > 0) throw new Error(`npm run bench: unknown argument ${unknown.join(' ')} (only --quick)`)
  const quick = argv.includes('--quick')
  const counts = { ...(quick ? QUICK : FULL) }
  const overrides: string[] = []
  for (const key of Object.keys(counts) as Array<keyof Counts>) {
    const v = env[envName(key)]
    if (v === undefined) continue
    const n = Number(v)
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${envName(key)}=${v}: a positive whole number, please`)
    counts[key] = n
    overrides.push(`${envName(key)}=${n}`)
  }
  const command = [...overrides, 'npm run bench', ...(quick ? ['-- --quick'] : [])].join(' ')
  return { quick, counts, command }
}

export const COUNT_VARIABLES = (Object.keys(FULL) as Array<keyof Counts>).map(envName)
