// Drawing the view: each section's rows from the routes' JSON. Text goes in
// with textContent only (peer, channel and client names come from other
// machines). A number that changed since the last draw is marked
// "changed" for a moment (style.css).

/** An element: h('td', { class: 'n' }, 'text', child...). */
export function h (tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith('data-')) el.setAttribute(k, String(v))
    else if (k === 'class') el.className = v
    else el.setAttribute(k, String(v))
  }
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c ?? '')))
  return el
}

const previous = new Map()

/** A numeric cell, keyed so a change since the last draw is marked. */
function num (key, value, text = fmt(value)) {
  const el = h('td', { class: 'n', 'data-key': key }, text)
  const before = previous.get(key)
  if (before !== undefined && before !== value) el.classList.add('changed')
  previous.set(key, value)
  return el
}

export function fmt (v, digits = 0) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–'
  return Number(v).toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

function fill (tableId, rows, empty) {
  const body = document.querySelector(`#${tableId} tbody`)
  const cols = document.querySelectorAll(`#${tableId} thead th`).length
  body.replaceChildren(...(rows.length > 0 ? rows : [h('tr', {}, h('td', { class: 'empty', colspan: cols }, empty))]))
}

const stateClass = (state) => state === 'up' || state === 'open' || state === 'ready' ? 'ok'
  : state === 'down' || state === 'failed' || state === 'closed' ? 'bad' : 'warn'

export function renderTopology (node, peers) {
  const self = h('div', { class: 'node self-node' }, h('b', {}, node.name), h('span', { class: 'role' }, node.role))
  const links = peers.map((p) => h('div', { class: `link ${stateClass(p.state)}`, 'data-peer': p.name },
    h('div', { class: 'wire' }, h('span', { class: 'rtt' }, p.state === 'up' && p.rttMs !== null ? `${fmt(p.rttMs, 2)} ms` : p.state)),
    h('div', { class: 'node' }, h('b', {}, p.name), h('span', { class: 'role' }, p.role ?? '?'))))
  document.getElementById('topology').replaceChildren(self, ...(links.length > 0 ? links : [h('span', { class: 'empty' }, 'no peers')]))
}

export function renderPeers (peers, rates) {
  fill('peers', peers.map((p) => {
    const r = rates(`peer:${p.name}`, p.counters)
    return h('tr', { 'data-peer': p.name },
      h('td', {}, p.name), h('td', {}, p.role ?? '?'), h('td', {}, p.direction),
      h('td', { class: `state ${stateClass(p.state)}`, 'data-field': 'state' }, p.state),
      num(`peer:${p.name}:rtt`, p.rttMs, fmt(p.rttMs, 2)),
      num(`peer:${p.name}:fin`, r.framesIn, fmt(r.framesIn)), num(`peer:${p.name}:fout`, r.framesOut, fmt(r.framesOut)),
      num(`peer:${p.name}:bin`, r.bytesIn, fmt(r.bytesIn / 1024, 1)), num(`peer:${p.name}:bout`, r.bytesOut, fmt(r.bytesOut / 1024, 1)),
      num(`peer:${p.name}:sessions`, p.counters.sessions), num(`peer:${p.name}:resumes`, p.counters.resumes),
      num(`peer:${p.name}:unacked`, p.unacked), h('td', { class: 'error' }, p.lastError))
  }), 'no peers yet')
}

// virtio 1.2 §6 (include/uapi/linux/virtio_config.h, virtio_ring.h) and the
// rpmsg device's own bits (drivers/rpmsg/virtio_rpmsg_bus.c; F_AS and F_BUFSZ are this project's).
const TRANSPORT_BITS = { 24: 'NOTIFY_ON_EMPTY', 27: 'ANY_LAYOUT', 28: 'INDIRECT_DESC', 29: 'EVENT_IDX', 32: 'VERSION_1', 33: 'ACCESS_PLATFORM', 34: 'RING_PACKED', 35: 'IN_ORDER', 36: 'ORDER_PLATFORM' }
const DEVICE_BITS = { 7: { 0: 'NS', 1: 'AS', 2: 'BUFSZ' } }

