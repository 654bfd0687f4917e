// Bytes of regions and windows, as application/octet-stream. These routes
// live in their own context whose only body parser is octet-stream (up to
// MAX_TRANSFER), so a JSON or text body is a 415 and reaches no handler.
//
// Back-pressure: a write waits (up to linkWaitMs) for room in the replay
// buffer of every link it will travel on (link/credit.ts), then is made;
// past the wait it is answered 503 ERR_LINK_FULL with Retry-After, and
// nothing was written. A non-posted read the owner answers RETRY (its
// completion would not fit in the owner's replay buffer now) is asked again,
// with backoff, for as long; then 503 ERR_LINK_FULL with Retry-After. A write the link took is noted (PeerLink.noteWrite):
// if its session ends before the peer acknowledged it, it is counted lost
// (peer counter lostWrites), logged and reported on the event stream.

import type { FastifyInstance, FastifyReply } from 'fastify'
import type { SoclinkNode } from '../../node.js'
import type { PeerLink } from '../../link/peer-link.js'
import { LinkFullError, OutOfRangeError } from '../../errors.js'
import type { Window } from '../../mem/window.js'
import { setTimeout as sleep } from 'node:timers/promises'
import { MAX_READ } from '../../mem/completer.js'
import { ValidationError } from '../errors.js'
import { parseNumber, parseOptionalNumber } from '../numbers.js'
import { errorReplies, fields, numericId, queryNumber } from '../schemas.js'
import { WriteResultSchema } from '../../../../proto/api/index.js'

/** Largest read or write in one request: the link's non-posted read limit. */
export const MAX_TRANSFER = MAX_READ

interface ReadQuery { offset: string, length: string }
interface WriteQuery { offset: string, length?: string }
interface WindowReadQuery extends ReadQuery { uncached?: 'true' | 'false' }

const readQuery = {
  offset: queryNumber('first byte'),
  length: queryNumber(`bytes to read, at most ${MAX_TRANSFER}`)
}
const writeQuery = fields({
  offset: queryNumber('first byte'),
  length: queryNumber('if given, must equal the body\'s length')
}, ['offset'])

const bytesReply = {
  description: 'the bytes',
  content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } }
}
const bytesBody = {
  content: { 'application/octet-stream': { schema: { description: 'the bytes to write' } } }
}
const writeReply = WriteResultSchema

const regionParams = fields({ id: { type: 'string', minLength: 1, description: 'the region\'s id or name' } })
const windowParams = fields({ id: numericId })

function readRange (q: ReadQuery): { offset: number, length: number } {
  const offset = parseNumber('offset', q.offset)
  const length = parseNumber('length', q.length)
  if (length > MAX_TRANSFER) throw new OutOfRangeError(`length ${length} is above the ${MAX_TRANSFER}-byte limit of one read`)
  return { offset, length }
}

/** The offset and the body of a write, checked against each other before anything is written. */
function writeRequest (q: WriteQuery, body: unknown): { offset: number, data: Buffer } {
  const offset = parseNumber('offset', q.offset)
  if (!Buffer.isBuffer(body) || body.length === 0) throw new ValidationError('body must hold the bytes to write (application/octet-stream)')
  const length = parseOptionalNumber('length', q.length)
  if (length !== undefined && length !== body.length) throw new ValidationError(`querystring/length is ${length} but the body holds ${body.length} bytes`)
  return { offset, data: body }
}

/** Waits for room for `bytes` in each link, in turn (LinkFullError past the node's linkWaitMs). */
async function roomIn (node: SoclinkNode, links: PeerLink[], bytes: number): Promise<void> {
  for (const l of links) await l.waitForRoom(bytes, node.settings.linkWaitMs)
}

/** The links a write to `region` travels on: those of its replica subscribers. */
function subscriberLinks (node: SoclinkNode, region: ReturnType<SoclinkNode['regions']['get']>): PeerLink[] {
  const out = new Set<PeerLink>()
  for (const s of node.completer.subscribers(region)) {
    const l = s.replica ? node.links.get(s.peer) : undefined
    if (l !== undefined && l.state !== 'down') out.add(l)
  }
  return [...out]
}

