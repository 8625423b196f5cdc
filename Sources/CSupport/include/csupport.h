#ifndef REXSTORE_CSUPPORT_H
#define REXSTORE_CSUPPORT_H

#include <stddef.h>
#include <stdint.h>

/// Extends a CRC-32C (Castagnoli) over `length` bytes. Start with 0; the result is the finished CRC
/// (pre- and post-inversion are applied inside), so calls can be chained over a stream.
uint32_t rexstore_crc32c_extend(uint32_t crc, const void *bytes, size_t length);

/// The CRC-32C of two byte strings one after the other, from their CRCs and the second's length
/// (crc32c(A+B) = combine(crc32c(A), crc32c(B), len(B))): ranges fetched in parallel are verified as
/// one object.
uint32_t rexstore_crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t length2);

/// Linux calls that Swift's Glibc module does not expose (sys/xattr.h, sys/random.h, renameat2).
int rexstore_fsetxattr(int fd, const char *name, const char *value, size_t size);
long rexstore_getxattr(const char *path, const char *name, void *value, size_t size);
/// Atomically swaps two paths (renameat2 with RENAME_EXCHANGE); 0 on success, -1 and errno otherwise.
int rexstore_exchange(const char *a, const char *b);
uint32_t rexstore_random32(void);
/// Starts writeback of a written range without waiting for it (sync_file_range), so the fsync that
/// ends a large write has little left to flush.
void rexstore_start_writeback(int fd, long long offset, long long length);
/// Turns O_DIRECT on (`on` 1) or off (0) for an open file; 0 on success, -1 (errno set) when the file
/// system refuses it.
int rexstore_set_direct(int fd, int on);
/// A second descriptor of the open file `fd`, write-only with O_DIRECT (via /proc/self/fd); -1 if refused.
int rexstore_reopen_direct(int fd);
/// 1 when `fd` has O_DIRECT set, 0 when not, -1 on error.
int rexstore_is_direct(int fd);
long rexstore_fgetxattr(int fd, const char *name, void *value, size_t size);
/// Flushes every dirty page of the file system holding `fd` (syncfs): one call instead of one fsync
/// per file when a batch of downloads is made durable together.
int rexstore_syncfs(int fd);

/// openat(2) without the variadic mode argument, for Swift.
int rexstore_openat(int dirfd, const char *name, int flags, unsigned int mode);
/// openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS: `path` is resolved below `dirfd` without
/// following any symbolic link. -1 with errno ENOSYS where the kernel lacks openat2 (before 5.6).
int rexstore_openat2_beneath(int dirfd, const char *path, int flags, unsigned int mode);
/// Swaps two names in one directory atomically (renameat2 with RENAME_EXCHANGE).
int rexstore_exchangeat(int dirfd, const char *a, const char *b);
/// 1 when `name` in `dirfd` is a symbolic link (not followed), else 0.
int rexstore_is_symlink_at(int dirfd, const char *name);

int rexstore_fremovexattr(int fd, const char *name);

#endif
