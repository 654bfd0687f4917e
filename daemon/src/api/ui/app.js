// The live view: polls the JSON routes every second (counters have no
// events), follows GET /v1/events for the log and redraws at once on a link,
// peer or window event. Rates are the counters' change per second between
// two polls.

import { ApiError, followEvents, getJson, token } from './api.js'
import { fmt, h, renderDevices, renderPeers, renderRpmsg, renderTopology, renderVirtqueues } from './render.js'

const POLL_MS = 1000
const LOG_LINES = 500

const $ = (id) => document.getElementById(id)

// ---- rates: per key, the counters and time of the last poll
const lastCounters = new Map()
function rates (key, counters) {
  const now = performance.now()
  const before = lastCounters.get(key)
  lastCounters.set(key, { at: now, counters: { ...counters } })
  const out = {}
  for (const [k, v] of Object.entries(counters)) {
    out[k] = before === undefined || typeof v !== 'number' ? null : Math.max(0, (v - before.counters[k]) * 1000 / (now - before.at))
  }
  return out
}

// ---- token form
function askToken (why) {
  $('token-why').textContent = why
  $('token-form').hidden = false
  $('token-input').focus()
}
let events
$('token-form').addEventListener('submit', (e) => {
  e.preventDefault()
  token.set($('token-input').value.trim())
  $('token-input').value = ''
  $('token-form').hidden = true
  events.restart()
  void poll()
})
$('token-forget').addEventListener('click', () => { token.forget(); askToken('Token forgotten. Enter one to see the data.') })
$('token-button').addEventListener('click', () => { askToken('Enter a bearer token of this daemon (a read token is enough).') })

// ---- polling
/** An rpmsg route's body, or null with a note (no bus yet, no rpmsg on this role). */
async function optional (path) {
  try {
    return { body: await getJson(path) }
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return { body: null, note: err.message }
    throw err
  }
}

let polling = false
async function poll () {
  if (polling) return
  polling = true
  try {
    const [node, peers, devices, queues, channels, endpoints] = await Promise.all([
      getJson('/v1/node'), getJson('/v1/peers'), optional('/v1/devices'), optional('/v1/virtqueues'),
      optional('/v1/rpmsg/channels'), optional('/v1/rpmsg/endpoints')])
    $('self').replaceChildren(h('b', {}, node.name), ` ${node.role} · soclinkd ${node.version} · up ${uptime(node.uptimeSeconds)} · ${node.listen}`)
    document.title = `soclink ${node.name}`
    renderTopology(node, peers.peers)
    renderPeers(peers.peers, rates)
    renderDevices(devices.body?.devices ?? [])
    renderVirtqueues(queues.body?.virtqueues ?? [], rates)
    renderRpmsg(channels.body?.channels ?? [], endpoints.body?.endpoints ?? [], rates, endpoints.note)
    setPill('poll', 'live', `data: ${new Date().toLocaleTimeString('en-GB')}`)
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      setPill('poll', 'closed', 'data: token needed')
      if ($('token-form').hidden) askToken(token.get() === '' ? 'This daemon\'s API takes bearer tokens. Enter one (a read token is enough); it is kept in this tab\'s sessionStorage only.' : `The token was refused: ${err.message}`)
    } else if (err instanceof ApiError && err.status === 403) {
      setPill('poll', 'closed', 'data: forbidden')
      askToken(`This token may not read: ${err.message}`)
    } else {
      setPill('poll', 'closed', `data: ${err.message}`)
    }
  } finally {
    polling = false
  }
}

function uptime (s) {
  const d = Math.floor(s / 86400); const hh = Math.floor(s / 3600) % 24; const mm = Math.floor(s / 60) % 60
  return d > 0 ? `${d}d ${hh}h` : hh > 0 ? `${hh}h ${mm}m` : `${mm}m ${s % 60}s`
}

function setPill (id, state, text) {
  const el = $(id)
  el.dataset.state = state
  el.textContent = text
}

// ---- the event log: repeated doorbells fold into one line with a count
const log = $('log')
let lastLine = null
function describe (e) {
  switch (e.type) {
    case 'doorbell': return { key: `doorbell ${e.peer} ${e.target}`, text: `${e.peer} rang ${e.target} (value ${e.value})` }
    case 'link': return { text: `link to ${e.peer} ${e.state}${e.reason ? `: ${e.reason}` : ''}` }
    case 'peer': return { text: `peer ${e.peer} ${e.state}${e.error ? `: ${e.error}` : ''}` }
    case 'window': return { text: `window ${e.window} (${e.peer}) ${e.state}${e.error ? `: ${e.error}` : ''}` }
    case 'error': return { text: `${e.peer}: ${e.message}` }
    case 'stream': return { text: `event stream ${e.text}` }
    case 'lost': return { text: `${e.peer}: session lost ${fmt(e.frames)} frames, ${fmt(e.bytes)} bytes (${e.writes} writes): ${e.reason}` }
    default: return { text: JSON.stringify(e) }
  }
}
function addLog (e) {
  const { key, text } = describe(e)
  const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4
  if (key !== undefined && lastLine?.key === key) {
    lastLine.count++
    lastLine.countEl.textContent = ` ×${lastLine.count}`
    lastLine.timeEl.textContent = clock(e.time)
  } else {
    const timeEl = h('time', {}, clock(e.time))
    const countEl = h('span', { class: 'count' })
    log.append(h('li', { 'data-type': e.type }, timeEl, h('span', { class: 'type' }, e.type), h('span', { class: 'text' }, text), countEl))
    lastLine = { key, count: 1, countEl, timeEl }
    while (log.childElementCount > LOG_LINES) log.firstElementChild.remove()
  }
  if (atBottom) log.scrollTop = log.scrollHeight
}
const clock = (iso) => (iso ?? new Date().toISOString()).slice(11, 23)
$('log-clear').addEventListener('click', () => { log.replaceChildren(); lastLine = null })

events = followEvents((e) => {
  addLog(e)
  if (e.type === 'link' || e.type === 'peer' || e.type === 'window') void poll()
}, (state) => {
  setPill('stream', state, state === 'live' ? 'events: live' : 'events: reconnecting')
  addLog({ type: 'stream', time: new Date().toISOString(), text: state })
})

// A tab out of sight asks nothing (each poll is six requests in the daemon's log); it catches up when shown.
void poll()
setInterval(() => { if (!document.hidden) void poll() }, POLL_MS)
document.addEventListener('visibilitychange', () => { if (!document.hidden) void poll() })
