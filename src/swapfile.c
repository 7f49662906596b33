/*
 * swapfile.c - whole-page slots in a private file (see swapfile.h).
 *
 * Slot allocation is a bitmap (one bit per slot, set = in use) in memory of
 * our own, searched next-fit from the last slot handed out so that writeback
 * tends to append.  The file grows as slots are first written; it is never
 * truncated while open.
 *
 * Locking: sw->lock (a zs_lock) protects the bitmap and the cursor.  Reads
 * and writes take no lock: each slot has one owner at a time, the caller.
 */
#include "config.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "fault.h"
#include "swapfile.h"

struct zs_swapfile {
	struct zs_lock lock;
	int fd;
	uint64_t nslots;
	uint64_t used;          /* also read without the lock */
	uint64_t cursor;
	size_t bitmap_bytes;
	uint64_t *bitmap;
};

static int open_unlinked(const char *dir)
{
	char name[4096];
	int fd;

	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd >= 0 ? fd : -errno;
	/* No O_TMPFILE here: a unique name, unlinked as soon as it exists. */
	if ((size_t)snprintf(name, sizeof(name), "%s/zswapsim-swap.XXXXXX", dir) >= sizeof(name))
		return -ENAMETOOLONG;
	fd = mkostemp(name, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unlink(name);
	return fd;
}

static int open_path(const char *path)
{
	struct stat st;
	const char *tmp;
	int fd;

	if (!path || !*path) {
		tmp = getenv("TMPDIR");
		return open_unlinked(tmp && *tmp ? tmp : "/tmp");
	}
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return open_unlinked(path);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600) != 0) { /* an existing file keeps its mode otherwise */
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int zs_swapfile_open(const char *path, uint64_t max_bytes, struct zs_swapfile **out)
{
	struct zs_swapfile *sw;
	uint64_t nslots = max_bytes / ZS_PAGE_SIZE;
	int fd;

	if (nslots == 0)
		return -EINVAL;
	fd = open_path(path);
	if (fd < 0)
		return fd;
	sw = zs_map_anon(sizeof(*sw));
	if (!sw)
		goto nomem;
	sw->bitmap_bytes = (nslots + 63) / 64 * sizeof(uint64_t);
	sw->bitmap = zs_map_anon(sw->bitmap_bytes);
	if (!sw->bitmap)
		goto nomem;
	pthread_mutex_init(&sw->lock.mutex, NULL);
	sw->fd = fd;
	sw->nslots = nslots;
	*out = sw;
	return 0;
nomem:
	if (sw)
		zs_unmap(sw, sizeof(*sw));
	close(fd);
	return -ENOMEM;
}

void zs_swapfile_close(struct zs_swapfile *sw)
{
	if (!sw)
		return;
	close(sw->fd);
	pthread_mutex_destroy(&sw->lock.mutex);
	zs_unmap(sw->bitmap, sw->bitmap_bytes);
	zs_unmap(sw, sizeof(*sw));
}

/* The first clear bit at or after `from`, wrapping once; nslots if none. */
static uint64_t find_free(const struct zs_swapfile *sw, uint64_t from)
{
	uint64_t nwords = (sw->nslots + 63) / 64, i;

	for (i = 0; i <= nwords; i++) {
		uint64_t w = (from / 64 + i) % nwords;
		uint64_t bits = ~sw->bitmap[w];

		if (i == 0)
			bits &= ~0ULL << (from % 64);
		while (bits) {
			uint64_t slot = w * 64 + __builtin_ctzll(bits);

			if (slot < sw->nslots)
				return slot;
			bits &= bits - 1;
		}
	}
	return sw->nslots;
}

int zs_swapfile_alloc(struct zs_swapfile *sw, uint64_t *slot)
{
	uint64_t s;

	zs_lock(&sw->lock);
	s = sw->used < sw->nslots ? find_free(sw, sw->cursor) : sw->nslots;
	if (s < sw->nslots) {
		sw->bitmap[s / 64] |= 1ULL << (s % 64);
		zs_count_add(&sw->used, 1);
		sw->cursor = s + 1 == sw->nslots ? 0 : s + 1;
	}
	zs_unlock(&sw->lock);
	if (s == sw->nslots)
		return -ENOSPC;
	*slot = s;
	return 0;
}

void zs_swapfile_free(struct zs_swapfile *sw, uint64_t slot)
{
	uint64_t bit = 1ULL << (slot % 64);

	zs_lock(&sw->lock);
	/* A slot not in use (a caller's double free) must not skew the count. */
	if (slot < sw->nslots && (sw->bitmap[slot / 64] & bit)) {
		sw->bitmap[slot / 64] &= ~bit;
		zs_count_sub(&sw->used, 1);
	}
	zs_unlock(&sw->lock);
}

/* One whole page, through system calls made directly (zs_pio). */
static int transfer(struct zs_swapfile *sw, uint64_t slot, void *page, bool write)
{
	if (zs_fault_hit(write ? ZS_FAULT_SWAP_WRITE : ZS_FAULT_SWAP_READ))
		return -EIO;
	return zs_pio(sw->fd, page, ZS_PAGE_SIZE, (long)(slot * ZS_PAGE_SIZE), write);
}

int zs_swapfile_write(struct zs_swapfile *sw, uint64_t slot, const void *page)
{
	return transfer(sw, slot, (void *)page, true);
}

int zs_swapfile_read(struct zs_swapfile *sw, uint64_t slot, void *page)
{
	int saved = errno, ret = transfer(sw, slot, page, false);

	errno = saved; /* a handler must leave errno as it found it */
	return ret;
}

uint64_t zs_swapfile_slots(const struct zs_swapfile *sw)
{
	return sw->nslots;
}

uint64_t zs_swapfile_used(const struct zs_swapfile *sw)
{
	return zs_count_read(&sw->used);
}

bool zs_swapfile_slot_used(struct zs_swapfile *sw, uint64_t slot)
{
	bool used;

	zs_lock(&sw->lock);
	used = slot < sw->nslots && (sw->bitmap[slot / 64] >> (slot % 64) & 1);
	zs_unlock(&sw->lock);
	return used;
}

void zs_swapfile_after_fork_child(struct zs_swapfile *sw)
{
	zs_lock_reset(&sw->lock);
}