/** The names of the bits set in a feature word ("0x120000003"). */
export function featureNames (hex, deviceId) {
  if (typeof hex !== 'string' || hex === '') return []
  const word = BigInt(hex)
  const names = []
  for (let bit = 0; bit < 64; bit++) {
    if ((word >> BigInt(bit) & 1n) === 0n) continue
    names.push(bit < 24 ? DEVICE_BITS[deviceId]?.[bit] ?? `bit ${bit}` : TRANSPORT_BITS[bit] ?? `bit ${bit}`)
  }
  return names
}

const STATUS_ORDER = ['ACKNOWLEDGE', 'DRIVER', 'FEATURES_OK', 'DRIVER_OK', 'DEVICE_NEEDS_RESET', 'FAILED']

export function renderDevices (devices) {
  fill('devices', devices.map((d) => {
    const bits = new Set(d.statusBits)
    const status = h('td', { class: 'bits', 'data-field': 'status' }, ...STATUS_ORDER.map((b) =>
      h('span', { class: `bit ${bits.has(b) ? (b === 'FAILED' || b === 'DEVICE_NEEDS_RESET' ? 'bad' : 'ok') : 'off'}` }, b.replace('DEVICE_', ''))))
    const features = h('td', { class: 'bits', title: `device ${d.deviceFeatures} · driver ${d.driverFeatures}` },
      ...featureNames(d.driverFeatures, d.deviceId).map((f) => h('span', { class: 'bit feature' }, f)),
      h('span', { class: 'hex' }, d.driverFeatures || '–'))
    return h('tr', { 'data-device': d.name },
      h('td', {}, d.name, d.lastError ? h('div', { class: 'error' }, d.lastError) : ''), h('td', {}, d.side), h('td', {}, d.peer ?? ''),
      h('td', {}, d.driver ?? '–'), status, features)
  }), 'no virtio devices')
}

export function renderVirtqueues (queues, rates) {
  fill('virtqueues', queues.map((q) => {
    const key = `vq:${q.device}:${q.index}`
    const r = rates(key, q.counters)
    const inFlight = q.availIdx === null || q.usedIdx === null ? null : (q.availIdx - q.usedIdx + 65536) % 65536
    return h('tr', { 'data-vq': `${q.device}/${q.index}` },
      h('td', {}, `${q.device}/${q.index} `, h('span', { class: 'dim' }, `${q.name ?? ''} · ${q.layout}`)),
      h('td', { class: 'n' }, fmt(q.size)),
      num(`${key}:avail`, q.availIdx), num(`${key}:used`, q.usedIdx), num(`${key}:inflight`, inFlight),
      num(`${key}:buffers`, q.counters.buffers), num(`${key}:bufrate`, r.buffers, fmt(r.buffers)),
      num(`${key}:kicks`, q.counters.kicks), num(`${key}:irqs`, q.counters.interrupts),
      num(`${key}:errors`, q.counters.errors))
  }), 'no virtqueues')
}

export function renderRpmsg (channels, endpoints, rates, note) {
  const chips = channels.map((c) => h('span', { class: 'chip', title: JSON.stringify(c) }, c.name ?? c.channel ?? '?', h('span', { class: 'dim' }, ` ${c.src ?? ''}→${c.dst ?? ''}`)))
  document.getElementById('channels').replaceChildren(h('span', { class: 'label' }, 'channels'), ...(chips.length > 0 ? chips : [h('span', { class: 'empty' }, note ?? 'none')]))
  fill('endpoints', endpoints.map((e) => {
    const key = `ept:${e.device}:${e.addr}`
    const r = rates(key, e.counters)
    return h('tr', { 'data-endpoint': e.addr },
      h('td', { class: 'n' }, e.addr), h('td', {}, e.device), h('td', {}, e.channel ?? e.service ?? ''),
      h('td', { title: e.client ?? '' }, e.owner),
      num(`${key}:sent`, e.counters.sent), num(`${key}:sentrate`, r.sent, fmt(r.sent)),
      num(`${key}:received`, e.counters.received), num(`${key}:recvrate`, r.received, fmt(r.received)),
      num(`${key}:dropped`, e.counters.dropped))
  }), note ?? 'no endpoints')
}
