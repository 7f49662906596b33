/*
 * syscalls.c - the program's system calls that hand the kernel its memory.
 *
 * The kernel never faults on a program's behalf: given a buffer that is
 * sampled or frozen, a system call fails with EFAULT (a datagram is lost).
 * Each wrapper here pins the buffers the kernel will read or write for the
 * duration of the call (src/pager.c: their pages are made present first and
 * the clock leaves them alone), then calls the C library's function.
 *
 * glibc's own internal calls cannot be interposed; the buffers they use
 * (stdio's, opendir's, ...) are allocated by glibc itself, and malloc.c
 * serves every allocation made from inside the C library outside the
 * managed reservation, so those never need a pin.
 */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <termios.h>
#include <unistd.h>

#include "shim.h"

#define MAX_IOV_PINS 8

static bool active(void)
{
	return __atomic_load_n(&shim.state, __ATOMIC_ACQUIRE) == SHIM_ON;
}

static int pin(const void *buf, size_t len)
{
	shim_dispatch_rearm();
	return buf && len && active() ? zs_pager_pin(&shim.pager, (uintptr_t)buf, len) : -1;
}

static void unpin(int slot)
{
	if (slot >= 0)
		zs_pager_unpin(&shim.pager, slot);
}

/* Pin an iovec array and up to MAX_IOV_PINS of its buffers (the rest are
 * made present, not held). */
struct iov_pins {
	int n, slot[MAX_IOV_PINS + 1];
};

static void pin_iov(struct iov_pins *p, const struct iovec *iov, int cnt)
{
	int i;

	p->n = 0;
	if (!active() || cnt <= 0)
		return;
	p->slot[p->n++] = pin(iov, (size_t)cnt * sizeof(*iov));
	for (i = 0; i < cnt; i++) {
		int s = pin(iov[i].iov_base, iov[i].iov_len);

		if (p->n <= MAX_IOV_PINS)
			p->slot[p->n++] = s;
		else
			unpin(s);
	}
}

static void unpin_iov(struct iov_pins *p)
{
	int i;

	for (i = 0; i < p->n; i++)
		unpin(p->slot[i]);
}

