// Bytes of regions and windows, as application/octet-stream. These routes
// live in their own context whose only body parser is octet-stream (up to
// MAX_TRANSFER), so a JSON or text body is a 415 and reaches no handler.

import type { FastifyInstance, FastifyReply } from 'fastify'
import type { SoclinkNode } from '../../node.js'
import { OutOfRangeError } from '../../errors.js'
import { MAX_READ } from '../../mem/completer.js'
import { ValidationError } from '../errors.js'
import { parseNumber, parseOptionalNumber } from '../numbers.js'
import { errorReplies, fields, numericId, queryNumber, record } from '../schemas.js'

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
const writeReply = record({ offset: { type: 'integer' }, length: { type: 'integer' } })

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
      response: { 200: writeReply, ...errorReplies(400, 404, 413, 415) }
    }
  }, async (request) => {
    const { offset, data } = writeRequest(request.query, request.body)
    node.regions.get(request.params.id).write(offset, data)
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
    const bytes = remote ? await node.requester.readRemote(w, offset, length) : w.read(offset, length)
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
    node.requester.get(parseNumber('window id', request.params.id)).write(offset, data)
    return { offset, length: data.length }
  })
}
