// The live view (GET /) in a real browser: Debian's headless Chromium driven
// by playwright-core opens the rc's page before the ep exists, sees the ep
// come up (the event stream and the poll), then sees the counters move as
// applications send rpmsg messages through both daemons' gateways while the
// page is open (the rc endpoint's sent count and its virtqueue's used index
// in the DOM). The ep's API takes tokens: its page asks for one, keeps it in
// sessionStorage, reads the JSON routes with it and follows the event
// stream with it as a subprotocol. A screenshot of the rc's page is taken
// into the test's directory; README's docs/live-view.png is made by
// SOCLINK_LIVE_VIEW_SCREENSHOT=docs/live-view.png npx tap test/e2e/live-view.test.ts
// (a test run does not rewrite a committed file).

import t from 'tap'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { RpmsgClient, type RpmsgChannelEvent } from '../../client/src/index.js'
import { startDaemon, until, within } from '../support/daemon.js'
import { ROOT } from '../support/repo.js'
import { scaled } from '../support/time.js'

const CHROMIUM = '/usr/bin/chromium'
const READ = 'live-view-read-0123456789abcdef0123456789'
const RPMSG = 'live-view-rpmsg-0123456789abcdef0123456789'

if (!existsSync(CHROMIUM)) {
  t.plan(0, `no ${CHROMIUM} (apt-get install chromium)`)
} else {
  const dir = mkdtempSync(join(tmpdir(), 'soclink-live-view-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const tokens = join(dir, 'tokens')
  writeFileSync(tokens, `read ${READ}\nrpmsg ${RPMSG}\n`)

  const rc = await startDaemon('rc', ['--role', 'rc'])
  t.teardown(async () => { await rc.stop() })
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    timeout: scaled(30_000)
  })
  t.teardown(async () => { await browser.close() })
  const errors: string[] = []
  const open = async (url: string): Promise<Page> => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } })
    page.setDefaultTimeout(scaled(20_000))
    page.on('pageerror', (err) => { errors.push(`${url}: ${err.message}`) })
    const res = await page.goto(url)
    if (res?.status() !== 200) throw new Error(`${url}: HTTP ${res?.status() ?? 'no answer'}, not the page`)
    return page
  }
  const text = async (page: Page, selector: string): Promise<string> => (await page.locator(selector).first().textContent()) ?? ''
  const number = async (page: Page, selector: string): Promise<number> => Number((await text(page, selector)).replace(/,/g, ''))

  t.test('the rc\'s page sees the ep come up', async (t) => {
    const page = await open(rc.api + '/')
    await page.locator('#stream[data-state="live"]').waitFor()
    await page.locator('#peers td.empty').waitFor()
    t.match(await text(page, '#self'), /^rc rc · soclinkd /, 'this daemon, its role and version')

    const ep = await startDaemon('ep', ['--role', 'ep', '--peer', rc.link, '--api-token-file', tokens])
    t.teardown(async () => { await ep.stop() })
    await page.locator('#peers tr[data-peer="ep"] td[data-field="state"]', { hasText: 'up' }).waitFor()
    await page.locator('#topology .link.ok[data-peer="ep"]').waitFor()
    await page.locator('#log li[data-type="link"]', { hasText: 'link to ep up' }).waitFor()
    t.pass('peer ep up in the table, the topology and the event log')
    await page.locator('#devices tr[data-device="virtio0"] .bit.ok', { hasText: 'DRIVER_OK' }).waitFor()
    t.match(await text(page, '#devices tr[data-device="virtio0"]'), /virtio_rpmsg_bus.*VERSION_1/, 'the device, its driver and negotiated features')

    // Applications on both sides: the ep announces a channel, the rc sends to it.
    const rcApp = await RpmsgClient.connect(rc.api)
    const epApp = await until('the ep\'s gateway', async () => await RpmsgClient.connect(ep.api, { token: RPMSG }).catch(() => undefined), 20_000)
    t.teardown(async () => { await rcApp.close(); await epApp.close() })
    const announced = within(new Promise<RpmsgChannelEvent>((resolve) => {
      rcApp.on('channel', (ev: RpmsgChannelEvent) => { if (ev.name === 'live-view' && ev.created) resolve(ev) })
    }), 'channel live-view', 30_000)
    const epEpt = await until('the ep\'s rpmsg bus', async () => await epApp.createEndpoint({ name: 'live-view', announce: true }).catch(() => undefined), 30_000)
    const rcEpt = await rcApp.createEndpoint({ name: 'live-view-sender' })
    const dst = (await announced).dst
    await page.locator('#channels .chip', { hasText: 'live-view' }).waitFor()

    const sentCell = `#endpoints tr[data-endpoint="${rcEpt.addr}"] td[data-key$=":sent"]`
    const usedCell = '#virtqueues tr[data-vq="virtio0/1"] td[data-key$=":used"]'
    await page.locator(sentCell).waitFor()
    const sentBefore = await number(page, sentCell)
    const usedBefore = await number(page, usedCell)
    const messages = epEpt[Symbol.asyncIterator]()
    const received = (async () => { let n = 0; while (n < 200 && (await messages.next()).done !== true) n++; return n })()
    for (let i = 0; i < 200; i++) await rcEpt.send(dst, Buffer.from(`message ${i}`))
    t.equal(await within(received, 'the 200 messages at the ep', 30_000), 200)
    await until('the sent count in the page', async () => await number(page, sentCell) >= sentBefore + 200, 20_000)
    t.equal(await number(page, sentCell), sentBefore + 200, 'the endpoint\'s sent count moved by 200 in the page')
    t.ok(await number(page, usedCell) !== usedBefore, 'the output virtqueue\'s used index moved')

    // A steady trickle while the screenshot is taken, so the rates show.
    let sending = true
    const trickle = (async () => { while (sending) { await rcEpt.send(dst, Buffer.from('tick')); await new Promise((resolve) => setTimeout(resolve, 5)) } })()
    const rateCell = `#endpoints tr[data-endpoint="${rcEpt.addr}"] td[data-key$=":sentrate"]`
    await until('a send rate in the page', async () => await number(page, rateCell) > 0, 20_000)
    const shot = await page.screenshot({ path: resolve(ROOT, process.env.SOCLINK_LIVE_VIEW_SCREENSHOT ?? join(dir, 'live-view.png')) })
    t.equal(shot.subarray(1, 4).toString(), 'PNG', 'a screenshot')
    t.same([shot.readUInt32BE(16), shot.readUInt32BE(20)], [1280, 720], 'of the whole view')
    sending = false
    await trickle

    // The ep's page: its API takes tokens.
    const epPage = await open(ep.api + '/')
    await epPage.locator('#token-form:not([hidden])').waitFor()
    t.equal(await epPage.locator('#peers tr[data-peer]').count(), 0, 'no data without a token')
    await epPage.fill('#token-input', READ)
    await epPage.click('#token-form button[type="submit"]')
    await epPage.locator('#peers tr[data-peer="rc"] td[data-field="state"]', { hasText: 'up' }).waitFor()
    await epPage.locator('#stream[data-state="live"]').waitFor()
    t.equal(await epPage.evaluate('sessionStorage.getItem("soclink.token")'), READ, 'the token is kept in sessionStorage')
    await epPage.reload()
    await epPage.locator('#stream[data-state="live"]').waitFor()
    await epPage.locator('#peers tr[data-peer="rc"]').waitFor()
    t.ok(await epPage.locator('#token-form').isHidden(), 'and used again after a reload, without asking')

    t.same(errors, [], 'no script errors in the pages')
  })
}
