// A compose project's default network made of Linux network namespaces: one
// namespace per service, each with a veth (eth0) into one bridge and an
// address from a private /24, and /etc/netns/NS/hosts mapping every service
// name to its address (`ip netns exec` bind-mounts it over /etc/hosts, as
// Docker's embedded DNS would answer). The bridge has no address: the
// services reach each other, not the host. Needs root (CAP_NET_ADMIN);
// without it, create() fails with a message that says so.
//
// Every network made is also torn down when the process exits or is
// signalled, so a failed test leaves no namespace, link, hosts file or
// process behind. A process killed outright (SIGKILL) cannot clean up: each
// network is recorded in RECORDS with its owner's pid, and the next create()
// removes the networks of owners that are gone.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'

export interface Attachment { service: string, ns: string, ip: string, hostVeth: string }

const live = new Set<Network>()
const RECORDS = '/run/soclink-topology'

const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })

export class Network {
  readonly attachments = new Map<string, Attachment>()
  private destroyed = false

  private constructor (readonly tag: string, readonly bridge: string, readonly subnet: string, services: string[] = []) {
    services.forEach((service, i) => { this.attachments.set(service, this.attachmentOf(service, i)) })
  }

  private attachmentOf (service: string, i: number): Attachment {
    return { service, ns: `scl-${this.tag}-${service}`, ip: `${this.subnet}.${i + 2}`, hostVeth: `${this.bridge}v${i}` }
  }

  /** A bridge and one namespace per service; all of it removed again if any step fails. */
  static create (services: string[]): Network {
    if (services.length > 250) throw new Error('a /24 holds 250 services')
    Network.sweepOrphans()
    const net = Network.withBridge()
    live.add(net)
    watchExit()
    try {
      mkdirSync(RECORDS, { recursive: true })
      writeFileSync(net.record(), JSON.stringify({ pid: process.pid, subnet: net.subnet, services }))
      ip('link', 'set', net.bridge, 'up')
      services.forEach((service, i) => { net.attach(service, i) })
      const hosts = ['127.0.0.1 localhost', '::1 localhost ip6-localhost ip6-loopback',
        ...[...net.attachments.values()].map((a) => `${a.ip} ${a.service}`)].join('\n') + '\n'
      for (const a of net.attachments.values()) {
        mkdirSync(`/etc/netns/${a.ns}`, { recursive: true })
        writeFileSync(`/etc/netns/${a.ns}/hosts`, hosts)
      }
    } catch (err) {
      net.destroy()
      const why = String((err as { stderr?: string }).stderr ?? (err as Error).message).trim()
      throw new Error(`cannot set up the namespaces of the compose services: ${why}`, { cause: err })
    }
    return net
  }

  /** A network with a new bridge under a tag of its own (another run may hold a tag). */
  private static withBridge (): Network {
    for (let attempt = 1; ; attempt++) {
      const tag = randomBytes(2).toString('hex')
      // IFNAMSIZ is 16 with the NUL: "scl" + 4 hex + "v" + index stays short.
      const net = new Network(tag, `scl${tag}`, `10.231.${randomBytes(1)[0]!}`)
      try {
        ip('link', 'add', net.bridge, 'type', 'bridge')
        return net
      } catch (err) {
        const why = String((err as { stderr?: string }).stderr ?? (err as Error).message).trim()
        if (/exists/i.test(why) && attempt < 5) continue
        throw new Error(`cannot create a bridge for the compose services (${why}): the topology test runs docker-compose.yml's services in network namespaces and needs the ip command (iproute2) and root or CAP_NET_ADMIN (CI runs as root)`, { cause: err })
      }
    }
  }

  /** Removes the networks recorded by processes that no longer run. */
  private static sweepOrphans (): void {
    const files = existsSync(RECORDS) ? readdirSync(RECORDS).filter((f) => /^[0-9a-f]{4}\.json$/.test(f)) : []
    for (const file of files) {
      let rec: { pid: number, subnet: string, services: string[] }
      try {
        rec = JSON.parse(readFileSync(`${RECORDS}/${file}`, 'utf8')) as typeof rec
      } catch {
        continue
      }
      if (alive(rec.pid)) continue
      const tag = file.slice(0, 4)
      // Without the rights to remove them, create() says why next.
      try {
        new Network(tag, `scl${tag}`, rec.subnet, rec.services).destroy()
      } catch {
        // Left for create() to report, as said above.
      }
    }
  }

  private record (): string { return `${RECORDS}/${this.tag}.json` }

