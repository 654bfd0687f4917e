/* Endpoint devices (/dev/rpmsgN) and the ctrl device's ioctls, as
 * drivers/rpmsg/rpmsg_char.c and rpmsg_ctrl.c answer them. The fd a program
 * holds for /dev/rpmsgN is one end of a SOCK_SEQPACKET socketpair; the relay
 * thread writes each received message to the other end as one datagram. So
 * read() returns one message, cut to the buffer with the rest dropped (as
 * rpmsg_eptdev_read_iter()), O_NONBLOCK gives EAGAIN, and poll, select and
 * epoll work on it natively. */
#include "chan.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/rpmsg.h>

struct fdent *fds;
struct eptdev *epts;
#define QUEUE_MAX (16u << 20) /* bytes a reader may leave unread per endpoint; the newest beyond are dropped */

static int lowest_ept_id(void) {
  for (int id = 0;; id++) {
    int used = 0;
    for (struct eptdev *e = epts; e && !used; e = e->next) used = !e->gone && e->id == id;
    if (!used) return id;
  }
}

/* rpmsg_chrdev_eptdev_create(): rpmsgN under its parent device, in /sys/class/rpmsg and /dev. */
struct eptdev *ept_add(int ctrl, const char *name, uint32_t src, uint32_t dst, int default_ept, const char *parent_fmt, ...) {
  struct eptdev *e = calloc(1, sizeof *e);
  e->id = lowest_ept_id(); e->ctrl = ctrl; e->default_ept = default_ept;
  snprintf(e->name, sizeof e->name, "%s", name); e->src = src; e->dst = dst;
  e->pfd = e->ifd = -1;
  char parent[384]; va_list ap; va_start(ap, parent_fmt); vsnprintf(parent, sizeof parent, parent_fmt, ap); va_end(ap);
  snprintf(e->dir, sizeof e->dir, "%s/rpmsg%d", parent, e->id);
  tree_mkdirs("%s", e->dir);
  char v[64];
  /* rpmsg_char.c: name "%s\n", src and dst "%d\n" */
  snprintf(v, sizeof v, "%s\n", name); tree_put(v, "%s/name", e->dir);
  snprintf(v, sizeof v, "%d\n", (int)src); tree_put(v, "%s/src", e->dir);
  snprintf(v, sizeof v, "%d\n", (int)dst); tree_put(v, "%s/dst", e->dir);
  snprintf(v, sizeof v, "%d:%d\n", EPT_MAJOR, e->id); tree_put(v, "%s/dev", e->dir);
  char link[512]; snprintf(link, sizeof link, "../../%s", e->dir + 4);
  tree_link(link, "sys/class/rpmsg/rpmsg%d", e->id);
  tree_put("", "dev/rpmsg%d", e->id);
  e->next = epts; epts = e;
  return e;
}

static void purge(struct eptdev *e) {
  while (e->qhead) { struct msgq_item *i = e->qhead; e->qhead = i->next; free(i); }
  e->qtail = NULL; e->qbytes = 0;
}

static void post_destroy(uint32_t addr) {
  struct buf in = { 0 }, msg = { 0 };
  pb_varint(&in, 1, addr); pb_bytes(&msg, 2, in.p, in.len);
  conn_post(&msg);
  buf_free(&in); buf_free(&msg);
}

/* rpmsg_chrdev_eptdev_destroy(): the endpoint goes, blocked readers wake (EPIPE), the device goes. G_mu held. */
void ept_destroy(struct eptdev *e) {
  if (e->open && !e->dead && !e->default_ept) post_destroy(e->addr);
  e->dead = 1; e->gone = 1;
  if (e->ifd >= 0) shutdown(e->ifd, SHUT_RDWR);
  tree_unlink("sys/class/rpmsg/rpmsg%d", e->id);
  tree_unlink("dev/rpmsg%d", e->id);
  tree_remove("%s", e->dir);
  conn_wake();
}

static void unlink_free(struct eptdev *e) {
  for (struct eptdev **p = &epts; *p; p = &(*p)->next) if (*p == e) { *p = e->next; break; }
  purge(e); free(e);
}

static int parse_dev(const char *path, const char *prefix, int *id) {
  size_t l = strlen(prefix);
  if (strncmp(path, prefix, l) || !path[l] || strspn(path + l, "0123456789") != strlen(path + l)) return 0;
  *id = atoi(path + l);
  return 1;
}