#define REAL(name) \
	static __typeof__(name) *real_##name; \
	if (!real_##name) \
		real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

/* A call failed with EFAULT on a managed buffer it could not hold (every
 * pin slot taken: the pages were made present, but reclaim may have taken
 * them back while the call blocked): make them present again and say
 * whether to retry.  Files, pipes and stream sockets fail such a call
 * before they consume anything, so the retry loses nothing; datagram
 * receives do not, and are not retried (PINNED1_ONCE). */
static bool refault(int slot, int err, const void *buf, size_t len, int *tries)
{
	if (slot >= 0 || err != EFAULT || !buf || !shim_manages(buf) || ++*tries > 8)
		return false;
	unpin(pin(buf, len));
	return true;
}

/* One buffer: pin, call (again after EFAULT when `retry`, see refault),
 * unpin.  PINNED1_ONCE: calls that may have consumed or written part of
 * their data before the EFAULT (a datagram, stdio's buffered text). */
#define PINNED1_R(retry, type, name, params, buf, len, args) \
	SHIM_EXPORT type name params \
	{ \
		REAL(name); \
		int slot_ = pin((buf), (len)), err_, tries_ = 0; \
		type ret_; \
		do { \
			ret_ = real_##name args; \
			err_ = errno; \
		} while ((retry) && ret_ == (type)-1 && refault(slot_, err_, (buf), (len), &tries_)); \
		unpin(slot_); \
		errno = err_; \
		return ret_; \
	}
#define PINNED1(...) PINNED1_R(1, __VA_ARGS__)
#define PINNED1_ONCE(...) PINNED1_R(0, __VA_ARGS__)

PINNED1(ssize_t, read, (int fd, void *buf, size_t n), buf, n, (fd, buf, n))
PINNED1(ssize_t, write, (int fd, const void *buf, size_t n), buf, n, (fd, buf, n))
PINNED1(ssize_t, pread, (int fd, void *buf, size_t n, off_t off), buf, n, (fd, buf, n, off))
PINNED1(ssize_t, pwrite, (int fd, const void *buf, size_t n, off_t off), buf, n, (fd, buf, n, off))
PINNED1(ssize_t, pread64, (int fd, void *buf, size_t n, off64_t off), buf, n, (fd, buf, n, off))
PINNED1(ssize_t, pwrite64, (int fd, const void *buf, size_t n, off64_t off), buf, n,
	(fd, buf, n, off))
PINNED1_ONCE(ssize_t, recv, (int fd, void *buf, size_t n, int flags), buf, n, (fd, buf, n, flags))
PINNED1(ssize_t, send, (int fd, const void *buf, size_t n, int flags), buf, n, (fd, buf, n, flags))
PINNED1(size_t, fread, (void *p, size_t size, size_t n, FILE *f), p, size * n, (p, size, n, f))
PINNED1(size_t, fwrite, (const void *p, size_t size, size_t n, FILE *f), p, size * n,
	(p, size, n, f))
#undef fread_unlocked
#undef fwrite_unlocked
PINNED1(size_t, fread_unlocked, (void *p, size_t size, size_t n, FILE *f), p, size * n,
	(p, size, n, f))
PINNED1(size_t, fwrite_unlocked, (const void *p, size_t size, size_t n, FILE *f), p, size * n,
	(p, size, n, f))
/* stdio hands what does not fit its buffer to write(2) straight from the
 * caller's memory (fwrite above; fputs and puts after a strlen that made
 * the pages present, but reclaim could take them back in between). */
PINNED1_ONCE(int, fputs, (const char *str, FILE *f), str, strlen(str) + 1, (str, f))
PINNED1_ONCE(int, puts, (const char *str), str, strlen(str) + 1, (str))
#undef fputs_unlocked
PINNED1_ONCE(int, fputs_unlocked, (const char *str, FILE *f), str, strlen(str) + 1, (str, f))
PINNED1(int, fstat, (int fd, struct stat *st), st, sizeof(*st), (fd, st))
PINNED1(int, poll, (struct pollfd *fds, nfds_t n, int timeout), fds, n * sizeof(*fds),
	(fds, n, timeout))
PINNED1(int, epoll_wait, (int epfd, struct epoll_event *ev, int max, int timeout), ev,
	(size_t)(max > 0 ? max : 0) * sizeof(*ev), (epfd, ev, max, timeout))
PINNED1(int, pipe, (int fds[2]), fds, 2 * sizeof(int), (fds))
PINNED1(int, pipe2, (int fds[2], int flags), fds, 2 * sizeof(int), (fds, flags))
PINNED1(int, socketpair, (int d, int type, int proto, int sv[2]), sv, 2 * sizeof(int),
	(d, type, proto, sv))
PINNED1(ssize_t, getdents64, (int fd, void *buf, size_t n), buf, n, (fd, buf, n))
PINNED1(ssize_t, getrandom, (void *buf, size_t n, unsigned int flags), buf, n, (buf, n, flags))
PINNED1(char *, getcwd, (char *buf, size_t n), buf, n, (buf, n))
PINNED1(int, uname, (struct utsname *u), u, sizeof(*u), (u))

/* Futex words.  A thread blocked in FUTEX_WAIT that a signal interrupts
 * has its wait restarted by the kernel (SA_RESTART), which reads the word
 * again: on a frozen page that fails with EFAULT, and glibc's condition
 * variables, semaphores and read-write locks abort on it.  The object stays
 * pinned while a thread may wait on it.  (A mutex's lock just retries, and
 * a wake never reads the word.)  pthread_cond_* have an older version in
 * glibc; the one programs link against is asked for by name. */
#define REAL_COND(name) \
	static __typeof__(name) *real_##name; \
	if (!real_##name) \
		real_##name = (__typeof__(name) *)dlvsym(RTLD_NEXT, #name, "GLIBC_2.3.2"); \
	if (!real_##name) \
		real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)
#define PINNED_WAIT(real, type, name, params, obj, args) \
	SHIM_EXPORT type name params \
	{ \
		real(name); \
		int slot_ = pin((obj), sizeof(*(obj))), err_; \
		type ret_; \
		pthread_cleanup_push(unpin_cancelled, &slot_); \
		ret_ = real_##name args; \
		err_ = errno; \
		pthread_cleanup_pop(1); \
		errno = err_; \
		return ret_; \
	}

/* A waiting thread cancelled (or returning) lets its pin go. */
static void unpin_cancelled(void *slot)
{
	unpin(*(int *)slot);
}

PINNED_WAIT(REAL_COND, int, pthread_cond_wait, (pthread_cond_t *c, pthread_mutex_t *m), c, (c, m))
PINNED_WAIT(REAL_COND, int, pthread_cond_timedwait,
	    (pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *t), c, (c, m, t))
PINNED_WAIT(REAL, int, pthread_cond_clockwait,
	    (pthread_cond_t *c, pthread_mutex_t *m, clockid_t id, const struct timespec *t), c,
	    (c, m, id, t))
PINNED_WAIT(REAL, int, sem_wait, (sem_t *sem), sem, (sem))
PINNED_WAIT(REAL, int, sem_timedwait, (sem_t *sem, const struct timespec *t), sem, (sem, t))
PINNED_WAIT(REAL, int, sem_clockwait, (sem_t *sem, clockid_t id, const struct timespec *t), sem,
	    (sem, id, t))
PINNED_WAIT(REAL, int, pthread_rwlock_rdlock, (pthread_rwlock_t *rw), rw, (rw))
PINNED_WAIT(REAL, int, pthread_rwlock_wrlock, (pthread_rwlock_t *rw), rw, (rw))
PINNED_WAIT(REAL, int, pthread_rwlock_timedrdlock, (pthread_rwlock_t *rw, const struct timespec *t),
	    rw, (rw, t))
PINNED_WAIT(REAL, int, pthread_rwlock_timedwrlock, (pthread_rwlock_t *rw, const struct timespec *t),
	    rw, (rw, t))
PINNED_WAIT(REAL, int, pthread_rwlock_clockrdlock,
	    (pthread_rwlock_t *rw, clockid_t id, const struct timespec *t), rw, (rw, id, t))
PINNED_WAIT(REAL, int, pthread_rwlock_clockwrlock,
	    (pthread_rwlock_t *rw, clockid_t id, const struct timespec *t), rw, (rw, id, t))
PINNED_WAIT(REAL, int, pthread_barrier_wait, (pthread_barrier_t *b), b, (b))

/* select and pselect: three descriptor sets and the timeout. */
#define SELECT_WRAPPER(name, tv_type, ...) \
	SHIM_EXPORT int name(int n, fd_set *r, fd_set *w, fd_set *x, tv_type *tv __VA_ARGS__) \
	{ \
		REAL(name); \
		int s1_ = pin(r, sizeof(*r)), s2_ = pin(w, sizeof(*w)), s3_ = pin(x, sizeof(*x)); \
		int s4_ = pin(tv, sizeof(*tv)), ret_, err_; \
		ret_ = real_##name(n, r, w, x, tv SELECT_ARGS_##name); \
		err_ = errno; \
		unpin(s1_), unpin(s2_), unpin(s3_), unpin(s4_); \
		errno = err_; \
		return ret_; \
	}
#define SELECT_ARGS_select
#define SELECT_ARGS_pselect , mask
SELECT_WRAPPER(select, struct timeval)
SELECT_WRAPPER(pselect, const struct timespec, , const sigset_t *mask)

static int pin_str(const char *s)
{
	return s && active() ? pin(s, strlen(s) + 1) : -1;
}

/* A path and one buffer. */
#define PINNED_PATH(type, name, params, path, buf, len, args) \
	SHIM_EXPORT type name params \
	{ \
		REAL(name); \
		int s1_ = pin_str(path), s2_ = pin((buf), (len)); \
		type ret_ = real_##name args; \
		int err_ = errno; \
		unpin(s1_); \
		unpin(s2_); \
		errno = err_; \
		return ret_; \
	}

PINNED_PATH(int, stat, (const char *path, struct stat *st), path, st, sizeof(*st), (path, st))
PINNED_PATH(int, lstat, (const char *path, struct stat *st), path, st, sizeof(*st), (path, st))
PINNED_PATH(int, fstatat, (int dirfd, const char *path, struct stat *st, int flags), path, st,
	    sizeof(*st), (dirfd, path, st, flags))
PINNED_PATH(ssize_t, readlink, (const char *path, char *buf, size_t n), path, buf, n,
	    (path, buf, n))
PINNED_PATH(int, access, (const char *path, int mode), path, NULL, 0, (path, mode))
PINNED_PATH(int, unlink, (const char *path), path, NULL, 0, (path))
PINNED_PATH(int, mkdir, (const char *path, mode_t mode), path, NULL, 0, (path, mode))
PINNED_PATH(int, chdir, (const char *path), path, NULL, 0, (path))
PINNED_PATH(FILE *, fopen, (const char *path, const char *mode), path, mode, strlen(mode) + 1,
	    (path, mode))
PINNED_PATH(FILE *, fopen64, (const char *path, const char *mode), path, mode,
	    strlen(mode) + 1, (path, mode))
PINNED_PATH(DIR *, opendir, (const char *path), path, NULL, 0, (path))

SHIM_EXPORT int rename(const char *from, const char *to)
{
	REAL(rename);
	int s1 = pin_str(from), s2 = pin_str(to), ret = real_rename(from, to), err = errno;

	unpin(s1);
	unpin(s2);
	errno = err;
	return ret;
}

/* open's mode is there only with O_CREAT or O_TMPFILE. */
#define OPEN_WRAPPER(name, ...) \
	SHIM_EXPORT int name(__VA_ARGS__ const char *path, int flags, ...) \
	{ \
		REAL(name); \
		mode_t mode = 0; \
		va_list ap; \
		int slot, ret, err; \
		va_start(ap, flags); \
		if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) \
			mode = va_arg(ap, mode_t); \
		va_end(ap); \
		slot = pin_str(path); \
		ret = real_##name(OPEN_ARGS_##name path, flags, mode); \
		err = errno; \
		unpin(slot); \
		errno = err; \
		return ret; \
	}
#define OPEN_ARGS_open
#define OPEN_ARGS_open64
#define OPEN_ARGS_openat dirfd,
#define OPEN_ARGS_openat64 dirfd,
OPEN_WRAPPER(open)
OPEN_WRAPPER(open64)
OPEN_WRAPPER(openat, int dirfd,)
OPEN_WRAPPER(openat64, int dirfd,)

/* ---- vectors and messages ---- */

#define PINNED_IOV(type, name, params, iov, cnt, args) \
	SHIM_EXPORT type name params \
	{ \
		REAL(name); \
		struct iov_pins p_; \
		type ret_; \
		int err_; \
		pin_iov(&p_, (iov), (cnt)); \
		ret_ = real_##name args; \
		err_ = errno; \
		unpin_iov(&p_); \
		errno = err_; \
		return ret_; \
	}

PINNED_IOV(ssize_t, readv, (int fd, const struct iovec *iov, int cnt), iov, cnt, (fd, iov, cnt))
PINNED_IOV(ssize_t, writev, (int fd, const struct iovec *iov, int cnt), iov, cnt, (fd, iov, cnt))
PINNED_IOV(ssize_t, preadv, (int fd, const struct iovec *iov, int cnt, off_t off), iov, cnt,
	   (fd, iov, cnt, off))
PINNED_IOV(ssize_t, pwritev, (int fd, const struct iovec *iov, int cnt, off_t off), iov, cnt,
	   (fd, iov, cnt, off))

/* recvfrom: the data, the address and its length. */
static void pin_from(int slots[3], void *buf, size_t n, struct sockaddr *addr, socklen_t *alen)
{
	slots[0] = pin(buf, n);
	slots[1] = pin(addr, alen ? *alen : 0);
	slots[2] = pin(alen, sizeof(*alen));
}

static void unpin_keep_errno(const int *slots, int n)
{
	int err = errno, i;

	for (i = 0; i < n; i++)
		unpin(slots[i]);
	errno = err;
}

/* recvfrom/sendto: the data and the address. */
SHIM_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
			     socklen_t *alen)
{
	REAL(recvfrom);
	int slots[3];
	ssize_t ret;

	pin_from(slots, buf, n, addr, alen);
	ret = real_recvfrom(fd, buf, n, flags, addr, alen);
	unpin_keep_errno(slots, 3);
	return ret;
}

