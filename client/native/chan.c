/* rpmsg channel devices (/sys/bus/rpmsg/devices/virtio0.NAME.-1.DST), the
 * ctrl devices (rpmsg_ctrlN) and binding a channel to rpmsg_chrdev through
 * driver_override and bind (drivers/base/bus.c bind_store(),
 * drivers/rpmsg/rpmsg_core.c). */
#include "chan.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct channel *chans;
struct ctrldev *ctrls;

#define CTRL_DEV "virtio0.rpmsg_ctrl.0.0"
#define DEVDIR "sys/devices/virtio0"

void chan_devname(const struct channel *c, char *out, size_t n) {
  /* rpmsg_register_device(): "%s.%s.%d.%d" of parent, name, src, dst, src still RPMSG_ADDR_ANY */
  snprintf(out, n, "virtio0.%s.-1.%d", c->name, (int)c->dst);
}

static void put_attrs(const char *dev, const char *name, uint32_t src, uint32_t dst) {
  char v[64];
  tree_mkdirs(DEVDIR "/%s", dev);
  /* rpmsg_core.c rpmsg_show_attr(): name "%s\n", src and dst "0x%x\n" */
  snprintf(v, sizeof v, "%s\n", name); tree_put(v, DEVDIR "/%s/name", dev);
  snprintf(v, sizeof v, "0x%x\n", src); tree_put(v, DEVDIR "/%s/src", dev);
  snprintf(v, sizeof v, "0x%x\n", dst); tree_put(v, DEVDIR "/%s/dst", dev);
  tree_put("false\n", DEVDIR "/%s/announce", dev);
  snprintf(v, sizeof v, "rpmsg:%s\n", name); tree_put(v, DEVDIR "/%s/modalias", dev);
  char link[256]; snprintf(link, sizeof link, "../../../devices/virtio0/%s", dev);
  tree_link(link, "sys/bus/rpmsg/devices/%s", dev);
}

static void put_driver(const char *dev, const char *driver) {
  if (driver && *driver) {
    char link[128]; snprintf(link, sizeof link, "../../../bus/rpmsg/drivers/%s", driver);
    tree_link(link, DEVDIR "/%s/driver", dev);
  } else {
    tree_unlink(DEVDIR "/%s/driver", dev);
  }
}

static int lowest_ctrl_id(void) {
  for (int id = 0;; id++) {
    int used = 0;
    for (struct ctrldev *k = ctrls; k && !used; k = k->next) used = k->id == id;
    if (!used) return id;
  }
}

struct ctrldev *ctrl_add(struct channel *c, const char *dev) {
  struct ctrldev *k = calloc(1, sizeof *k);
  k->id = lowest_ctrl_id(); k->chan = c;
  snprintf(k->dir, sizeof k->dir, DEVDIR "/%s/rpmsg/rpmsg_ctrl%d", dev, k->id);
  tree_mkdirs("%s", k->dir);
  char v[32]; snprintf(v, sizeof v, "%d:%d\n", CTRL_MAJOR, k->id); tree_put(v, "%s/dev", k->dir);
  char link[256]; snprintf(link, sizeof link, "../../%s", k->dir + 4); /* from sys/class/rpmsg to sys/devices/... */
  tree_link(link, "sys/class/rpmsg/rpmsg_ctrl%d", k->id);
  tree_put("", "dev/rpmsg_ctrl%d", k->id);
  k->next = ctrls; ctrls = k;
  return k;
}

void ctrl_remove(struct ctrldev *k) {
  for (struct eptdev *e = epts; e; e = e->next) if (!e->gone && e->ctrl == k->id && !e->default_ept) ept_destroy(e);
  tree_unlink("sys/class/rpmsg/rpmsg_ctrl%d", k->id);
  tree_unlink("dev/rpmsg_ctrl%d", k->id);
  tree_remove("%s", k->dir);
  for (struct ctrldev **p = &ctrls; *p; p = &(*p)->next) if (*p == k) { *p = k->next; break; }
  free(k);
}

