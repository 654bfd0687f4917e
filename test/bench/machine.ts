// The machine a run was taken on, for the head of BENCHMARKS.md.

import { cpus, loadavg } from 'node:os'

export interface Machine { cores: number, cpu: string, node: string, date: string, load: string }

/** Call at the start of the run: the load average is the one the run began under. */
export function machine (): Machine {
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    load: loadavg().map((l) => l.toFixed(2)).join(' ')
  }
}