static void flush(struct eptdev *e) {
  while (e->qhead && e->ifd >= 0) {
    struct msgq_item *i = e->qhead;
    if (send(e->ifd, i->data, i->len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) return;
    }
    e->qhead = i->next; if (!e->qhead) e->qtail = NULL;
    e->qbytes -= i->len; free(i);
  }
}

static void deliver(struct eptdev *e, const uint8_t *p, size_t n) {
  if (!e->qhead && e->ifd >= 0 && send(e->ifd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) return;
  if (e->qbytes + n > QUEUE_MAX) return;
  struct msgq_item *i = malloc(sizeof *i + n);
  i->next = NULL; i->len = n; memcpy(i->data, p, n);
  if (e->qtail) e->qtail->next = i; else e->qhead = i;
  e->qtail = i; e->qbytes += n;
}

static struct eptdev *ept_at(uint32_t addr) {
  for (struct eptdev *e = epts; e; e = e->next) if (!e->dead && e->addr == addr && (e->open || e->default_ept)) return e;
  return NULL;
}

void dev_on_message(const struct smsg *m) {
  struct eptdev *e;
  switch (m->kind) {
    case S_RECEIVED: if ((e = ept_at(m->dst))) deliver(e, m->payload, m->payload_len); break;
    case S_LIST: decode_channel_list(m->body, m->body_len, chan_list_cb); break;
    case S_CHANNEL_EVENT:
      if (m->created) chan_upsert(m->name, m->src, m->dst, "");
      else chan_destroyed(m->name, m->dst);
      break;
    case S_BINDING: {
      struct channel *c;
      for (c = chans; c; c = c->next) if (c->dst == m->dst && !strcmp(c->name, m->name)) break;
      if (!c || !c->ours || strcmp(m->driver, "rpmsg_chrdev")) chan_upsert(m->name, m->src, m->dst, m->driver);
      break;
    }
    case S_STATE:
      if (!(e = ept_at(m->addr))) break;
      if (m->state == 3) { e->dead = 1; if (e->ifd >= 0) shutdown(e->ifd, SHUT_RDWR); }
      else if (m->state == 2) e->max_payload = m->max_payload;
      break;
    case S_MAX_PAYLOAD: if ((e = ept_at(m->addr))) e->max_payload = m->max_payload; break;
    default: break;
  }
}

size_t dev_pollfds(struct pollfd *p, size_t max) {
  size_t n = 0;
  for (struct eptdev *e = epts; e && n < max; e = e->next)
    if (e->ifd >= 0 && !e->dead) p[n++] = (struct pollfd){ .fd = e->ifd, .events = POLLIN | (e->qhead ? POLLOUT : 0) };
  return n;
}

static void send_async(struct eptdev *e, const uint8_t *p, size_t n);

/* POLLOUT: queued messages fit again. POLLIN: the program wrote on its end past write() (send(),
 * writev()): those are sent too, their errors unseen. */
void dev_on_ready(const struct pollfd *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (!p[i].revents) continue;
    for (struct eptdev *e = epts; e; e = e->next) {
      if (e->ifd != p[i].fd || e->dead) continue;
      if (p[i].revents & POLLOUT) flush(e);
      if (p[i].revents & POLLIN) {
        uint8_t b[65536];
        ssize_t r = recv(e->ifd, b, sizeof b, MSG_DONTWAIT);
        if (r >= 0) send_async(e, b, (size_t)r);
      }
      break;
    }
  }
}

static void send_msg(struct buf *msg, struct eptdev *e, const void *p, size_t n, uint32_t id, int nonblock) {
  struct buf in = { 0 };
  pb_varint(&in, 1, e->addr); pb_varint(&in, 2, e->dst); pb_bytes(&in, 3, p, n);
  pb_varint(&in, 4, id); pb_varint(&in, 5, nonblock ? 0 : SEND_TIMEOUT_MS);
  pb_bytes(msg, 3, in.p, in.len);
  buf_free(&in);
}

static void send_async(struct eptdev *e, const uint8_t *p, size_t n) {
  struct buf msg = { 0 };
  send_msg(&msg, e, p, n, 0, 0);
  conn_post(&msg);
  buf_free(&msg);
}

static int set_errno(int e) { errno = e; return -1; }

