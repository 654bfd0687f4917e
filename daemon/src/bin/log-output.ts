// soclinkd's log on stdout: pino's own asynchronous writer (sonic-boom), with
// an end that cannot hang. pino flushes that writer synchronously when the
// process exits, and sonic-boom's flushSync retries every error but EAGAIN
// forever, sleeping 100 ms between tries (node_modules/sonic-boom/index.js,
// flushSync): with stdout a pipe whose reader has gone, a daemon asked to stop
// loops on write(1) = EPIPE and never exits. So the daemon ends its log
// itself before it exits: pending lines get a bounded time to drain, then the
// rest is dropped and the writer destroyed, which makes pino's exit flush a
// no-op.

import type pinoFactory from 'pino'

type Pino = typeof pinoFactory
type Writer = ReturnType<Pino['destination']>

export class LogOutput {
  /** What pino writes to. */
  readonly stream: { write: (line: string) => boolean }
  private readonly writer: Writer
  /** Every line handed to the writer has been written (or failed). */
  private idle = true
  /** A write failed: the output is gone (EPIPE: the reader closed its end). */
  private broken = false
  private ended = false

  constructor (pino: Pino, fd = 1) {
    this.writer = pino.destination({ dest: fd, sync: false })
    this.writer.on('drain', () => { this.idle = true })
    this.writer.on('error', (err: NodeJS.ErrnoException) => {
      // pino turns the writer into a no-op on EPIPE; any other failure means
      // the same for a log: nowhere to write. Said once, on stderr.
      if (!this.broken && err.code !== 'EPIPE') process.stderr.write(`soclinkd: log output failed: ${err.message}\n`)
      this.broken = true
      this.idle = true
    })
    this.stream = {
      write: (line: string): boolean => {
        if (this.ended) return true
        this.idle = false
        return this.writer.write(line)
      }
    }
  }

  /** Lets pending lines drain for at most `ms`, then drops what is left. */
  async end (ms: number): Promise<void> {
    if (!this.idle && !this.broken && !this.ended) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms)
        this.writer.once('drain', done)
        this.writer.once('error', done)
        function done (): void { clearTimeout(timer); resolve() }
      })
    }
    this.abandon()
  }

  /** Drops pending lines now: nothing is written after this, and the exit flush does nothing. */
  abandon (): void {
    if (this.ended) return
    this.ended = true
    this.writer.destroy()
  }
}
