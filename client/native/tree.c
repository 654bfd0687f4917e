/* The rpmsg sysfs and /dev nodes, kept as real files and links under the
 * tree root (SOCLINK_RPMSG_ROOT/PID) that vpath() maps /sys/bus/rpmsg,
 * /sys/class/rpmsg and /dev/rpmsg* to, laid out as the kernel lays them
 * out: bus devices are links to /sys/devices/.../virtio0/DEV, class devices
 * links to their device directory (drivers/base/core.c, bus.c). */
#include "shim.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int enabled = -1;

const char *vpath(const char *path, char *out, size_t n) {
  if (enabled < 0) enabled = getenv("SOCLINK_RPMSG_SOCKET") != NULL;
  if (!enabled || !path || path[0] != '/') return NULL;
  static const char *prefixes[] = { "/sys/bus/rpmsg", "/sys/class/rpmsg", "/dev/rpmsg" };
  int hit = 0;
  for (int i = 0; i < 3 && !hit; i++) {
    size_t l = strlen(prefixes[i]);
    if (strncmp(path, prefixes[i], l)) continue;
    const char *rest = path + l;
    if (i == 2) {
      /* /dev/rpmsg_ctrlN or /dev/rpmsgN */
      if (!strncmp(rest, "_ctrl", 5)) rest += 5;
      hit = *rest != 0 && strspn(rest, "0123456789") == strlen(rest);
    } else {
      hit = *rest == 0 || *rest == '/';
    }
  }
  if (!hit || conn_ensure()) return NULL;
  dev_drain();
  snprintf(out, n, "%s%s", tree_root(), path);
  return out;
}

/* A path under the tree root, printf style. */
static const char *tp(char *out, size_t n, const char *fmt, va_list ap) {
  int l = snprintf(out, n, "%s/", tree_root());
  vsnprintf(out + l, n - (size_t)l, fmt, ap);
  return out;
}

void tree_mkdirs(const char *fmt, ...) {
  char p[1024]; va_list ap; va_start(ap, fmt); tp(p, sizeof p, fmt, ap); va_end(ap);
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = 0; mkdir(p, 0755); *s = '/';
  }
  mkdir(p, 0755);
}

void tree_put(const char *content, const char *fmt, ...) {
  char p[1024]; va_list ap; va_start(ap, fmt); tp(p, sizeof p, fmt, ap); va_end(ap);
  int fd = real.open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  if (real.write(fd, content, strlen(content)) < 0) { /* the tree is ours; a failed write shows as an empty attribute */ }
  real.close(fd);
}

/* Reads a file of the tree (at most n-1 bytes); "" when absent. */
void tree_get(char *out, size_t n, const char *fmt, ...) {
  char p[1024]; va_list ap; va_start(ap, fmt); tp(p, sizeof p, fmt, ap); va_end(ap);
  out[0] = 0;
  int fd = real.open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t r = real.read(fd, out, n - 1);
  out[r > 0 ? r : 0] = 0;
  real.close(fd);
}

void tree_link(const char *target, const char *fmt, ...) {
  char p[1024]; va_list ap; va_start(ap, fmt); tp(p, sizeof p, fmt, ap); va_end(ap);
  unlink(p);
  if (symlink(target, p) < 0) { /* its directory is gone: the device went meanwhile */ }
}

void tree_unlink(const char *fmt, ...) {
  char p[1024]; va_list ap; va_start(ap, fmt); tp(p, sizeof p, fmt, ap); va_end(ap);
  unlink(p);
}

static void rm_rf(const char *p) {
  struct stat st;
  if (real.lstat(p, &st)) return;
  if (S_ISDIR(st.st_mode)) {
    DIR *d = real.opendir(p);
    struct dirent *de;
    while (d && (de = readdir(d))) {
      if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
      char q[1024]; snprintf(q, sizeof q, "%s/%s", p, de->d_name);
      rm_rf(q);
    }
    if (d) closedir(d);
    rmdir(p);
  } else {
    unlink(p);
  }
}

void tree_remove(const char *fmt, ...) {
  char p[1024]; va_list ap; va_start(ap, fmt); tp(p, sizeof p, fmt, ap); va_end(ap);
  rm_rf(p);
}