/** A non-posted read, asked again while the owner answers RETRY, up to the node's linkWaitMs. */
async function readThrough (node: SoclinkNode, w: Window, offset: number, length: number): Promise<Uint8Array> {
  const deadline = Date.now() + node.settings.linkWaitMs
  for (let delay = 10; ; delay = Math.min(delay * 2, 500)) {
    try {
      return await node.requester.readRemote(w, offset, length)
    } catch (err) {
      if (!(err instanceof LinkFullError) || Date.now() + delay > deadline) throw err
    }
    await sleep(delay)
  }
}

function sendBytes (reply: FastifyReply, bytes: Uint8Array): Buffer {
  reply.type('application/octet-stream')
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

export async function memoryRoutes (app: FastifyInstance, node: SoclinkNode): Promise<void> {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: MAX_TRANSFER }, (_request, body, done) => { done(null, body) })

  app.get<{ Params: { id: string }, Querystring: ReadQuery }>('/v1/regions/:id/memory', {
    schema: {
      summary: 'Read bytes of a region',
      tags: ['regions'],
      params: regionParams,
      querystring: fields(readQuery),
      response: { 200: bytesReply, ...errorReplies(400, 404) }
    }
  }, async (request, reply) => {
    const { offset, length } = readRange(request.query)
    return sendBytes(reply, node.regions.get(request.params.id).read(offset, length))
  })

  app.put<{ Params: { id: string }, Querystring: WriteQuery }>('/v1/regions/:id/memory', {
    schema: {
      summary: 'Write bytes into a region; subscribed windows receive the write',
      tags: ['regions'],
      params: regionParams,
      querystring: writeQuery,
      body: bytesBody,
      response: { 200: writeReply, ...errorReplies(400, 404, 413, 415, 503) }
    }
  }, async (request) => {
    const { offset, data } = writeRequest(request.query, request.body)
    const region = node.regions.get(request.params.id)
    const links = subscriberLinks(node, region)
    await roomIn(node, links, data.length)
    region.write(offset, data)
    for (const l of links) l.noteWrite(data.length)
    return { offset, length: data.length }
  })

  app.get<{ Params: { id: string }, Querystring: WindowReadQuery }>('/v1/windows/:id/memory', {
    schema: {
      summary: 'Read bytes through a window',
      description: 'From the local replica, or, with uncached=true or on a window that keeps no replica, ' +
        'by a non-posted read answered by the owner.',
      tags: ['windows'],
      params: windowParams,
      querystring: fields({ ...readQuery, uncached: { type: 'string', enum: ['true', 'false'] } }, ['offset', 'length']),
      response: { 200: bytesReply, ...errorReplies(400, 404, 503, 504) }
    }
  }, async (request, reply) => {
    const { offset, length } = readRange(request.query)
    const w = node.requester.get(parseNumber('window id', request.params.id))
    const remote = request.query.uncached === 'true' || !w.spec.replica
    const bytes = remote ? await readThrough(node, w, offset, length) : w.read(offset, length)
    return sendBytes(reply, bytes)
  })

  app.put<{ Params: { id: string }, Querystring: WriteQuery }>('/v1/windows/:id/memory', {
    schema: {
      summary: 'Write bytes through a window (posted: the owner orders it)',
      tags: ['windows'],
      params: windowParams,
      querystring: writeQuery,
      body: bytesBody,
      response: { 200: writeReply, ...errorReplies(400, 404, 413, 415, 503) }
    }
  }, async (request) => {
    const { offset, data } = writeRequest(request.query, request.body)
    const w = node.requester.get(parseNumber('window id', request.params.id))
    const link = w.link === null ? undefined : node.links.get(w.spec.peer)
    if (link !== undefined) await roomIn(node, [link], data.length)
    w.write(offset, data)
    link?.noteWrite(data.length)
    return { offset, length: data.length }
  })
}
