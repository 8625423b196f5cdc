// Thin wrappers over Linux calls that Swift's Glibc module leaves out.
#define _GNU_SOURCE
#include "csupport.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/random.h>
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
