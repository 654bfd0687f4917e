// The Wireshark dissector (proto/wireshark/soclink.lua) decodes protobuf by
// hand from a table of link.proto's messages: this checks that table
// against link.proto itself, so that a frame type, field or enum value added
// to the protocol and not to the dissector fails here. (proto/rpmsg.proto
// is the gateway's protocol between an application and its daemon; it never
// crosses a link, so the dissector has nothing of it to decode.)

import t from 'tap'
import { readFileSync } from 'node:fs'

const root = new URL('../../', import.meta.url)
const proto = readFileSync(new URL('proto/link.proto', root), 'utf8').replace(/\/\/.*$/gm, '')
const lua = readFileSync(new URL('proto/wireshark/soclink.lua', root), 'utf8')

interface Field { name: string, type: string, number: number, repeated: boolean }

/** link.proto's messages (nested ones by their own name) and enums (nested ones as Outer.Inner). */
function parseProto (text: string): { messages: Map<string, Field[]>, enums: Map<string, Map<number, string>> } {
  const messages = new Map<string, Field[]>()
  const enums = new Map<string, Map<number, string>>()
  const stack: Array<{ kind: 'message' | 'enum' | 'oneof', name: string }> = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    let m: RegExpExecArray | null
    if ((m = /^(message|enum|oneof)\s+(\w+)\s*\{/.exec(line)) !== null) {
      const kind = m[1] as 'message' | 'enum' | 'oneof'
      const outer = stack.filter((s) => s.kind === 'message').map((s) => s.name)
      if (kind === 'message') messages.set(m[2]!, [])
      if (kind === 'enum') enums.set([...outer, m[2]!].join('.'), new Map())
      stack.push({ kind, name: m[2]! })
      continue
    }
    if (line.startsWith('}')) { stack.pop(); continue }
    const top = stack[stack.length - 1]
    if (top === undefined) continue
    if (top.kind === 'enum' && (m = /^(\w+)\s*=\s*(\d+)\s*;/.exec(line)) !== null) {
      const outer = stack.filter((s) => s.kind === 'message').map((s) => s.name)
      enums.get([...outer, top.name].join('.'))!.set(Number(m[2]), m[1]!)
    } else if (top.kind !== 'enum' && (m = /^(repeated\s+)?([\w.]+)\s+(\w+)\s*=\s*(\d+)\s*;/.exec(line)) !== null) {
      const message = top.kind === 'oneof' ? stack[stack.length - 2]!.name : top.name
      messages.get(message)!.push({ repeated: m[1] !== undefined, type: m[2]!, name: m[3]!, number: Number(m[4]) })
    }
  }
  return { messages, enums }
}

/** The body of a `Name = { ... },` table entry of the Lua file (top level of MESSAGES or ENUMS). */
function luaTable (name: string): string | null {
  const key = name.includes('.') ? `\\["${name.replace('.', '\\.')}"\\]` : name
  const multi = new RegExp(`^  ${key} = \\{\\n([\\s\\S]*?)^  \\},?$`, 'm').exec(lua)
  const single = new RegExp(`^  ${key} = \\{(.*)\\},?$`, 'm').exec(lua)
  return (multi ?? single)?.[1] ?? null
}

const { messages, enums } = parseProto(proto)

t.test('link.proto parses into its messages and enums', async (t) => {
  t.ok(messages.size >= 20, `${messages.size} messages`)
  t.same(messages.get('Frame')!.filter((f) => f.number >= 10).length, 18, 'Frame\'s oneof body has 18 frame types')
  t.ok(enums.has('Goodbye.Code') && enums.has('ErrorReport.Request'), 'nested enums')
})

t.test('the dissector names every message and field of link.proto, with its number and type', async (t) => {
  const enumNames = new Set(enums.keys())
  for (const [message, fields] of messages) {
    const body = luaTable(message)
    if (body === null) { t.fail(`soclink.lua has no MESSAGES.${message}`); continue }
    const entries = [...body.matchAll(/\[(\d+)\] = \{ "(\w+)", "([\w.]+)"(, true)? \}/g)]
    t.equal(entries.length, fields.length, `${message}: as many fields in the dissector as in link.proto`)
    for (const f of fields) {
      // A nested enum is named Outer.Inner in the dissector.
      const type = enumNames.has(`${message}.${f.type}`) ? `${message}.${f.type}` : f.type
      const e = entries.find((x) => Number(x[1]) === f.number)
      t.ok(e !== undefined, `${message}.${f.name} = ${f.number} is in the dissector`)
      if (e === undefined) continue
      t.same([e[2], e[3], e[4] !== undefined], [f.name, type, f.repeated], `${message}.${f.name}: name, type, repeated`)
    }
  }
})

t.test('the dissector names every enum value of link.proto', async (t) => {
  for (const [name, values] of enums) {
    const body = luaTable(name)
    if (body === null) { t.fail(`soclink.lua has no ENUMS entry for ${name}`); continue }
    const entries = new Map([...body.matchAll(/\[(\d+)\] = "(\w+)"/g)].map((m) => [Number(m[1]), m[2]!]))
    t.same(Object.fromEntries(entries), Object.fromEntries(values), `${name}: every value, by number`)
  }
})