void dev_tree_init(void) {
  tree_mkdirs("dev");
  tree_mkdirs("sys/bus/rpmsg/devices");
  tree_mkdirs("sys/class/rpmsg");
  static const char *drivers[] = { "rpmsg_chrdev", "rpmsg_ctrl" };
  for (int i = 0; i < 2; i++) {
    tree_mkdirs("sys/bus/rpmsg/drivers/%s", drivers[i]);
    tree_put("", "sys/bus/rpmsg/drivers/%s/bind", drivers[i]);
    tree_put("", "sys/bus/rpmsg/drivers/%s/unbind", drivers[i]);
  }
  /* Kernels >= 6.0: virtio_rpmsg_bus adds the rpmsg_ctrl channel, rpmsg_ctrl binds it (rpmsg_ctrl0). */
  put_attrs(CTRL_DEV, "rpmsg_ctrl", 0, 0);
  tree_put("(null)\n", DEVDIR "/%s/driver_override", CTRL_DEV);
  put_driver(CTRL_DEV, "rpmsg_ctrl");
  if (!ctrls) ctrl_add(NULL, CTRL_DEV);
}

struct channel *chan_find(const char *devname) {
  char n[128];
  for (struct channel *c = chans; c; c = c->next) { chan_devname(c, n, sizeof n); if (!strcmp(n, devname)) return c; }
  return NULL;
}

static struct channel *chan_of(const char *name, uint32_t dst) {
  for (struct channel *c = chans; c; c = c->next) if (c->dst == dst && !strcmp(c->name, name)) return c;
  return NULL;
}

void chan_upsert(const char *name, uint32_t src, uint32_t dst, const char *driver) {
  if (!*name || !strcmp(name, "rpmsg_ctrl")) return;
  struct channel *c = chan_of(name, dst);
  char dev[128];
  int fresh = !c;
  if (fresh) {
    c = calloc(1, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name); c->dst = dst;
    c->next = chans; chans = c;
  }
  chan_devname(c, dev, sizeof dev);
  c->src = src;
  snprintf(c->driver, sizeof c->driver, "%s", driver);
  put_attrs(dev, c->name, src, dst);
  if (fresh) tree_put("(null)\n", DEVDIR "/%s/driver_override", dev);
  put_driver(dev, driver);
}

void chan_list_cb(const char *name, uint32_t src, uint32_t dst, const char *driver) { chan_upsert(name, src, dst, driver); }

/* rpmsg_chrdev's remove: its endpoint devices go, the channel stays. */
void chan_unbound(struct channel *c) {
  if (c->ctrl) ctrl_remove(c->ctrl);
  c->ctrl = NULL;
  if (c->ept && !c->ept->gone) ept_destroy(c->ept);
  c->ept = NULL;
  c->ours = 0;
}

void chan_destroyed(const char *name, uint32_t dst) {
  struct channel *c = chan_of(name, dst);
  if (!c) return;
  char dev[128]; chan_devname(c, dev, sizeof dev);
  chan_unbound(c);
  tree_unlink("sys/bus/rpmsg/devices/%s", dev);
  tree_remove(DEVDIR "/%s", dev);
  for (struct channel **p = &chans; *p; p = &(*p)->next) if (*p == c) { *p = c->next; break; }
  free(c);
}

static void trim(char *s) { size_t n = strlen(s); while (n && (s[n - 1] == '\n' || s[n - 1] == ' ')) s[--n] = 0; }

/* bind_store(): the device must exist and match the driver (driver_override, else the id table
 * "rpmsg-raw"), and have no driver yet (-EBUSY). Claiming is rpmsg_dev_probe(). */
