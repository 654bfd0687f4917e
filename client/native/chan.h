/* Channels and ctrl devices (chan.c), endpoint devices (dev.c). */
#ifndef SOCLINK_CHAN_H
#define SOCLINK_CHAN_H
#include "shim.h"

#define CTRL_MAJOR 240 /* dynamic in the kernel (alloc_chrdev_region); any number does here */
#define EPT_MAJOR 241

struct ctrldev { struct ctrldev *next; int id; struct channel *chan; char dir[384]; };
struct channel {
  struct channel *next;
  char name[NAME_SIZE], driver[NAME_SIZE];
  uint32_t src, dst;
  int ours;                 /* bound to rpmsg_chrdev by this process */
  uint32_t addr, remote;
  struct ctrldev *ctrl;
  struct eptdev *ept;
};
extern struct channel *chans;
extern struct ctrldev *ctrls;

void chan_upsert(const char *name, uint32_t src, uint32_t dst, const char *driver);
void chan_list_cb(const char *name, uint32_t src, uint32_t dst, const char *driver);
void chan_destroyed(const char *name, uint32_t dst);
struct channel *chan_find(const char *devname);
int chan_bind(const char *devname);
int chan_unbind(const char *devname);
struct ctrldev *ctrl_add(struct channel *c, const char *dev);
struct eptdev *ept_add(int ctrl, const char *name, uint32_t src, uint32_t dst, int default_ept, const char *parent_fmt, ...);
void ept_destroy(struct eptdev *e);
#endif
