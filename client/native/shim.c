/* The interposed libc functions. Paths under /sys/bus/rpmsg, /sys/class/rpmsg
 * and /dev/rpmsg* go to the tree (tree.c) or to the devices (dev.c); fds the
 * shim made are looked up in `fds`; everything else goes straight to libc.
 * glibc's fopen() and opendir() open their files without calling open(), so
 * they are interposed too. */
#include "shim.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/rpmsg.h>

__attribute__((constructor)) static void shim_init(void) {
  shim_real_init();
  fds = calloc(MAX_FD, sizeof *fds);
}

static inline struct fdent *ours(int fd) {
  return fd >= 0 && fd < MAX_FD && fds && fds[fd].kind != FD_NONE ? &fds[fd] : NULL;
}

static int open_virtual(const char *path, int flags, mode_t mode, int *done) {
  char p[1024];
  *done = 0;
  if (!vpath(path, p, sizeof p)) return -1;
  *done = 1;
  int fd = dev_open(path, flags);
  if (fd != -2) return fd;
  fd = real.open(p, flags & ~O_CREAT, mode);
  if (fd >= 0 && (flags & O_ACCMODE) != O_RDONLY) dev_attr_fd(fd, path);
  return fd;
}

static mode_t mode_of(int flags, va_list ap) {
  return (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
}

int open(const char *path, int flags, ...) {
  va_list ap; va_start(ap, flags); mode_t mode = mode_of(flags, ap); va_end(ap);
  shim_real_init();
  int done, fd = open_virtual(path, flags, mode, &done);
  return done ? fd : real.open(path, flags, mode);
}
int open64(const char *path, int flags, ...) {
  va_list ap; va_start(ap, flags); mode_t mode = mode_of(flags, ap); va_end(ap);
  return open(path, flags | O_LARGEFILE, mode);
}
int __open_2(const char *path, int flags) { return open(path, flags); }
int __open64_2(const char *path, int flags) { return open(path, flags | O_LARGEFILE); }

int openat(int dirfd, const char *path, int flags, ...) {
  va_list ap; va_start(ap, flags); mode_t mode = mode_of(flags, ap); va_end(ap);
  shim_real_init();
  if (path[0] == '/') {
    int done, fd = open_virtual(path, flags, mode, &done);
    if (done) return fd;
  }
  return real.openat(dirfd, path, flags, mode);
}
int openat64(int dirfd, const char *path, int flags, ...) {
  va_list ap; va_start(ap, flags); mode_t mode = mode_of(flags, ap); va_end(ap);
  return openat(dirfd, path, flags | O_LARGEFILE, mode);
}
int __openat_2(int dirfd, const char *path, int flags) { return openat(dirfd, path, flags); }
int __openat64_2(int dirfd, const char *path, int flags) { return openat(dirfd, path, flags | O_LARGEFILE); }

int close(int fd) {
  shim_real_init();
  return ours(fd) ? dev_close(fd) : real.close(fd);
}

ssize_t read(int fd, void *b, size_t n) {
  shim_real_init();
  struct fdent *f = ours(fd);
  if (!f || f->kind == FD_ATTR) return real.read(fd, b, n);
  if (f->kind == FD_CTRL) { errno = EINVAL; return -1; } /* rpmsg_ctrl has no read */
  struct eptdev *e = f->obj;
  /* rpmsg_eptdev_read_iter(): -EPIPE once the endpoint is gone, also for a reader woken by it */
  if (e->dead) { errno = EPIPE; return -1; }
  ssize_t r = real.read(fd, b, n);
  if (r == 0 && e->dead) { errno = EPIPE; return -1; }
  return r;
}

ssize_t write(int fd, const void *b, size_t n) {
  shim_real_init();
  return ours(fd) ? dev_write(fd, b, n) : real.write(fd, b, n);
}

int ioctl(int fd, unsigned long req, ...) {
  va_list ap; va_start(ap, req); void *arg = va_arg(ap, void *); va_end(ap);
  shim_real_init();
  struct fdent *f = ours(fd);
  if (!f || f->kind == FD_ATTR) return real.ioctl(fd, req, arg);
  return dev_ioctl(fd, req, arg);
}

/* rpmsg_eptdev_poll(): a destroyed endpoint polls EPOLLERR alone. */
static void poll_fixup(struct pollfd *p, nfds_t n) {
  for (nfds_t i = 0; i < n; i++) {
    struct fdent *f = ours(p[i].fd);
    if (f && f->kind == FD_EPT && ((struct eptdev *)f->obj)->dead) p[i].revents = POLLERR;
  }
}
int poll(struct pollfd *p, nfds_t n, int timeout) {
  shim_real_init();
  int r = real.poll(p, n, timeout);
  if (r > 0) poll_fixup(p, n);
  return r;
}
int ppoll(struct pollfd *p, nfds_t n, const struct timespec *ts, const sigset_t *mask) {
  shim_real_init();
  int r = real.ppoll(p, n, ts, mask);
  if (r > 0) poll_fixup(p, n);
  return r;
}

FILE *fopen(const char *path, const char *mode) {
  shim_real_init();
  char p[1024];
  if (!vpath(path, p, sizeof p)) return real.fopen(path, mode);
  if (!strncmp(path, "/dev/", 5)) {
    int flags = strchr(mode, '+') ? O_RDWR : mode[0] == 'r' ? O_RDONLY : O_WRONLY;
    if (strchr(mode, 'e')) flags |= O_CLOEXEC;
    int fd = dev_open(path, flags);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, mode);
    if (!f) close(fd);
    return f;
  }
  return real.fopen(p, mode);
}
FILE *fopen64(const char *path, const char *mode) { return fopen(path, mode); }

