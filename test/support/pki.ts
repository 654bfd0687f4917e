// Certificate authorities and certificates made at run time with the openssl
// command (OpenSSL 1.1.1 or 3.x), in a temporary directory that remove()
// deletes. Leaf certificates are signed by `openssl ca`, which takes explicit
// validity dates (-startdate/-enddate): an expired certificate is one whose
// dates both lie in the past, with no clock tricks. P-256 keys: quick to make.

import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

async function openssl (cwd: string, ...args: string[]): Promise<string> {
  try {
    return (await run('openssl', args, { cwd })).stdout
  } catch (err) {
    const e = err as { stderr?: string, message: string }
    throw new Error(`openssl ${args[0] ?? ''} failed: ${e.stderr ?? e.message}`, { cause: err })
  }
}

/** A certificate and its key, as files. */
export interface Issued {
  cert: string
  key: string
}

export interface IssueOptions {
  /** Subject CN (default: the name issue() was given). */
  cn?: string
  /** DNS SANs; default [name, 'localhost'] (an IP SAN 127.0.0.1 is added unless ip is false). */
  dns?: string[]
  /** Add IP:127.0.0.1 (default true): daemons are dialed as wss://127.0.0.1:PORT. */
  ip?: boolean
  /** Validity as openssl ca dates (YYYYMMDDHHMMSSZ); default now to 30 days on. */
  startdate?: string
  enddate?: string
}

/** A certificate authority in a directory of its own. */
export class TestCa {
  readonly dir: string
  readonly cert: string
  readonly key: string
  private readonly label: string

  private constructor (dir: string, label: string) {
    this.dir = dir
    this.label = label
    this.cert = join(dir, 'ca.pem')
    this.key = join(dir, 'ca.key')
  }

  static async create (dir: string, label: string): Promise<TestCa> {
    const ca = new TestCa(dir, label)
    await openssl(dir, 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', ca.key)
    await openssl(dir, 'req', '-x509', '-new', '-key', ca.key, '-sha256', '-days', '30', '-subj', `/CN=${label}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', ca.cert)
    // openssl ca keeps a database of what it issued and the next serial number.
    await writeFile(join(dir, 'index.txt'), '')
    await writeFile(join(dir, 'serial'), '1000\n')
    await writeFile(join(dir, 'ca.cnf'), [
      '[ ca ]', 'default_ca = test_ca',
      '[ test_ca ]', 'database = index.txt', 'new_certs_dir = .', 'serial = serial', 'default_md = sha256',
      'policy = any', 'unique_subject = no', 'copy_extensions = none', 'default_days = 30',
      '[ any ]', 'commonName = supplied', ''
    ].join('\n'))
    return ca
  }

  /**
   * A certificate for `name` (file stem `file`, default name), usable as TLS
   * server and client (a daemon is both), signed by this CA; each has a new
   * serial number.
   */
  async issue (name: string, options: IssueOptions = {}, file = name): Promise<Issued> {
    const out: Issued = { cert: join(this.dir, `${file}.pem`), key: join(this.dir, `${file}.key`) }
    const csr = join(this.dir, `${file}.csr`)
    const ext = join(this.dir, `${file}.ext`)
    const sans = [...(options.dns ?? [name, 'localhost']).map((d) => `DNS:${d}`), ...(options.ip === false ? [] : ['IP:127.0.0.1'])]
    await writeFile(ext, [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth,clientAuth',
      ...(sans.length > 0 ? [`subjectAltName=${sans.join(',')}`] : []),
      ''
    ].join('\n'))
    await openssl(this.dir, 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', out.key)
    await openssl(this.dir, 'req', '-new', '-key', out.key, '-subj', `/CN=${options.cn ?? name}`, '-out', csr)
    const dates = [...(options.startdate !== undefined ? ['-startdate', options.startdate] : []), ...(options.enddate !== undefined ? ['-enddate', options.enddate] : [])]
    await openssl(this.dir, 'ca', '-batch', '-config', 'ca.cnf', '-cert', this.cert, '-keyfile', this.key, '-in', csr,
      '-extfile', ext, '-notext', ...dates, '-out', out.cert)
    return out
  }

  toString (): string { return this.label }
}

/** A scratch directory for CAs, removed by remove(). */
export class TestPki {
  readonly dir: string
  private n = 0

  private constructor (dir: string) { this.dir = dir }

  static async create (): Promise<TestPki> {
    return new TestPki(await mkdtemp(join(tmpdir(), 'soclink-pki-')))
  }

  /** A new CA, in a directory of its own under this one. */
  async ca (label: string): Promise<TestCa> {
    const dir = await mkdtemp(join(this.dir, `ca${this.n++}-`))
    return await TestCa.create(dir, label)
  }

  /** A file in the scratch directory (for garbage to reload, say). */
  path (name: string): string { return join(this.dir, name) }

  async remove (): Promise<void> {
    await rm(this.dir, { recursive: true, force: true })
  }
}
