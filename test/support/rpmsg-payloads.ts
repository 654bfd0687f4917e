// What the in-process rpmsg integration tests share: messages whose bytes
// say which direction and which one they are, so the far side can check
// each arrives whole, once and in order.

/** Message i of direction dir: a readable head, then (i * 7) % 400 bytes that follow from i. */
export function seqPayload (dir: string, i: number): Uint8Array {
  const head = Buffer.from(`${dir}-${i}:`)
  const out = new Uint8Array(head.length + (i * 7) % 400)
  out.set(head)
  for (let k = head.length; k < out.length; k++) out[k] = (i * 31 + k) & 0xff
  return out
}