DIR *opendir(const char *path) {
  shim_real_init();
  char p[1024];
  return real.opendir(vpath(path, p, sizeof p) ? p : path);
}

#define PATHED(call) char p_[1024]; const char *vp_ = vpath(path, p_, sizeof p_); if (vp_) path = vp_; return call
int stat(const char *path, struct stat *st) { shim_real_init(); PATHED(real.stat(path, st)); }
int lstat(const char *path, struct stat *st) { shim_real_init(); PATHED(real.lstat(path, st)); }
int stat64(const char *path, struct stat64 *st) { return stat(path, (struct stat *)st); }
int lstat64(const char *path, struct stat64 *st) { return lstat(path, (struct stat *)st); }
int fstatat(int dirfd, const char *path, struct stat *st, int flags) { shim_real_init(); PATHED(real.fstatat(dirfd, path, st, flags)); }
int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags) { return fstatat(dirfd, path, (struct stat *)st, flags); }
int access(const char *path, int mode) { shim_real_init(); PATHED(real.access(path, mode)); }
int faccessat(int dirfd, const char *path, int mode, int flags) { shim_real_init(); PATHED(real.faccessat(dirfd, path, mode, flags)); }
int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *sx) {
  shim_real_init();
  if (!real.statx) { errno = ENOSYS; return -1; }
  PATHED(real.statx(dirfd, path, flags, mask, sx));
}
/* glibc before 2.33 exported stat() as these. */
int __xstat(int ver, const char *path, struct stat *st) { shim_real_init(); PATHED(real.xstat(ver, path, st)); }
int __lxstat(int ver, const char *path, struct stat *st) { shim_real_init(); PATHED(real.lxstat(ver, path, st)); }
int __xstat64(int ver, const char *path, struct stat64 *st) { return __xstat(ver, path, (struct stat *)st); }
int __lxstat64(int ver, const char *path, struct stat64 *st) { return __lxstat(ver, path, (struct stat *)st); }
int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags) { shim_real_init(); PATHED(real.fxstatat(ver, dirfd, path, st, flags)); }
int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags) { return __fxstatat(ver, dirfd, path, (struct stat *)st, flags); }

ssize_t readlink(const char *path, char *buf, size_t n) { shim_real_init(); PATHED(real.readlink(path, buf, n)); }

/* The tree's links resolve inside the tree: the answer is given back as the /sys path it stands for. */
char *realpath(const char *path, char *resolved) {
  shim_real_init();
  char p[1024];
  if (!vpath(path, p, sizeof p)) return real.realpath(path, resolved);
  char *r = real.realpath(p, resolved);
  size_t l = strlen(tree_root());
  if (r && !strncmp(r, tree_root(), l)) memmove(r, r + l, strlen(r + l) + 1);
  return r;
}
char *canonicalize_file_name(const char *path) { return realpath(path, NULL); }
