/*
 * test_swapfile.c - the swap file (swapfile.h), in a private temporary
 * directory made with mkdtemp under $TMPDIR (or /tmp) and removed at exit.
 *
 * Privacy: a directory (or no path) gives a file nobody can open by name (the
 * directory stays empty); a named file is mode 0600 even when it existed with
 * another mode; a symbolic link is refused and its target left alone.
 * Slots: max_bytes / 4096 of them, allocation up to -ENOSPC and reuse after a
 * free.  Data: distinct pages in many slots read back byte for byte; injected
 * write and read failures give -EIO and change nothing.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "fault.h"
#include "pagegen.h"
#include "swapfile.h"
#include "tap.h"

static char dir[4096];

static void make_dir(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/zs-swapfile-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp %s failed\n", dir);
		exit(1);
	}
}

/* Remove the directory and whatever a test left in it. */
static void remove_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[8192];

	while (d && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

static const char *in_dir(const char *name)
{
	static char path[8192];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static int dir_entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	if (d)
		closedir(d);
	return n;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
	close(fd);
}

static bool has_text(const char *path, const char *text)
{
	char buf[256] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	return n == (ssize_t)strlen(text) && memcmp(buf, text, (size_t)n) == 0;
}

/* Open or bail out: for the tests that need a working file. */
static struct zs_swapfile *open_ok(const char *path, uint64_t bytes)
{
	struct zs_swapfile *sw = NULL;
	int ret = zs_swapfile_open(path, bytes, &sw);

	if (ret || !sw) {
		printf("Bail out! zs_swapfile_open(%s) = %d\n", path ? path : "NULL", ret);
		exit(1);
	}
	return sw;
}

static void test_unlinked(void)
{
	unsigned char page[ZS_PAGE_SIZE];
	struct zs_swapfile *sw = NULL;

	is(zs_swapfile_open(dir, 16 * ZS_PAGE_SIZE, &sw), 0, "open in a directory");
	is(dir_entries(), 0, "the directory shows no file");
	memset(page, 0x5A, sizeof(page));
	is(zs_swapfile_write(sw, 3, page), 0, "write a page to it");
	is(dir_entries(), 0, "still no file after a write");
	zs_swapfile_close(sw);

	setenv("TMPDIR", dir, 1); /* NULL and "" mean $TMPDIR */
	sw = NULL;
	is(zs_swapfile_open(NULL, 16 * ZS_PAGE_SIZE, &sw), 0, "open with path NULL");
	zs_swapfile_close(sw);
	sw = NULL;
	is(zs_swapfile_open("", 16 * ZS_PAGE_SIZE, &sw), 0, "open with path \"\"");
	is(dir_entries(), 0, "$TMPDIR shows no file either");
	zs_swapfile_close(sw);
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_mode & 07777 : (mode_t)-1;
}

static void test_named(void)
{
	const char *path = in_dir("swap");
	struct zs_swapfile *sw = NULL;
	struct stat st;

	umask(022);
	is(zs_swapfile_open(path, 8 * ZS_PAGE_SIZE, &sw), 0, "open a named file");
	is(mode_of(path), 0600, "a new named file is mode 0600");
	zs_swapfile_close(sw);
	ok(access(path, F_OK) == 0, "a named file is kept after close");

	write_text(path, "old contents", 0644);
	chmod(path, 0644);
	sw = NULL;
	is(zs_swapfile_open(path, 8 * ZS_PAGE_SIZE, &sw), 0, "open an existing 0644 file");
	is(mode_of(path), 0600, "it becomes mode 0600");
	ok(stat(path, &st) == 0 && st.st_size == 0, "and is truncated");
	zs_swapfile_close(sw);
	unlink(path);
}

static void test_symlinks(void)
{
	const char *target = strdup(in_dir("target"));
	const char *link = strdup(in_dir("link")), *dangling = strdup(in_dir("dangling"));
	struct zs_swapfile *sw = NULL;
	int ret;

	write_text(target, "keep me", 0644);
	if (symlink(target, link) || symlink(in_dir("nowhere"), dangling)) {
		ok(0, "symlinks created");
		return;
	}
	ret = zs_swapfile_open(link, 8 * ZS_PAGE_SIZE, &sw);
	ok(ret < 0, "a symlink to a file is refused (%d)", ret);
	is(ret, -ELOOP, "with -ELOOP (O_NOFOLLOW)");
	ok(has_text(target, "keep me"), "the link's target is neither truncated nor written");
	is(mode_of(target), 0644, "nor has its mode changed");
	ret = zs_swapfile_open(dangling, 8 * ZS_PAGE_SIZE, &sw);
	ok(ret < 0, "a dangling symlink is refused (%d)", ret);
	ok(access(in_dir("nowhere"), F_OK) != 0, "and its target is not created");
	unlink(link);
	unlink(dangling);
	unlink(target);
	free((void *)target);
	free((void *)link);
	free((void *)dangling);
}

static void test_open_errors(void)
{
	struct zs_swapfile *sw = NULL;
	int ret;

	is(zs_swapfile_open(dir, 0, &sw), -EINVAL, "max_bytes 0: -EINVAL");
	is(zs_swapfile_open(dir, ZS_PAGE_SIZE - 1, &sw), -EINVAL,
	   "max_bytes 4095: no slot, -EINVAL");
	ok(sw == NULL, "a failed open sets nothing");
	ret = zs_swapfile_open(in_dir("no/such/dir/swap"), 8 * ZS_PAGE_SIZE, &sw);
	is(ret, -ENOENT, "a path in a directory that does not exist: -ENOENT");
	ret = zs_swapfile_open(in_dir("nodir/"), 8 * ZS_PAGE_SIZE, &sw);
	ok(ret < 0 && ret > -4096, "a missing directory path with a slash: a -errno (%d)", ret);
	is(dir_entries(), 0, "failed opens leave nothing behind");
}

static void test_slots(void)
{
	struct zs_swapfile *sw = open_ok(dir, 10 * ZS_PAGE_SIZE + 100);
	uint64_t slot, seen = 0, i;
	int ret, bad = 0;

	is(zs_swapfile_slots(sw), 10, "max_bytes 10 pages + 100: 10 slots");
	is(zs_swapfile_used(sw), 0, "none used");
	ok(!zs_swapfile_slot_used(sw, 0), "slot 0 is free");
	for (i = 0; i < 10; i++) {
		ret = zs_swapfile_alloc(sw, &slot);
		if (ret || slot >= 10 || (seen & (1ULL << slot)) ||
		    !zs_swapfile_slot_used(sw, slot))
			bad++;
		else
			seen |= 1ULL << slot;
	}
	is(bad, 0, "10 allocations give 10 distinct slots, each marked used");
	is(zs_swapfile_used(sw), 10, "10 used");
	slot = 99;
	is(zs_swapfile_alloc(sw, &slot), -ENOSPC, "the 11th allocation: -ENOSPC");
	is(slot, 99, "and leaves *slot alone");
	zs_swapfile_free(sw, 4);
	ok(!zs_swapfile_slot_used(sw, 4), "a freed slot is not used");
	is(zs_swapfile_used(sw), 9, "9 used");
	is(zs_swapfile_alloc(sw, &slot), 0, "allocation works again");
	is(slot, 4, "and gets the freed slot");
	ok(!zs_swapfile_slot_used(sw, 10) && !zs_swapfile_slot_used(sw, 1000),
	   "slots past the end are never used");
	zs_swapfile_close(sw);
}

#define NPAGES 300

/* Pages written in a scattered order to every slot, then read back. */
static void test_round_trip(void)
{
	struct zs_swapfile *sw = open_ok(dir, NPAGES * ZS_PAGE_SIZE);
	unsigned char page[ZS_PAGE_SIZE], back[ZS_PAGE_SIZE];
	uint64_t i, slot;
	int werr = 0, rerr = 0, diff = 0;

	for (i = 0; i < NPAGES; i++) {
		slot = (i * 7) % NPAGES; /* 7 and 300 are coprime: every slot once */
		zs_page_generate(zs_page_kind_mixed(slot), slot, page);
		werr += zs_swapfile_write(sw, slot, page) != 0;
	}
	for (i = 0; i < NPAGES; i += 3) { /* overwrite every third slot */
		zs_page_generate(ZS_PAGE_RANDOM, 1000 + i, page);
		werr += zs_swapfile_write(sw, i, page) != 0;
	}
	for (slot = 0; slot < NPAGES; slot++) {
		if (slot % 3 == 0)
			zs_page_generate(ZS_PAGE_RANDOM, 1000 + slot, page);
		else
			zs_page_generate(zs_page_kind_mixed(slot), slot, page);
		memset(back, 0, sizeof(back));
		rerr += zs_swapfile_read(sw, slot, back) != 0;
		diff += memcmp(page, back, ZS_PAGE_SIZE) != 0;
	}
	is(werr, 0, "%d page writes succeed", NPAGES + NPAGES / 3);
	is(rerr, 0, "%d page reads succeed", NPAGES);
	is(diff, 0, "every slot reads back its last page, byte for byte");
	zs_swapfile_close(sw);
}

/* A fork retires the file written so far: its slots still read back and
 * free, new slots go to a new file of the same directory, and a retired
 * file is closed once its last slot is freed.  With nothing written, no
 * file is retired. */
static void test_retire(void)
{
	struct zs_swapfile *sw = open_ok(dir, 16 * ZS_PAGE_SIZE);
	unsigned char page[ZS_PAGE_SIZE], back[ZS_PAGE_SIZE];
	uint64_t old[2], fresh, none;
	int i;

	is(zs_swapfile_retire(sw), 0, "retire with nothing written");
	zs_swapfile_fork_done(sw);
	is(zs_swapfile_alloc(sw, &old[0]), 0, "the same file is written after it");
	ok(old[0] >> 32 == 0, "(generation 0)");
	zs_swapfile_alloc(sw, &old[1]);
	for (i = 0; i < 2; i++) {
		zs_page_generate(ZS_PAGE_TEXT, (uint64_t)i, page);
		zs_swapfile_write(sw, old[i], page);
	}
	is(zs_swapfile_retire(sw), 0, "retire a file that holds two slots");
	is(zs_swapfile_alloc(sw, &none), -ENOSPC, "no slot until the fork is done");
	zs_swapfile_fork_done(sw);
	is(zs_swapfile_alloc(sw, &fresh), 0, "then a slot...");
	ok(fresh >> 32 != 0, "...of another file");
	zs_page_generate(ZS_PAGE_HEAP, 9, page);
	zs_swapfile_write(sw, fresh, page);
	is(zs_swapfile_used(sw), 3, "three slots in use in all");
	zs_page_generate(ZS_PAGE_TEXT, 1, page);
	ok(zs_swapfile_read(sw, old[1], back) == 0 && memcmp(page, back, ZS_PAGE_SIZE) == 0,
	   "a retired slot reads back");
	zs_swapfile_free(sw, old[0]);
	zs_swapfile_free(sw, old[1]);
	is(zs_swapfile_read(sw, old[1], back), -EBADF, "its file is closed with its last slot");
	zs_page_generate(ZS_PAGE_HEAP, 9, page);
	ok(zs_swapfile_read(sw, fresh, back) == 0 && memcmp(page, back, ZS_PAGE_SIZE) == 0,
	   "the new file's slot reads back");
	is(zs_swapfile_used(sw), 1, "one slot in use");
	zs_swapfile_close(sw);
}

static void test_faults(void)
{
	struct zs_swapfile *sw = open_ok(dir, 8 * ZS_PAGE_SIZE);
	unsigned char a[ZS_PAGE_SIZE], b[ZS_PAGE_SIZE], back[ZS_PAGE_SIZE];

	zs_page_generate(ZS_PAGE_TEXT, 1, a);
	zs_page_generate(ZS_PAGE_HEAP, 2, b);
	is(zs_swapfile_write(sw, 2, a), 0, "write page a to slot 2");
	zs_fault_arm(ZS_FAULT_SWAP_WRITE, 0, 1);
	is(zs_swapfile_write(sw, 2, b), -EIO, "injected write failure: -EIO");
	is(zs_swapfile_read(sw, 2, back), 0, "read slot 2");
	ok(memcmp(back, a, ZS_PAGE_SIZE) == 0, "the failed write changed nothing");
	zs_fault_arm(ZS_FAULT_SWAP_READ, 1, 1);
	is(zs_swapfile_read(sw, 2, back), 0, "the read fault passes the first read");
	errno = EDOM;
	is(zs_swapfile_read(sw, 2, back), -EIO, "then injects -EIO");
	is(errno, EDOM, "a failed read leaves errno alone");
	is(zs_swapfile_read(sw, 2, back), 0, "one failure only");
	is(zs_swapfile_write(sw, 2, b), 0, "writes work again");
	is(zs_swapfile_read(sw, 2, back), 0, "read it back");
	ok(memcmp(back, b, ZS_PAGE_SIZE) == 0, "page b is there");
	is(zs_swapfile_read(sw, 7, back), -EIO, "a slot past the end of the file: -EIO");
	zs_swapfile_close(sw);
}

int main(void)
{
	make_dir();
	test_unlinked();
	test_named();
	test_symlinks();
	test_open_errors();
	test_slots();
	test_round_trip();
	test_retire();
	test_faults();
	remove_dir();
	return done_testing();
}