SHIM_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
			   const struct sockaddr *addr, socklen_t alen)
{
	REAL(sendto);
	int s1 = pin(buf, n), s2 = pin(addr, alen);
	ssize_t ret = real_sendto(fd, buf, n, flags, addr, alen);
	int err = errno;

	unpin(s1);
	unpin(s2);
	errno = err;
	return ret;
}

/* A message: its header, name, control data and data vector. */
#define PINNED_MSG(name, constness) \
	SHIM_EXPORT ssize_t name(int fd, constness struct msghdr *m, int flags) \
	{ \
		REAL(name); \
		int s1 = pin(m, sizeof(*m)), s2 = pin(m->msg_name, m->msg_namelen); \
		int s3 = pin(m->msg_control, m->msg_controllen); \
		struct iov_pins p; \
		ssize_t ret; \
		int err; \
		pin_iov(&p, m->msg_iov, (int)m->msg_iovlen); \
		ret = real_##name(fd, m, flags); \
		err = errno; \
		unpin_iov(&p); \
		unpin(s1); \
		unpin(s2); \
		unpin(s3); \
		errno = err; \
		return ret; \
	}

PINNED_MSG(recvmsg, )
PINNED_MSG(sendmsg, const)

/* ---- exec and spawn: every string of argv and envp ---- */

