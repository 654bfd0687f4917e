/* The connection to `soclink run` (proto/rpmsg.proto, "Local framing"):
 * a Unix stream socket named by SOCLINK_RPMSG_SOCKET carrying gateway
 * version 1 messages, each after its u32 little-endian length. A relay
 * thread reads it: answers wake the caller that waits for them, received
 * messages go to their endpoint's socket (dev.c). */
#include "shim.h"
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>

struct real_fns real;
pthread_mutex_t G_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t G_cv = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t send_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t init_mu = PTHREAD_MUTEX_INITIALIZER;

static int sock = -1, wakefd = -1, broken;
static pid_t owner;
static uint32_t next_id = 1;
static char root[512];

#define WAITERS 64
static struct waiter { int used, done; uint32_t id; struct answer a; } waiters[WAITERS];

#define LOAD(f, name) real.f = dlsym(RTLD_NEXT, name)
void shim_real_init(void) {
  if (real.read) return;
  LOAD(open, "open"); LOAD(openat, "openat"); LOAD(close, "close");
  LOAD(write, "write"); LOAD(ioctl, "ioctl"); LOAD(poll, "poll"); LOAD(ppoll, "ppoll");
  LOAD(fopen, "fopen"); LOAD(opendir, "opendir"); LOAD(stat, "stat"); LOAD(lstat, "lstat");
  LOAD(fstatat, "fstatat"); LOAD(xstat, "__xstat"); LOAD(lxstat, "__lxstat"); LOAD(fxstatat, "__fxstatat");
  LOAD(statx, "statx"); LOAD(access, "access"); LOAD(faccessat, "faccessat");
  LOAD(readlink, "readlink"); LOAD(realpath, "realpath");
  LOAD(read, "read");
}

const char *tree_root(void) { return root; }

uint32_t conn_next_id(void) {
  pthread_mutex_lock(&G_mu);
  uint32_t id = next_id++;
  if (next_id == 0) next_id = 1;
  pthread_mutex_unlock(&G_mu);
  return id;
}

int errno_of(const char *code) {
  static const struct { const char *code; int err; } map[] = {
    { "ERR_RPMSG_SIZE", EMSGSIZE }, { "ERR_RPMSG_NO_BUFFER", EAGAIN }, { "ERR_RPMSG_TIMEOUT", ETIMEDOUT },
    { "ERR_RPMSG_DETACHED", EPIPE }, { "ERR_NOT_FOUND", ENODEV }, { "ERR_BUSY", EBUSY },
    { "ERR_CONFLICT", EBUSY }, { "ERR_RPMSG_LIMIT", ENOSPC }, { "ERR_RPMSG_ADDR", EADDRINUSE },
    { "ERR_CLOSED", EPIPE },
  };
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) if (!strcmp(code, map[i].code)) return map[i].err;
  return EIO;
}

static int send_frame(struct buf *msg) {
  uint8_t len[4] = { (uint8_t)msg->len, (uint8_t)(msg->len >> 8), (uint8_t)(msg->len >> 16), (uint8_t)(msg->len >> 24) };
  pthread_mutex_lock(&send_mu);
  int rc = 0;
  const uint8_t *parts[2] = { len, msg->p }; size_t sizes[2] = { 4, msg->len };
  for (int i = 0; i < 2 && rc == 0; i++) {
    size_t off = 0;
    while (off < sizes[i]) {
      ssize_t w = send(sock, parts[i] + off, sizes[i] - off, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) { rc = -1; errno = EPIPE; break; }
      off += (size_t)w;
    }
  }
  pthread_mutex_unlock(&send_mu);
  return rc;
}

int conn_post(struct buf *msg) { return send_frame(msg); }

int conn_call(struct buf *msg, uint32_t id, struct answer *a) {
  pthread_mutex_lock(&G_mu);
  struct waiter *w = NULL;
  while (!w && !broken) {
    for (int i = 0; i < WAITERS; i++) if (!waiters[i].used) { w = &waiters[i]; break; }
    if (!w) pthread_cond_wait(&G_cv, &G_mu);
  }
  if (broken) { pthread_mutex_unlock(&G_mu); errno = EPIPE; return -1; }
  w->used = 1; w->done = 0; w->id = id;
  pthread_mutex_unlock(&G_mu);
  int rc = send_frame(msg);
  pthread_mutex_lock(&G_mu);
  while (rc == 0 && !w->done && !broken) pthread_cond_wait(&G_cv, &G_mu);
  if (rc == 0 && !w->done) { rc = -1; errno = EPIPE; }
  if (rc == 0) *a = w->a;
  w->used = 0;
  pthread_cond_broadcast(&G_cv);
  pthread_mutex_unlock(&G_mu);
  return rc;
}

void conn_wake(void) {
  uint64_t one = 1;
  if (wakefd >= 0 && real.write(wakefd, &one, sizeof one) < 0) { /* full counter: a wake is pending anyway */ }
}