int chan_bind(const char *devname_in) {
  char devname[128]; snprintf(devname, sizeof devname, "%s", devname_in); trim(devname);
  pthread_mutex_lock(&G_mu);
  struct channel *c = chan_find(devname);
  char override[64], name[NAME_SIZE] = "", driver[NAME_SIZE] = ""; uint32_t dst = 0;
  if (c) { snprintf(name, sizeof name, "%s", c->name); dst = c->dst; snprintf(driver, sizeof driver, "%s", c->driver); }
  int ours = c && c->ours;
  pthread_mutex_unlock(&G_mu);
  if (!c) return -ENODEV;
  tree_get(override, sizeof override, DEVDIR "/%s/driver_override", devname); trim(override);
  int match = !strcmp(override, "rpmsg_chrdev") || (!strcmp(override, "(null)") && !strcmp(name, "rpmsg-raw"));
  if (!match) return -ENODEV;
  if (ours || (*driver && strcmp(driver, "soclink_config") && strcmp(driver, "soclink_eager"))) return -EBUSY;
  uint32_t id = conn_next_id();
  struct buf in = { 0 }, msg = { 0 }; struct answer a;
  pb_varint(&in, 1, id); pb_str(&in, 2, name); pb_varint(&in, 3, dst); pb_str(&in, 4, "rpmsg_chrdev");
  pb_bytes(&msg, 4, in.p, in.len);
  int rc = conn_call(&msg, id, &a);
  buf_free(&in); buf_free(&msg);
  if (rc) return -errno;
  if (a.kind != S_CLAIMED) return -errno_of(a.code);
  pthread_mutex_lock(&G_mu);
  c = chan_of(name, dst);
  if (c) {
    c->ours = 1; c->addr = a.addr; c->remote = a.remote;
    c->src = a.addr; snprintf(c->driver, sizeof c->driver, "rpmsg_chrdev");
    put_attrs(devname, c->name, c->src, c->dst);
    put_driver(devname, "rpmsg_chrdev");
    /* As the kernels: a ctrl device under the channel, and (rpmsg_chrdev_probe() of
     * kernels >= 5.18) an endpoint device on the channel's own endpoint. */
    c->ctrl = ctrl_add(c, devname);
    c->ept = ept_add(c->ctrl->id, c->name, a.addr, a.remote, 1, DEVDIR "/%s/rpmsg", devname);
    c->ept->addr = a.addr; c->ept->max_payload = a.max_payload;
  }
  pthread_mutex_unlock(&G_mu);
  return 0;
}

int chan_unbind(const char *devname_in) {
  char devname[128]; snprintf(devname, sizeof devname, "%s", devname_in); trim(devname);
  pthread_mutex_lock(&G_mu);
  struct channel *c = chan_find(devname);
  if (!c || !c->ours) { pthread_mutex_unlock(&G_mu); return -ENODEV; }
  uint32_t addr = c->addr;
  chan_unbound(c);
  /* rpmsg_dev_remove(): the channel is free again (ChannelBinding confirms it) */
  c->src = ADDR_ANY; c->driver[0] = 0;
  put_attrs(devname, c->name, c->src, c->dst);
  put_driver(devname, NULL);
  pthread_mutex_unlock(&G_mu);
  struct buf in = { 0 }, msg = { 0 };
  pb_varint(&in, 1, addr); pb_bytes(&msg, 2, in.p, in.len);
  conn_post(&msg);
  buf_free(&in); buf_free(&msg);
  return 0;
}

/* Writes to driver_override, bind and unbind made past write() (stdio's own writes) are in
 * the tree's files: act on them before the program looks at the tree again. */
void dev_drain(void) {
  static const char *files[] = { "sys/bus/rpmsg/drivers/rpmsg_chrdev/bind", "sys/bus/rpmsg/drivers/rpmsg_chrdev/unbind" };
  for (int i = 0; i < 2; i++) {
    char v[128]; tree_get(v, sizeof v, "%s", files[i]);
    if (!*v) continue;
    tree_put("", "%s", files[i]);
    if (i == 0) chan_bind(v); else chan_unbind(v);
  }
}
