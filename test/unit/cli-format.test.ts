// The CLI's pure formatting: hexdump in `hexdump -C` layout, hex and size
// parsing, tables.

import t from 'tap'
import { hexdump, parseHex, parseNumber, parseSize, table } from '../../client/src/cli/format.js'

t.test('hexdump matches hexdump -C', async (t) => {
  const bytes = Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x41, 0x42, 0x43, 0x7e, 0x7f, 0x20, 0x0a, 0x30, 0x31, 0x32, 0x33, 0x68, 0x69, 0x21, 0xff])
  t.equal(hexdump(bytes), [
    '00000000  de ad be ef 00 41 42 43  7e 7f 20 0a 30 31 32 33  |.....ABC~. .0123|',
    '00000010  68 69 21 ff                                       |hi!.|',
    '00000014'
  ].join('\n'))
  t.equal(hexdump(Uint8Array.from([1]), 0x10), '00000010  01                                                |.|\n00000011')
})

t.test('hex parsing', async (t) => {
  t.same([...parseHex('deadbeef')], [0xde, 0xad, 0xbe, 0xef])
  t.same([...parseHex('de ad be ef')], [0xde, 0xad, 0xbe, 0xef])
  t.same([...parseHex('0xC0FFEE')], [0xc0, 0xff, 0xee])
  t.throws(() => parseHex('abc'), /even number of hex digits/)
  t.throws(() => parseHex('zz'))
  t.throws(() => parseHex(''))
})

t.test('numbers and sizes', async (t) => {
  t.equal(parseNumber('0x10'), 16)
  t.equal(parseNumber('42'), 42)
  t.throws(() => parseNumber('-1'))
  t.throws(() => parseNumber('1e3'))
  t.equal(parseSize('64K'), 65536)
  t.equal(parseSize('0x1000'), 4096)
  t.equal(parseSize('1M'), 1048576)
  t.equal(parseSize('2G'), 2147483648)
  t.throws(() => parseSize('0'))
  t.throws(() => parseSize('12X'))
})

t.test('tables align their columns', async (t) => {
  t.equal(table(['name', 'state'], [['rc', 'up'], ['intruder', null]]), 'NAME      STATE\nrc        up\nintruder  -')
})