int dev_open(const char *path, int flags) {
  int id;
  if (parse_dev(path, "/dev/rpmsg_ctrl", &id)) {
    pthread_mutex_lock(&G_mu);
    struct ctrldev *k;
    for (k = ctrls; k && k->id != id; k = k->next) {}
    pthread_mutex_unlock(&G_mu);
    if (!k) return set_errno(ENOENT);
    int fd = real.open("/dev/null", O_RDWR | (flags & O_CLOEXEC));
    if (fd < 0) return -1;
    if (fd < MAX_FD) { fds[fd].kind = FD_CTRL; fds[fd].obj = k; }
    return fd;
  }
  if (!parse_dev(path, "/dev/rpmsg", &id)) return -2;
  pthread_mutex_lock(&G_mu);
  struct eptdev *e;
  for (e = epts; e && (e->gone || e->id != id); e = e->next) {}
  if (!e) { pthread_mutex_unlock(&G_mu); return set_errno(ENOENT); }
  if (e->open) { pthread_mutex_unlock(&G_mu); return set_errno(EBUSY); }
  e->open = 1; /* taken; undone below if the endpoint cannot be made */
  pthread_mutex_unlock(&G_mu);
  if (!e->default_ept) {
    /* rpmsg_eptdev_open(): rpmsg_create_ept() with chinfo; failing, -EINVAL */
    uint32_t rid = conn_next_id();
    struct buf in = { 0 }, msg = { 0 }; struct answer a;
    pb_varint(&in, 1, rid); pb_str(&in, 2, e->name); pb_varint(&in, 3, e->src);
    pb_bytes(&msg, 1, in.p, in.len);
    int rc = conn_call(&msg, rid, &a);
    buf_free(&in); buf_free(&msg);
    if (rc || a.kind != S_CREATED) {
      fprintf(stderr, "soclink rpmsg: %s: no endpoint: %s\n", path, rc ? strerror(errno) : a.code);
      pthread_mutex_lock(&G_mu); e->open = 0; pthread_mutex_unlock(&G_mu);
      return set_errno(EINVAL);
    }
    pthread_mutex_lock(&G_mu);
    e->addr = a.addr; e->max_payload = a.max_payload; e->dead = 0;
    pthread_mutex_unlock(&G_mu);
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | ((flags & O_CLOEXEC) ? SOCK_CLOEXEC : 0), 0, sv)) {
    int err = errno;
    if (!e->default_ept) post_destroy(e->addr);
    pthread_mutex_lock(&G_mu); e->open = 0; pthread_mutex_unlock(&G_mu);
    return set_errno(err);
  }
  fcntl(sv[1], F_SETFD, FD_CLOEXEC);
  fcntl(sv[1], F_SETFL, O_NONBLOCK);
  int big = 4 << 20;
  setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  if (flags & O_NONBLOCK) fcntl(sv[0], F_SETFL, O_NONBLOCK);
  pthread_mutex_lock(&G_mu);
  e->pfd = sv[0]; e->ifd = sv[1];
  if (sv[0] < MAX_FD) { fds[sv[0]].kind = FD_EPT; fds[sv[0]].obj = e; }
  flush(e);
  pthread_mutex_unlock(&G_mu);
  conn_wake();
  return sv[0];
}

int dev_ioctl(int fd, unsigned long req, void *arg) {
  struct fdent *f = &fds[fd];
  if (f->kind == FD_CTRL) {
    if (req == RPMSG_CREATE_DEV_IOCTL || req == RPMSG_RELEASE_DEV_IOCTL) return set_errno(ENOTTY);
    if (req != RPMSG_CREATE_EPT_IOCTL) return set_errno(EINVAL);
    struct rpmsg_endpoint_info info;
    memcpy(&info, arg, sizeof info);
    info.name[NAME_SIZE - 1] = 0;
    pthread_mutex_lock(&G_mu);
    struct ctrldev *k = f->obj;
    ept_add(k->id, info.name, info.src, info.dst, 0, "%s", k->dir);
    pthread_mutex_unlock(&G_mu);
    return 0;
  }
  /* rpmsg_eptdev_ioctl(): only RPMSG_DESTROY_EPT_IOCTL, and not on a channel's own endpoint. */
  if (req != RPMSG_DESTROY_EPT_IOCTL) return set_errno(EINVAL);
  pthread_mutex_lock(&G_mu);
  struct eptdev *e = f->obj;
  int rc = 0;
  if (e->default_ept) rc = set_errno(EINVAL);
  else if (!e->gone) ept_destroy(e);
  pthread_mutex_unlock(&G_mu);
  return rc;
}