/* Stop the clock and make the strings present: the new image is built from
 * them by the kernel, in one call that does not block for long.  The clock
 * is held off by a deadline, not a count: a vfork child execs in its
 * parent's memory and never comes back to undo what it set there. */
static void strings_present(char *const *v)
{
	for (; v && *v; v++)
		unpin(pin_str(*v));
}

static uint64_t pause_for_exec(const char *path, char *const argv[], char *const envp[])
{
	uint64_t until = zs_now_ns() + SHIM_EXEC_PAUSE_NS;

	if (!active())
		return 0;
	pthread_mutex_lock(&shim.map_lock);
	__atomic_store_n(&shim.exec_until_ns, until, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&shim.map_lock);
	unpin(pin_str(path));
	unpin(pin(argv, sizeof(*argv)));
	strings_present(argv);
	strings_present(envp);
	for (; argv && *argv; argv++)
		unpin(pin(argv, sizeof(*argv) * 2));
	for (; envp && *envp; envp++)
		unpin(pin(envp, sizeof(*envp) * 2));
	return until;
}

/* The exec failed (or the spawn returned): the clock may go on, unless
 * another exec paused it again meanwhile.  Whether to try again (`efault`:
 * the strings were taken back meanwhile, so the kernel read none of them). */
static bool resume_after_exec(uint64_t paused, bool efault, int *tries)
{
	if (!active())
		return false;
	__atomic_compare_exchange_n(&shim.exec_until_ns, &paused, 0, false, __ATOMIC_SEQ_CST,
				    __ATOMIC_SEQ_CST);
	return efault && ++*tries <= 3;
}

