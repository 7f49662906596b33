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
 *
 * fork: parent and child share the open file, and each may free a slot the
 * other still needs and write it again.  So a fork retires the file written
 * so far (zs_swapfile_retire, before it): both processes still read their
 * slots from it and free them, but neither writes it again; each opens a
 * file of its own at its next allocation.  A slot names its file: the
 * generation in the high 32 bits, the page in the low.  A retired file is
 * closed when its last slot is freed.
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

#define GENS 64 /* files one process reads: the one it writes, and retired ones */
#define GEN_SHIFT 32

struct gen {
	int fd;                 /* -1: none */
	uint64_t live;          /* retired: slots still in use */
};

struct zs_swapfile {
	struct zs_lock lock;
	unsigned int cur;       /* the generation written: gens[cur] */
	bool read_only;         /* no generation left to retire to: no more writes */
	bool forking;           /* between retire and the fork: no new slot */
	struct gen gens[GENS];
	uint64_t nslots;
	uint64_t used;          /* in gens[cur]; also read without the lock */
	uint64_t retired;       /* in use in retired generations */
	uint64_t cursor;
	size_t bitmap_bytes;
	uint64_t *bitmap;
	char dir[4096];         /* where the next generation's file goes */
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

/* The directory for files after a fork: the named one, the named file's,
 * or $TMPDIR. */
static void set_dir(struct zs_swapfile *sw, const char *path)
{
	const char *tmp = getenv("TMPDIR"), *slash;
	struct stat st;

	if (!path || !*path)
		snprintf(sw->dir, sizeof(sw->dir), "%s", tmp && *tmp ? tmp : "/tmp");
	else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		snprintf(sw->dir, sizeof(sw->dir), "%s", path);
	else if ((slash = strrchr(path, '/')))
		snprintf(sw->dir, sizeof(sw->dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	else
		snprintf(sw->dir, sizeof(sw->dir), ".");
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
	int fd, i;

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
	for (i = 0; i < GENS; i++)
		sw->gens[i].fd = -1;
	sw->gens[0].fd = fd;
	sw->nslots = nslots;
	set_dir(sw, path);
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
	int i;

	if (!sw)
		return;
	for (i = 0; i < GENS; i++)
		if (sw->gens[i].fd >= 0)
			close(sw->gens[i].fd);
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

/* Under the lock: the file to write, opened after a fork.  0 or -errno. */
static int current_file(struct zs_swapfile *sw)
{
	int fd;

	if (sw->read_only || sw->forking)
		return -ENOSPC;
	if (sw->gens[sw->cur].fd >= 0)
		return 0;
	fd = open_unlinked(sw->dir);
	if (fd < 0)
		return fd;
	sw->gens[sw->cur].fd = fd;
	return 0;
}

int zs_swapfile_alloc(struct zs_swapfile *sw, uint64_t *slot)
{
	uint64_t s = sw->nslots;
	int ret;

	zs_lock(&sw->lock);
	ret = current_file(sw);
	if (!ret && sw->used < sw->nslots)
		s = find_free(sw, sw->cursor);
	if (!ret && s < sw->nslots) {
		sw->bitmap[s / 64] |= 1ULL << (s % 64);
		zs_count_add(&sw->used, 1);
		sw->cursor = s + 1 == sw->nslots ? 0 : s + 1;
		*slot = (uint64_t)sw->cur << GEN_SHIFT | s;
	}
	zs_unlock(&sw->lock);
	if (ret)
		return ret;
	return s < sw->nslots ? 0 : -ENOSPC;
}

static unsigned int gen_of(uint64_t slot)
{
	return (unsigned int)(slot >> GEN_SHIFT) % GENS;
}

static uint64_t page_of(uint64_t slot)
{
	return slot & ((UINT64_C(1) << GEN_SHIFT) - 1);
}

/* Under the lock: a retired generation's slot is freed. */
static void free_retired(struct zs_swapfile *sw, struct gen *g)
{
	if (!g->live)
		return;
	zs_count_sub(&sw->retired, 1);
	if (--g->live == 0 && g->fd >= 0) {
		close(g->fd);
		g->fd = -1;
	}
}

void zs_swapfile_free(struct zs_swapfile *sw, uint64_t slot)
{
	uint64_t s = page_of(slot), bit = 1ULL << (s % 64);

	zs_lock(&sw->lock);
	if (gen_of(slot) != sw->cur)
		free_retired(sw, &sw->gens[gen_of(slot)]);
	/* A slot not in use (a caller's double free) must not skew the count. */
	else if (s < sw->nslots && (sw->bitmap[s / 64] & bit)) {
		sw->bitmap[s / 64] &= ~bit;
		zs_count_sub(&sw->used, 1);
	}
	zs_unlock(&sw->lock);
}

int zs_swapfile_retire(struct zs_swapfile *sw)
{
	unsigned int i, next = GENS;

	zs_lock(&sw->lock);
	sw->forking = true;
	for (i = 1; i < GENS && next == GENS; i++)
		if (sw->gens[(sw->cur + i) % GENS].fd < 0)
			next = (sw->cur + i) % GENS;
	if (sw->used && next == GENS) {
		sw->read_only = true; /* slots stay, nobody writes again */
	} else if (sw->used) {
		sw->gens[sw->cur].live = sw->used;
		zs_count_add(&sw->retired, sw->used);
		memset(sw->bitmap, 0, sw->bitmap_bytes);
		zs_count_sub(&sw->used, sw->used);
		sw->cursor = 0;
		sw->cur = next;
	}
	zs_unlock(&sw->lock);
	return sw->read_only ? -ENOSPC : 0;
}

/* One whole page, through system calls made directly (zs_pio). */
static int transfer(struct zs_swapfile *sw, uint64_t slot, void *page, bool write)
{
	int fd = __atomic_load_n(&sw->gens[gen_of(slot)].fd, __ATOMIC_RELAXED);

	if (zs_fault_hit(write ? ZS_FAULT_SWAP_WRITE : ZS_FAULT_SWAP_READ))
		return -EIO;
	if (fd < 0)
		return -EBADF;
	return zs_pio(fd, page, ZS_PAGE_SIZE, (long)(page_of(slot) * ZS_PAGE_SIZE), write);
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
	return zs_count_read(&sw->used) + zs_count_read(&sw->retired);
}

bool zs_swapfile_slot_used(struct zs_swapfile *sw, uint64_t slot)
{
	uint64_t s = page_of(slot);
	bool used;

	zs_lock(&sw->lock);
	if (gen_of(slot) != sw->cur)
		used = sw->gens[gen_of(slot)].live > 0;
	else
		used = s < sw->nslots && (sw->bitmap[s / 64] >> (s % 64) & 1);
	zs_unlock(&sw->lock);
	return used;
}

void zs_swapfile_fork_done(struct zs_swapfile *sw)
{
	zs_lock(&sw->lock);
	sw->forking = false;
	zs_unlock(&sw->lock);
}

/* The file the parent keeps writing (it held nothing at the fork, so it
 * was not retired) is not the child's to write: it opens its own. */
void zs_swapfile_after_fork_child(struct zs_swapfile *sw)
{
	zs_lock_reset(&sw->lock);
	sw->forking = false;
	if (!sw->read_only && sw->gens[sw->cur].fd >= 0) {
		close(sw->gens[sw->cur].fd);
		sw->gens[sw->cur].fd = -1;
	}
}
