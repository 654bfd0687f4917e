/* Protobuf encoding of ClientMessage and decoding of ServerMessage
 * (proto/rpmsg.proto), by hand: varints and length-delimited fields are all
 * the gateway protocol uses. */
#include "shim.h"
#include <stdlib.h>
#include <string.h>

void buf_free(struct buf *b) { free(b->p); b->p = NULL; b->len = b->cap = 0; }

static void need(struct buf *b, size_t n) {
  if (b->len + n <= b->cap) return;
  size_t cap = b->cap ? b->cap * 2 : 64;
  while (cap < b->len + n) cap *= 2;
  uint8_t *p = realloc(b->p, cap);
  if (!p) abort(); /* out of memory in a shim has no better answer */
  b->p = p; b->cap = cap;
}

static void raw_varint(struct buf *b, uint64_t v) {
  need(b, 10);
  while (v >= 0x80) { b->p[b->len++] = (uint8_t)(v | 0x80); v >>= 7; }
  b->p[b->len++] = (uint8_t)v;
}

void pb_varint(struct buf *b, unsigned field, uint64_t v) {
  if (v == 0) return; /* proto3: a zero is not written */
  raw_varint(b, (uint64_t)field << 3);
  raw_varint(b, v);
}

void pb_bytes(struct buf *b, unsigned field, const void *data, size_t n) {
  raw_varint(b, ((uint64_t)field << 3) | 2);
  raw_varint(b, n);
  need(b, n);
  if (n) memcpy(b->p + b->len, data, n);
  b->len += n;
}

void pb_str(struct buf *b, unsigned field, const char *s) {
  if (*s) pb_bytes(b, field, s, strlen(s));
}

struct field { unsigned no, type; uint64_t v; const uint8_t *p; size_t n; };

static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*p >= end) return -1;
    uint8_t c = *(*p)++;
    r |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) { *v = r; return 0; }
  }
  return -1;
}

/* The next field, or -1 at the end or on bad bytes. */
static int next(const uint8_t **p, const uint8_t *end, struct field *f) {
  uint64_t key;
  if (*p >= end || get_varint(p, end, &key)) return -1;
  f->no = (unsigned)(key >> 3); f->type = key & 7;
  switch (f->type) {
    case 0: return get_varint(p, end, &f->v);
    case 1: if (end - *p < 8) return -1; *p += 8; return 0;
    case 5: if (end - *p < 4) return -1; *p += 4; return 0;
    case 2:
      if (get_varint(p, end, &f->v) || f->v > (uint64_t)(end - *p)) return -1;
      f->p = *p; f->n = (size_t)f->v; *p += f->n; return 0;
    default: return -1;
  }
}

static void copy_str(char *dst, size_t cap, const struct field *f) {
  size_t n = f->n < cap - 1 ? f->n : cap - 1;
  memcpy(dst, f->p, n); dst[n] = 0;
}

void decode_channel_info(const uint8_t *p, size_t n, char *name, uint32_t *src, uint32_t *dst, char *driver) {
  const uint8_t *end = p + n; struct field f;
  name[0] = driver[0] = 0; *src = 0; *dst = 0;
  while (next(&p, end, &f) == 0) {
    if (f.no == 1 && f.type == 2) copy_str(name, NAME_SIZE, &f);
    else if (f.no == 2 && f.type == 0) *src = (uint32_t)f.v;
    else if (f.no == 3 && f.type == 0) *dst = (uint32_t)f.v;
    else if (f.no == 4 && f.type == 2) copy_str(driver, NAME_SIZE, &f);
  }
}

void decode_channel_list(const uint8_t *p, size_t n, void (*fn)(const char *, uint32_t, uint32_t, const char *)) {
  const uint8_t *end = p + n; struct field f;
  while (next(&p, end, &f) == 0) {
    if (f.no != 2 || f.type != 2) continue;
    char name[NAME_SIZE], driver[NAME_SIZE]; uint32_t src, dst;
    decode_channel_info(f.p, f.n, name, &src, &dst, driver);
    fn(name, src, dst, driver);
  }
}

/* Field numbers of each body, as proto/rpmsg.proto gives them. */
int decode_server(const uint8_t *p, size_t n, struct smsg *m) {
  memset(m, 0, sizeof *m);
  const uint8_t *end = p + n; struct field outer, f;
  if (next(&p, end, &outer) || outer.type != 2) return -1;
  m->kind = outer.no; m->body = outer.p; m->body_len = outer.n;
  const uint8_t *q = outer.p, *qend = outer.p + outer.n;
  while (next(&q, qend, &f) == 0) {
    uint32_t v = (uint32_t)f.v;
    switch (m->kind) {
      case S_CREATED: if (f.no == 1) m->request_id = v; else if (f.no == 2) m->addr = v; else if (f.no == 3) m->max_payload = v; break;
      case S_RECEIVED:
        if (f.no == 1) m->dst = v; else if (f.no == 2) m->src = v;
        else if (f.no == 3 && f.type == 2) { m->payload = f.p; m->payload_len = f.n; }
        break;
      case S_CHANNEL_EVENT:
        if (f.no == 1 && f.type == 2) copy_str(m->name, NAME_SIZE, &f);
        else if (f.no == 2) m->src = v; else if (f.no == 3) m->dst = v; else if (f.no == 4) m->created = v != 0;
        break;
      case S_BOUND: if (f.no == 1) m->addr = v; else if (f.no == 2) m->remote = v; break;
      case S_ERROR:
        if (f.no == 1) m->request_id = v; else if (f.no == 2 && f.type == 2) copy_str(m->code, sizeof m->code, &f);
        else if (f.no == 4) m->addr = v; else if (f.no == 5) m->send_seq = v;
        break;
      case S_SENT: if (f.no == 1) m->request_id = v; break;
      case S_STATE: if (f.no == 1) m->addr = v; else if (f.no == 2) m->state = v; else if (f.no == 4) m->max_payload = v; break;
      case S_MAX_PAYLOAD: if (f.no == 1) m->addr = v; else if (f.no == 2) m->max_payload = v; break;
      case S_CLAIMED:
        if (f.no == 1) m->request_id = v; else if (f.no == 2) m->addr = v; else if (f.no == 3) m->remote = v;
        else if (f.no == 4) m->max_payload = v; else if (f.no == 5 && f.type == 2) copy_str(m->name, NAME_SIZE, &f);
        break;
      case S_LIST: if (f.no == 1) m->request_id = v; break;
      case S_BINDING:
        if (f.no == 1 && f.type == 2) decode_channel_info(f.p, f.n, m->name, &m->src, &m->dst, m->driver);
        break;
      default: break;
    }
  }
  return 0;
}