/* `efault`: the call failed with EFAULT (exec: -1 and errno; spawn: its
 * return value). */
#define EXEC_WRAPPER(name, params, path, argv, envp, args, efault) \
	SHIM_EXPORT int name params \
	{ \
		REAL(name); \
		int ret_, err_, tries_ = 0; \
		uint64_t paused_; \
		do { \
			paused_ = pause_for_exec(path, argv, envp); \
			errno = 0; \
			ret_ = real_##name args; \
			err_ = errno; \
		} while (resume_after_exec(paused_, efault, &tries_)); \
		errno = err_; \
		return ret_; \
	}
#define EXEC_EFAULT (ret_ == -1 && err_ == EFAULT)
#define SPAWN_EFAULT (ret_ == EFAULT)

EXEC_WRAPPER(execve, (const char *path, char *const argv[], char *const envp[]), path, argv, envp,
	     (path, argv, envp), EXEC_EFAULT)
EXEC_WRAPPER(execv, (const char *path, char *const argv[]), path, argv, environ, (path, argv),
	     EXEC_EFAULT)
EXEC_WRAPPER(execvp, (const char *file, char *const argv[]), file, argv, environ, (file, argv),
	     EXEC_EFAULT)
EXEC_WRAPPER(execvpe, (const char *file, char *const argv[], char *const envp[]), file, argv,
	     envp, (file, argv, envp), EXEC_EFAULT)
EXEC_WRAPPER(posix_spawn, (pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			   const posix_spawnattr_t *attr, char *const argv[], char *const envp[]),
	     path, argv, envp, (pid, path, fa, attr, argv, envp), SPAWN_EFAULT)
EXEC_WRAPPER(posix_spawnp, (pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			    const posix_spawnattr_t *attr, char *const argv[], char *const envp[]),
	     file, argv, envp, (pid, file, fa, attr, argv, envp), SPAWN_EFAULT)

/* execl, execle and execlp gather their arguments into an array and call
 * execve inside the C library, where no wrapper sees it: gather them here
 * (on the stack) and go through the wrappers above. */
static size_t count_args(va_list ap)
{
	size_t n = 1; /* arg0 */

	while (va_arg(ap, char *))
		n++;
	return n;
}

#define GATHER_ARGS(arg0, argv, ap) \
	va_list ap; \
	size_t n_, i_; \
	va_start(ap, arg0); \
	n_ = count_args(ap); \
	va_end(ap); \
	char *argv[n_ + 1]; \
	va_start(ap, arg0); \
	argv[0] = (char *)(arg0); \
	for (i_ = 1; i_ <= n_; i_++) \
		argv[i_] = va_arg(ap, char *)

