// The CLI's pure formatting: hexdump in `hexdump -C` layout, hex, number,
// size and URL parsing, tables. Expected text written by hand from
// `hexdump -C` conventions.

import t from 'tap'
import { formatSize, hexdump, parseApiUrl, parseHex, parseNumber, parseSize, table } from '../../client/src/cli/format.js'

t.test('hexdump matches hexdump -C', async (t) => {
  const bytes = Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x41, 0x42, 0x43, 0x7e, 0x7f, 0x20, 0x0a, 0x30, 0x31, 0x32, 0x33, 0x68, 0x69, 0x21, 0xff])
  t.equal(hexdump(bytes),
    '00000000  de ad be ef 00 41 42 43  7e 7f 20 0a 30 31 32 33  |.....ABC~. .0123|\n' +
    '00000010  68 69 21 ff                                       |hi!.|\n' +
    '00000014')
  t.equal(hexdump(bytes.subarray(0, 9), 0x1000),
    '00001000  de ad be ef 00 41 42 43  7e                       |.....ABC~|\n' +
    '00001009', 'offsets start at the base; the ASCII column stays in place on a short line')
  t.equal(hexdump(Uint8Array.from([1]), 0x10), '00000010  01                                                |.|\n00000011')
  t.equal(hexdump(new Uint8Array(0)), '', 'nothing for no bytes, as hexdump -C')
})

t.test('hexdump collapses repeated lines to *', async (t) => {
  const zeros = '00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|'
  t.equal(hexdump(new Uint8Array(64)), `00000000  ${zeros}\n*\n00000040`)
  const bytes = new Uint8Array(56)
  bytes.set([0x61, 0x62], 32)
  t.equal(hexdump(bytes),
    `00000000  ${zeros}\n*\n` +
    '00000020  61 62 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |ab..............|\n' +
    '00000030  00 00 00 00 00 00 00 00                           |........|\n' +
    '00000038', 'a short last line is never collapsed')
})

t.test('hex parsing', async (t) => {
  t.same([...parseHex('deadbeef')], [0xde, 0xad, 0xbe, 0xef])
  t.same([...parseHex('de ad be ef')], [0xde, 0xad, 0xbe, 0xef])
  t.same([...parseHex('DE:AD:BE:EF')], [0xde, 0xad, 0xbe, 0xef])
  t.same([...parseHex('0xC0FFEE')], [0xc0, 0xff, 0xee])
  t.throws(() => parseHex('abc'), /odd number of hex digits/)
  t.throws(() => parseHex('de ad b'), /odd number of hex digits/)
  t.throws(() => parseHex('zz'), /not a hex digit: "z"/)
  t.throws(() => parseHex('0x0xde'), /not a hex digit/)
  t.throws(() => parseHex('-1'), /not a hex digit/)
  t.throws(() => parseHex(''), /no bytes/)
  t.throws(() => parseHex('0x'), /no bytes/)
})

t.test('numbers', async (t) => {
  t.equal(parseNumber('0x10'), 16)
  t.equal(parseNumber('0X1f'), 31)
  t.equal(parseNumber('42'), 42)
  t.equal(parseNumber('0'), 0)
  t.throws(() => parseNumber('-1', 'offset'), /offset "-1" is not a decimal or 0x hex integer/)
  t.throws(() => parseNumber('1e3'))
  t.throws(() => parseNumber('1.5'))
  t.throws(() => parseNumber(''))
  t.throws(() => parseNumber('9007199254740993'), /2\^53/)
})

t.test('sizes', async (t) => {
  t.equal(parseSize('4096'), 4096)
  t.equal(parseSize('0x1000'), 4096)
  t.equal(parseSize('64K'), 65536)
  t.equal(parseSize('64k'), 65536)
  t.equal(parseSize('64KiB'), 65536)
  t.equal(parseSize('1M'), 1048576)
  t.equal(parseSize('2G'), 2147483648)
  t.throws(() => parseSize('0'), /at least 1 byte/)
  t.throws(() => parseSize('12X'), /not like/)
  t.throws(() => parseSize('1.5M'), /not like/)
  t.throws(() => parseSize('K'), /not like/)
  t.equal(formatSize(65536), '64K')
  t.equal(formatSize(1048576), '1M')
  t.equal(formatSize(4097), '4097')
  t.equal(formatSize(0), '0')
  for (const n of [1, 4096, 65536, 1536, 3 * 1024 ** 3]) t.equal(parseSize(formatSize(n)), n, `${n} round-trips`)
})

t.test('API URLs', async (t) => {
  t.equal(parseApiUrl('http://127.0.0.1:7401/'), 'http://127.0.0.1:7401')
  t.equal(parseApiUrl('127.0.0.1:7401'), 'http://127.0.0.1:7401')
  t.equal(parseApiUrl('https://soc.example'), 'https://soc.example')
  t.throws(() => parseApiUrl('ws://127.0.0.1:7401'), /http/)
  t.throws(() => parseApiUrl('http://'), /not a URL/)
})

t.test('tables align their columns', async (t) => {
  t.equal(table(['name', 'state'], [['rc', 'up'], ['intruder', null]]),
    'NAME      STATE\n' +
    'rc        up\n' +
    'intruder  -')
  t.equal(table(['id', 'name', 'writes'], [[1, 'mem', 7], [12, 'scratchpad', 1024]]),
    'ID  NAME        WRITES\n' +
    ' 1  mem              7\n' +
    '12  scratchpad    1024', 'number columns are right-aligned, header included')
  t.equal(table(['name', 'error'], [['a', ''], ['b', 'refused']]),
    'NAME  ERROR\n' +
    'a     -\n' +
    'b     refused', 'empty cells show as -, no trailing spaces')
  t.equal(table(['name'], []), 'NAME')
})