  private attach (service: string, i: number): void {
    const a = this.attachmentOf(service, i)
    this.attachments.set(service, a)
    const peer = `${this.bridge}p${i}`
    ip('netns', 'add', a.ns)
    ip('link', 'add', a.hostVeth, 'type', 'veth', 'peer', 'name', peer)
    ip('link', 'set', peer, 'netns', a.ns)
    ip('-n', a.ns, 'link', 'set', peer, 'name', 'eth0')
    ip('-n', a.ns, 'addr', 'add', `${a.ip}/24`, 'dev', 'eth0')
    ip('-n', a.ns, 'link', 'set', 'eth0', 'up')
    ip('-n', a.ns, 'link', 'set', 'lo', 'up')
    ip('link', 'set', a.hostVeth, 'master', this.bridge, 'up')
  }

  attachment (service: string): Attachment {
    const a = this.attachments.get(service)
    if (a === undefined) throw new Error(`no namespace for service ${service}`)
    return a
  }

  /**
   * Runs argv in the service's namespace, in a process group of its own,
   * with `mounts` (host file → path) bind-mounted read-only first, as Docker
   * mounts file secrets. `ip netns exec` runs its command in a mount
   * namespace of its own whose mounts do not propagate back (it makes / a
   * slave, to bind /etc/netns/NAME), so the mounts are seen by this process
   * tree only; /run is a fresh tmpfs there, as in a container.
   */
  spawn (service: string, argv: string[], env: Record<string, string>, mounts: Array<{ source: string, target: string }> = []): ChildProcess {
    const prefix = mounts.length === 0 ? [] : ['/bin/sh', '-c', MOUNT_SCRIPT, 'mount-secrets', ...mounts.flatMap((m) => [m.source, m.target]), '--']
    return spawn('ip', ['netns', 'exec', this.attachment(service).ns, ...prefix, ...argv], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  }

  /** Kills whatever still runs in the namespaces, then removes links, namespaces, hosts files and the bridge. */
  destroy (): void {
    if (this.destroyed) return
    this.destroyed = true
    for (const a of this.attachments.values()) {
      for (const pid of quiet(() => ip('netns', 'pids', a.ns)).split('\n').filter((p) => /^\d+$/.test(p))) {
        try {
          process.kill(Number(pid), 'SIGKILL')
        } catch {
          // It exited between the listing and the kill: gone is what was wanted.
        }
      }
      // Deleting the host end removes both ends at once (the namespace's
      // teardown would take its end only later).
      quiet(() => ip('link', 'del', a.hostVeth))
      quiet(() => ip('netns', 'del', a.ns))
      rmSync(`/etc/netns/${a.ns}`, { recursive: true, force: true })
    }
    quiet(() => ip('link', 'del', this.bridge))
    rmSync(this.record(), { force: true })
    live.delete(this)
  }

  /** What of this network still exists (empty once destroyed). */
  leftovers (): string[] {
    const namespaces = ip('netns', 'list')
    const links = ip('-o', 'link', 'show')
    const out: string[] = []
    for (const a of this.attachments.values()) {
      if (new RegExp(`^${a.ns}(\\s|$)`, 'm').test(namespaces)) out.push(`namespace ${a.ns}`)
      if (links.includes(` ${a.hostVeth}@`) || links.includes(` ${a.hostVeth}:`)) out.push(`link ${a.hostVeth}`)
      if (existsSync(`/etc/netns/${a.ns}`)) out.push(`/etc/netns/${a.ns}`)
    }
    if (links.includes(` ${this.bridge}:`)) out.push(`bridge ${this.bridge}`)
    return out
  }
}

/** Arguments: SOURCE TARGET pairs, then --, then the command. */
const MOUNT_SCRIPT = [
  'set -e',
  'mount -t tmpfs -o mode=0755,size=1m soclink-run /run',
  'while [ "$1" != -- ]; do',
  '  mkdir -p "$(dirname "$2")"; : > "$2"',
  '  mount --bind "$1" "$2"; mount -o remount,bind,ro "$2"',
  '  shift 2',
  'done',
  'shift',
  'exec "$@"'
].join('\n')

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function quiet (f: () => string): string {
  try { return f() } catch { return '' }
}

let watching = false
/** Tears down every live network on exit, and on SIGINT/SIGTERM before dying of the signal. */
function watchExit (): void {
  if (watching) return
  watching = true
  const sweep = (): void => { for (const n of [...live]) n.destroy() }
  process.on('exit', sweep)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      sweep()
      process.kill(process.pid, sig)
    })
  }
}