SHIM_EXPORT int execl(const char *path, const char *arg0, ...)
{
	GATHER_ARGS(arg0, argv, ap);
	va_end(ap);
	return execv(path, argv);
}

SHIM_EXPORT int execlp(const char *file, const char *arg0, ...)
{
	GATHER_ARGS(arg0, argv, ap);
	va_end(ap);
	return execvp(file, argv);
}

SHIM_EXPORT int execle(const char *path, const char *arg0, ...)
{
	GATHER_ARGS(arg0, argv, ap);
	char *const *envp = va_arg(ap, char *const *);

	va_end(ap);
	return execve(path, argv, envp);
}

/* ioctl's argument: as big as the request says, or (old requests that do
 * not say, such as the terminal ones) a generous guess; pinning more of
 * the program's memory than the kernel uses costs nothing. */
SHIM_EXPORT int ioctl(int fd, unsigned long req, ...)
{
	REAL(ioctl);
	va_list ap;
	void *arg;
	size_t size = _IOC_SIZE(req);
	int slot, ret, err;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	slot = pin(arg, size ? size : 256);
	ret = real_ioctl(fd, req, arg);
	err = errno;
	unpin(slot);
	errno = err;
	return ret;
}

/* The terminal calls use ioctl inside the C library. */
PINNED1(int, tcgetattr, (int fd, struct termios *t), t, sizeof(*t), (fd, t))
PINNED1(int, tcsetattr, (int fd, int when, const struct termios *t), t, sizeof(*t), (fd, when, t))

/* ---- the fortified entry points (-D_FORTIFY_SOURCE) ---- */

ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
		       struct sockaddr *addr, socklen_t *alen);
ssize_t __readlink_chk(const char *path, char *buf, size_t n, size_t buflen);
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);
size_t __fread_chk(void *p, size_t ptrlen, size_t size, size_t n, FILE *f);
size_t __fread_unlocked_chk(void *p, size_t ptrlen, size_t size, size_t n, FILE *f);
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

PINNED1(ssize_t, __read_chk, (int fd, void *buf, size_t n, size_t buflen), buf, n,
	(fd, buf, n, buflen))
PINNED1(ssize_t, __pread_chk, (int fd, void *buf, size_t n, off_t off, size_t buflen), buf, n,
	(fd, buf, n, off, buflen))
PINNED1(ssize_t, __pread64_chk, (int fd, void *buf, size_t n, off64_t off, size_t buflen), buf,
	n, (fd, buf, n, off, buflen))
PINNED1_ONCE(ssize_t, __recv_chk, (int fd, void *buf, size_t n, size_t buflen, int flags), buf, n,
	(fd, buf, n, buflen, flags))
PINNED1(int, __poll_chk, (struct pollfd *fds, nfds_t n, int timeout, size_t fdslen), fds,
	n * sizeof(*fds), (fds, n, timeout, fdslen))
PINNED1(size_t, __fread_chk, (void *p, size_t ptrlen, size_t size, size_t n, FILE *f), p,
	size * n, (p, ptrlen, size, n, f))
PINNED1(size_t, __fread_unlocked_chk, (void *p, size_t ptrlen, size_t size, size_t n, FILE *f),
	p, size * n, (p, ptrlen, size, n, f))
PINNED_PATH(ssize_t, __readlink_chk, (const char *path, char *buf, size_t n, size_t buflen), path,
	    buf, n, (path, buf, n, buflen))
PINNED_PATH(int, __open_2, (const char *path, int flags), path, NULL, 0, (path, flags))
PINNED_PATH(int, __open64_2, (const char *path, int flags), path, NULL, 0, (path, flags))
PINNED_PATH(int, __openat_2, (int dirfd, const char *path, int flags), path, NULL, 0,
	    (dirfd, path, flags))
PINNED_PATH(int, __openat64_2, (int dirfd, const char *path, int flags), path, NULL, 0,
	    (dirfd, path, flags))

SHIM_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
				   struct sockaddr *addr, socklen_t *alen)
{
	REAL(__recvfrom_chk);
	int slots[3];
	ssize_t ret;

	pin_from(slots, buf, n, addr, alen);
	ret = real___recvfrom_chk(fd, buf, n, buflen, flags, addr, alen);
	unpin_keep_errno(slots, 3);
	return ret;
}
