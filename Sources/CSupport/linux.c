// Thin wrappers over Linux calls that Swift's Glibc module leaves out.
#define _GNU_SOURCE
#include "csupport.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

int rexstore_fsetxattr(int fd, const char *name, const char *value, size_t size) {
  return fsetxattr(fd, name, value, size, 0);
}

long rexstore_getxattr(const char *path, const char *name, void *value, size_t size) {
  return (long)getxattr(path, name, value, size);
}

int rexstore_exchange(const char *a, const char *b) {
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif
  return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE);
}

uint32_t rexstore_random32(void) {
  uint32_t value = 0;
  if (getrandom(&value, sizeof value, 0) != sizeof value) value = (uint32_t)getpid();
  return value;
}

long rexstore_fgetxattr(int fd, const char *name, void *value, size_t size) {
  return (long)fgetxattr(fd, name, value, size);
}

void rexstore_start_writeback(int fd, long long offset, long long length) {
  (void)sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
}

int rexstore_syncfs(int fd) { return syncfs(fd); }

int rexstore_set_direct(int fd, int on) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return -1;
  flags = on ? (flags | O_DIRECT) : (flags & ~O_DIRECT);
  return fcntl(fd, F_SETFL, flags);
}

int rexstore_openat(int dirfd, const char *name, int flags, unsigned int mode) {
  return openat(dirfd, name, flags, (mode_t)mode);
}

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

struct rexstore_open_how {
  unsigned long long flags;
  unsigned long long mode;
  unsigned long long resolve;
};

int rexstore_openat2_beneath(int dirfd, const char *path, int flags, unsigned int mode) {
  struct rexstore_open_how how = {0};
  how.flags = (unsigned long long)(unsigned int)flags;
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = 0x08 /* RESOLVE_BENEATH */ | 0x04 /* RESOLVE_NO_SYMLINKS */;
  return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

int rexstore_exchangeat(int dirfd, const char *a, const char *b) {
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif
  return (int)syscall(SYS_renameat2, dirfd, a, dirfd, b, RENAME_EXCHANGE);
}

int rexstore_is_symlink_at(int dirfd, const char *name) {
  struct stat st;
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return 0;
  return S_ISLNK(st.st_mode) ? 1 : 0;
}

int rexstore_fremovexattr(int fd, const char *name) { return fremovexattr(fd, name); }

int rexstore_reopen_direct(int fd) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  return open(path, O_WRONLY | O_CLOEXEC | O_DIRECT);
}

int rexstore_is_direct(int fd) {
  int flags = fcntl(fd, F_GETFL);
  return flags < 0 ? -1 : (flags & O_DIRECT) != 0;
}