/* Answers go to their waiter; everything else (and ChannelList too) to dev.c. */
static void dispatch(const uint8_t *p, size_t n) {
  struct smsg m;
  if (decode_server(p, n, &m)) return;
  pthread_mutex_lock(&G_mu);
  dev_on_message(&m);
  int answer = m.request_id != 0 && (m.kind == S_CREATED || m.kind == S_ERROR || m.kind == S_SENT || m.kind == S_CLAIMED || m.kind == S_LIST);
  if (answer) {
    for (int i = 0; i < WAITERS; i++) {
      struct waiter *w = &waiters[i];
      if (!w->used || w->done || w->id != m.request_id) continue;
      w->done = 1; w->a.kind = m.kind; w->a.addr = m.addr; w->a.remote = m.remote; w->a.max_payload = m.max_payload;
      memcpy(w->a.code, m.code, sizeof w->a.code);
      pthread_cond_broadcast(&G_cv);
      break;
    }
  }
  pthread_mutex_unlock(&G_mu);
}

static void *relay(void *arg) {
  (void)arg;
  size_t cap = 1 << 17, len = 0;
  uint8_t *in = malloc(cap);
  struct pollfd pf[1024];
  for (;;) {
    pthread_mutex_lock(&G_mu);
    pf[0] = (struct pollfd){ .fd = sock, .events = POLLIN };
    pf[1] = (struct pollfd){ .fd = wakefd, .events = POLLIN };
    size_t n = 2 + dev_pollfds(pf + 2, 1022);
    pthread_mutex_unlock(&G_mu);
    if (real.poll(pf, n, -1) < 0) continue;
    if (pf[1].revents & POLLIN) { uint64_t v; if (real.read(wakefd, &v, sizeof v) < 0) { /* raced with another wake */ } }
    if (n > 2) { pthread_mutex_lock(&G_mu); dev_on_ready(pf + 2, n - 2); pthread_mutex_unlock(&G_mu); }
    if (!(pf[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    if (cap - len < 65536) { cap *= 2; in = realloc(in, cap); }
    ssize_t r = real.read(sock, in + len, cap - len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    len += (size_t)r;
    size_t off = 0;
    while (len - off >= 4) {
      size_t fl = in[off] | in[off + 1] << 8 | in[off + 2] << 16 | (size_t)in[off + 3] << 24;
      if (len - off - 4 < fl) {
        if (fl + 4 > cap) { cap = fl + 4 + 65536; in = realloc(in, cap); }
        break;
      }
      dispatch(in + off + 4, fl);
      off += 4 + fl;
    }
    memmove(in, in + off, len - off); len -= off;
  }
  /* `soclink run` went away: every endpoint is gone with the gateway connection. */
  pthread_mutex_lock(&G_mu);
  broken = 1;
  for (struct eptdev *e = epts; e; e = e->next) if (e->open) { e->dead = 1; if (e->ifd >= 0) shutdown(e->ifd, SHUT_RDWR); }
  pthread_cond_broadcast(&G_cv);
  pthread_mutex_unlock(&G_mu);
  free(in);
  return NULL;
}

static void after_fork_child(void) {
  /* The relay thread is not in the child, and the gateway connection is the parent's. */
  if (sock >= 0) real.close(sock);
  if (wakefd >= 0) real.close(wakefd);
  sock = wakefd = -1; owner = 0; broken = 0;
  memset(waiters, 0, sizeof waiters);
  pthread_mutex_init(&G_mu, NULL); pthread_mutex_init(&send_mu, NULL); pthread_mutex_init(&init_mu, NULL);
  pthread_cond_init(&G_cv, NULL);
  dev_after_fork();
}

int conn_ensure(void) {
  if (owner == getpid() && sock >= 0) return broken ? (errno = EPIPE, -1) : 0;
  pthread_mutex_lock(&init_mu);
  if (owner == getpid() && sock >= 0) { pthread_mutex_unlock(&init_mu); return 0; }
  const char *path = getenv("SOCLINK_RPMSG_SOCKET"), *base = getenv("SOCLINK_RPMSG_ROOT");
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  if (!path || !base || strlen(path) >= sizeof sa.sun_path) { pthread_mutex_unlock(&init_mu); errno = ENODEV; return -1; }
  strcpy(sa.sun_path, path);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    fprintf(stderr, "soclink rpmsg: cannot reach `soclink run` at %s: %s\n", path, strerror(e));
    if (s >= 0) real.close(s);
    pthread_mutex_unlock(&init_mu); errno = ENODEV; return -1;
  }
  static int atfork;
  if (!atfork) { atfork = 1; pthread_atfork(NULL, NULL, after_fork_child); }
  sock = s; owner = getpid(); broken = 0;
  wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  snprintf(root, sizeof root, "%s/%d", base, (int)owner);
  dev_tree_init();
  pthread_t th; pthread_attr_t at; pthread_attr_init(&at); pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
  sigset_t all, old; sigfillset(&all); pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_create(&th, &at, relay, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  /* The channels on the bus now (/sys/bus/rpmsg/devices); later changes come as events. */
  uint32_t id = conn_next_id();
  struct buf inner = { 0 }, msg = { 0 }; struct answer a;
  pb_varint(&inner, 1, id);
  pb_bytes(&msg, 5, inner.p, inner.len);
  conn_call(&msg, id, &a); /* ERR_NOT_FOUND: no bus now, no channels */
  buf_free(&inner); buf_free(&msg);
  pthread_mutex_unlock(&init_mu);
  return 0;
}
