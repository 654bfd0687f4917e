/* soclink rpmsg_char shim: shared declarations.
 *
 * An LD_PRELOAD library (README, "Running unmodified Linux rpmsg programs")
 * that answers a program's /dev/rpmsg_ctrlN, /dev/rpmsgN and the rpmsg sysfs
 * (/sys/bus/rpmsg, /sys/class/rpmsg) as the kernel's rpmsg_char and
 * rpmsg_ctrl drivers do (drivers/rpmsg/rpmsg_char.c, rpmsg_ctrl.c), over the
 * soclink rpmsg gateway protocol version 1 carried by `soclink run`
 * (proto/rpmsg.proto, "Local framing"). */
#ifndef SOCLINK_SHIM_H
#define SOCLINK_SHIM_H

#define _GNU_SOURCE
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <time.h>

#define ADDR_ANY 0xffffffffu
#define NAME_SIZE 32 /* RPMSG_NAME_SIZE */
#define MAX_FD 65536
#define SEND_TIMEOUT_MS 15000 /* virtio_rpmsg_bus.c: rpmsg_send() waits 15 s for a tx buffer */

/* The real functions, from the next object in the lookup order. */
struct real_fns {
  int (*open)(const char *, int, ...);
  int (*openat)(int, const char *, int, ...);
  int (*close)(int);
  ssize_t (*read)(int, void *, size_t);
  ssize_t (*write)(int, const void *, size_t);
  int (*ioctl)(int, unsigned long, ...);
  int (*poll)(struct pollfd *, nfds_t, int);
  int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
  FILE *(*fopen)(const char *, const char *);
  DIR *(*opendir)(const char *);
  int (*stat)(const char *, struct stat *);
  int (*lstat)(const char *, struct stat *);
  int (*fstatat)(int, const char *, struct stat *, int);
  int (*xstat)(int, const char *, struct stat *);
  int (*lxstat)(int, const char *, struct stat *);
  int (*fxstatat)(int, int, const char *, struct stat *, int);
  int (*statx)(int, const char *, int, unsigned, struct statx *);
  int (*access)(const char *, int);
  int (*faccessat)(int, const char *, int, int);
  ssize_t (*readlink)(const char *, char *, size_t);
  char *(*realpath)(const char *, char *);
};
extern struct real_fns real;
void shim_real_init(void);

/* ---- protobuf (wire.c) ---- */
struct buf { uint8_t *p; size_t len, cap; };
void buf_free(struct buf *b);
void pb_varint(struct buf *b, unsigned field, uint64_t v);
void pb_bytes(struct buf *b, unsigned field, const void *data, size_t n);
void pb_str(struct buf *b, unsigned field, const char *s);

/* One decoded ServerMessage: which body (its field number) and the fields
 * any of them carries. Pointers point into the frame being decoded. */
struct smsg {
  unsigned kind;
  uint32_t request_id, addr, remote, max_payload, dst, src, state, send_seq;
  int created;
  const uint8_t *payload; size_t payload_len;
  char code[48];
  char name[NAME_SIZE];
  char driver[NAME_SIZE];
  const uint8_t *body; size_t body_len; /* the whole body, for ChannelList */
};
enum { S_CREATED = 1, S_RECEIVED, S_CHANNEL_EVENT, S_BOUND, S_ERROR, S_SENT,
       S_STATE, S_MAX_PAYLOAD, S_CLAIMED, S_LIST, S_BINDING };
int decode_server(const uint8_t *p, size_t n, struct smsg *m);
/* Calls fn for every ChannelInfo of a ChannelList body. */
void decode_channel_list(const uint8_t *p, size_t n, void (*fn)(const char *name, uint32_t src, uint32_t dst, const char *driver));
void decode_channel_info(const uint8_t *p, size_t n, char *name, uint32_t *src, uint32_t *dst, char *driver);

/* ---- the connection to `soclink run` (conn.c) ---- */
struct answer { unsigned kind; uint32_t addr, remote, max_payload; char code[48]; };
extern pthread_mutex_t G_mu;
int conn_ensure(void);                   /* 0, or -1 with errno */
uint32_t conn_next_id(void);
/* Sends a ClientMessage (body already framed as field `field`), waits for the answer to request_id. */
int conn_call(struct buf *msg, uint32_t request_id, struct answer *a);
int conn_post(struct buf *msg);          /* sends, waits for nothing */
void conn_wake(void);                    /* the relay thread looks at its fds again */
const char *tree_root(void);
int errno_of(const char *code);

/* ---- devices and sysfs (dev.c) ---- */
struct eptdev;
struct ctrldev;
enum fdkind { FD_NONE, FD_CTRL, FD_EPT, FD_ATTR };
enum attr_action { A_OVERRIDE = 1, A_BIND, A_UNBIND };
struct fdent { enum fdkind kind; int action; void *obj; /* FD_ATTR: the device's name (malloc) */ };
extern struct fdent *fds;

struct msgq_item { struct msgq_item *next; size_t len; uint8_t data[]; };
struct eptdev {
  struct eptdev *next;
  int id, ctrl;                 /* rpmsgN, rpmsg_ctrlK */
  char name[NAME_SIZE];
  uint32_t src, dst;            /* chinfo */
  int default_ept;              /* the channel's own endpoint (rpmsg_chrdev_probe) */
  int open, dead, gone;
  uint32_t addr, max_payload;
  int pfd, ifd;                 /* the program's end, the relay's end */
  struct msgq_item *qhead, *qtail;
  size_t qbytes;
  char dir[512];                /* its sysfs directory under the tree */
};
extern struct eptdev *epts;

void dev_tree_init(void);
void dev_on_message(const struct smsg *m);  /* relay thread, G_mu held */
void dev_drain(void);                        /* acts on sysfs writes made past write() */
int dev_open(const char *path, int flags);   /* -2: not a device path */
int dev_ioctl(int fd, unsigned long req, void *arg);
ssize_t dev_write(int fd, const void *b, size_t n);
int dev_close(int fd);
void dev_attr_fd(int fd, const char *real_path);
void dev_after_fork(void);
/* The relay's pollfds for endpoints, and what to do with them. */
size_t dev_pollfds(struct pollfd *p, size_t max);
void dev_on_ready(const struct pollfd *p, size_t n);

/* Path rewriting: the tree's copy of a virtual path, or NULL. */
const char *vpath(const char *path, char *out, size_t n);



/* tree.c */
void tree_mkdirs(const char *fmt, ...);
void tree_put(const char *content, const char *fmt, ...);
void tree_get(char *out, size_t n, const char *fmt, ...);
void tree_link(const char *target, const char *fmt, ...);
void tree_unlink(const char *fmt, ...);
void tree_remove(const char *fmt, ...);
#endif
