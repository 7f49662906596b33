/*
 * swapfile.h - the swap device behind the pool: a file of whole-page slots.
 *
 * The engine writes back the oldest compressed pages here when the pool is
 * at its limit, as zswap writes back to a swap device.  The file is private:
 * created mode 0600 with O_NOFOLLOW, unlinked at once unless the user named
 * it, so no other user can read a program's memory from it.
 */
#ifndef ZS_SWAPFILE_H
#define ZS_SWAPFILE_H

#include <stdbool.h>
#include <stdint.h>

struct zs_swapfile;

/* The size that stands for "no limit": the file system's free space ends it
 * first (the slot bitmap for it is reserved, not allocated). */
#define ZS_SWAP_UNLIMITED (UINT64_C(1) << 40)

/*
 * Open a swap file of at most `max_bytes` (rounded down to whole pages).
 * `path` NULL or "": an unlinked file in $TMPDIR (or /tmp).  A directory: an
 * unlinked file in it.  Anything else: that file, created or truncated, kept
 * after exit.  0, or -errno (e.g. -ENOENT, -EACCES, -EINVAL for no slot).
 */
int zs_swapfile_open(const char *path, uint64_t max_bytes, struct zs_swapfile **out);
void zs_swapfile_close(struct zs_swapfile *sw);

/* A free slot in *slot, or -ENOSPC when all are in use.  Thread-safe. */
int zs_swapfile_alloc(struct zs_swapfile *sw, uint64_t *slot);
/* Thread-safe; async-signal-safe. */
void zs_swapfile_free(struct zs_swapfile *sw, uint64_t slot);
/* Write one page: 0, or -errno (-EIO, -ENOSPC from the file system).
 * Thread-safe (pwrite). */
int zs_swapfile_write(struct zs_swapfile *sw, uint64_t slot, const void *page);
/* Read one page: 0, or -errno.  Thread-safe; async-signal-safe (pread). */
int zs_swapfile_read(struct zs_swapfile *sw, uint64_t slot, void *page);

/* Before fork: the file written so far, if it holds anything, is retired
 * (both processes read and free its slots, neither writes it again; each
 * opens a new file at its next allocation).  No slot is handed out until
 * zs_swapfile_fork_done (in the parent) or the child's reset.  0, or
 * -ENOSPC when too many files are retired already: then no process writes
 * again.  Thread-safe. */
int zs_swapfile_retire(struct zs_swapfile *sw);
void zs_swapfile_fork_done(struct zs_swapfile *sw);
/* In a child after fork: reset the lock, and leave the parent's file (an
 * empty one, not retired) to the parent. */
void zs_swapfile_after_fork_child(struct zs_swapfile *sw);
/* Is the slot allocated?  For validators. */
bool zs_swapfile_slot_used(struct zs_swapfile *sw, uint64_t slot);
uint64_t zs_swapfile_slots(const struct zs_swapfile *sw);
uint64_t zs_swapfile_used(const struct zs_swapfile *sw);

#endif
