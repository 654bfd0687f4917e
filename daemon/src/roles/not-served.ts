// The routes of every role, by path, and what a daemon of another role
// answers to them: a 404 that says what this daemon is, as each route said
// when every daemon registered every route. A role registers only its own
// routes (its plugin), so the API's not-found handler asks the role
// (RoleApi.notServed) before answering "no route".

import { NotFoundError, type SoclinkError } from '../errors.js'
import { NotThisRoleError } from '../api/errors.js'
import { NotNtbError } from './ntb-views.js'

const HOSTS = ['ntb-virtio', 'ntb-vhost']

interface RouteFamily {
  /** Paths that start one of these segments (the path itself, or it and a further segment). */
  paths: readonly string[]
  /** The roles that register the family. */
  servedBy: readonly string[]
  error: (role: string, name: string) => SoclinkError
}

/** In order: the first family whose path matches decides. */
const FAMILIES: readonly RouteFamily[] = [
  { paths: ['/v1/pci-ep'], servedBy: ['ep'], error: (role) => new NotThisRoleError('endpoint', role) },
  { paths: ['/v1/pci'], servedBy: ['rc'], error: (role) => new NotThisRoleError('root complex', role) },
  { paths: ['/v1/vhost'], servedBy: ['ep', 'ntb-vhost'], error: (_role, name) => new NotFoundError('vhost configfs (no vhost side) on', name) },
  { paths: ['/v1/ntb/pairs'], servedBy: ['ntb'], error: (role) => new NotNtbError('board', role) },
  { paths: ['/v1/ntb/link', '/v1/ntb/db', '/v1/ntb/peer-db', '/v1/ntb/spad', '/v1/ntb/peer-spad', '/v1/ntb/mw', '/v1/ntb/perf'], servedBy: HOSTS, error: (role) => new NotNtbError('host', role) },
  { paths: ['/v1/ntb'], servedBy: ['ntb', ...HOSTS], error: (role) => new NotNtbError('board or host', role) },
  // The rpmsg routes are the node's (api/), registered where it runs rpmsg: every role but the board.
  { paths: ['/v1/rpmsg'], servedBy: ['rc', 'ep', ...HOSTS], error: (_role, name) => new NotFoundError('rpmsg bus on', name) }
]

const under = (path: string, p: string): boolean => path === p || path.startsWith(`${p}/`)

/** What a daemon in `role`, named `name`, answers to `url` that no route of its own serves; null: no role serves it. */
export function notServed (role: string, name: string, url: string): SoclinkError | null {
  const path = url.split('?')[0]!.replace(/\/+$/, '')
  const family = FAMILIES.find((f) => f.paths.some((p) => under(path, p)))
  if (family === undefined || family.servedBy.includes(role)) return null
  return family.error(role, name)
}