/* rpmsg_eptdev_write_iter(): rpmsg_sendto(chinfo.dst), or rpmsg_trysendto() with O_NONBLOCK (-ENOMEM: -EAGAIN). */
ssize_t dev_write(int fd, const void *b, size_t n) {
  struct fdent *f = &fds[fd];
  if (f->kind == FD_CTRL) return set_errno(EINVAL);
  if (f->kind == FD_ATTR) {
    char v[128]; size_t l = n < sizeof v - 1 ? n : sizeof v - 1;
    memcpy(v, b, l); v[l] = 0;
    int rc;
    if (f->action == A_OVERRIDE) {
      size_t k = strlen(v); while (k && v[k - 1] == '\n') v[--k] = 0;
      char line[136]; snprintf(line, sizeof line, "%s\n", *v ? v : "(null)");
      pthread_mutex_lock(&G_mu);
      tree_put(line, "sys/devices/virtio0/%s/driver_override", (char *)f->obj);
      pthread_mutex_unlock(&G_mu);
      rc = 0;
    } else {
      rc = f->action == A_BIND ? chan_bind(v) : chan_unbind(v);
    }
    return rc ? set_errno(-rc) : (ssize_t)n;
  }
  pthread_mutex_lock(&G_mu);
  struct eptdev *e = f->obj;
  int dead = e->dead || !e->open;
  uint32_t max = e->max_payload, dst = e->dst;
  pthread_mutex_unlock(&G_mu);
  if (dead) return set_errno(EPIPE);
  if (dst == ADDR_ANY) return set_errno(EINVAL); /* rpmsg_send_offchannel_raw(): no destination */
  if (n > max) return set_errno(EMSGSIZE);
  int nonblock = (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
  uint32_t id = conn_next_id();
  struct buf msg = { 0 }; struct answer a;
  send_msg(&msg, e, b, n, id, nonblock);
  int rc = conn_call(&msg, id, &a);
  buf_free(&msg);
  if (rc) return -1;
  if (a.kind == S_ERROR) return set_errno(errno_of(a.code));
  return (ssize_t)n;
}

int dev_close(int fd) {
  struct fdent *f = &fds[fd];
  pthread_mutex_lock(&G_mu);
  if (f->kind == FD_EPT) {
    /* rpmsg_eptdev_release(): the endpoint goes (not a channel's own), queued messages are dropped */
    struct eptdev *e = f->obj;
    if (e->open && !e->dead && !e->default_ept) post_destroy(e->addr);
    e->open = 0;
    if (!e->default_ept) e->dead = 0, e->addr = 0;
    if (e->ifd >= 0) real.close(e->ifd);
    e->ifd = e->pfd = -1;
    purge(e);
    if (e->gone) unlink_free(e);
  } else if (f->kind == FD_ATTR) {
    free(f->obj);
  }
  f->kind = FD_NONE; f->obj = NULL;
  pthread_mutex_unlock(&G_mu);
  conn_wake();
  return real.close(fd);
}

void dev_attr_fd(int fd, const char *path) {
  if (fd < 0 || fd >= MAX_FD) return;
  char dev[128];
  if (sscanf(path, "/sys/bus/rpmsg/devices/%127[^/]/driver_override", dev) == 1 && strstr(path, "/driver_override")) {
    fds[fd].kind = FD_ATTR; fds[fd].action = A_OVERRIDE; fds[fd].obj = strdup(dev);
  } else if (!strcmp(path, "/sys/bus/rpmsg/drivers/rpmsg_chrdev/bind")) {
    fds[fd].kind = FD_ATTR; fds[fd].action = A_BIND; fds[fd].obj = NULL;
  } else if (!strcmp(path, "/sys/bus/rpmsg/drivers/rpmsg_chrdev/unbind")) {
    fds[fd].kind = FD_ATTR; fds[fd].action = A_UNBIND; fds[fd].obj = NULL;
  }
}

void dev_after_fork(void) {
  /* The child's copies of endpoint fds have no relay: they read as a destroyed endpoint (EPIPE). */
  for (struct eptdev *e = epts; e; e = e->next) {
    if (e->ifd >= 0) real.close(e->ifd);
    e->ifd = -1; e->dead = 1; purge(e);
  }
}
