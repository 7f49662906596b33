/*
 * dispatch.c - the safety net for system calls no wrapper sees: raw
 * syscall(2), system calls inlined in libraries.  Syscall User Dispatch
 * (Linux 5.11+), on with ZSWAPSIM_SYSCALL_DISPATCH=Y, x86-64 only.
 *
 * Each program thread is armed: while its selector byte says BLOCK, every
 * system call made outside a small allowed stretch of code (below) traps
 * with SIGSYS instead of running.  The handler pins the managed memory the
 * call's arguments point to (by the sizes the call states, or a page from
 * each pointer for calls whose sizes it does not know), makes the call
 * itself from the allowed stretch, and if one of the latter fails with
 * EFAULT, tries once more with 256 KiB from each.  The selector says ALLOW
 * while the handler runs.  Some calls
 * cannot be made from a signal handler:
 *   rt_sigreturn    the end of one of the program's signal handlers: resume
 *                   at our own sigreturn, in the allowed stretch, on the
 *                   same stack;
 *   rt_sigprocmask  the mask to change is the interrupted code's (in the
 *                   handler's context); SIGSYS is never blocked, since a
 *                   trap while it is kills the process;
 *   clone, fork,    they must return where they were made: made again in
 *   vfork           place with the selector at ALLOW.  The thread is armed
 *                   again by our fork and thread wrappers, or at its next
 *                   wrapped call.
 * A new thread or child inherits its creator's dispatch, selector address
 * included: the shim's own threads disarm at their start, the program's
 * arm with their own selector (signals.c), the child of a fork arms again;
 * exec disarms.
 */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "shim.h"

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_OFF 0
#define PR_SYS_DISPATCH_ON 1
#endif
#define SELECTOR_ALLOW 0
#define SELECTOR_BLOCK 1
#define SYS_USER_DISPATCH_CODE 2 /* si_code of a dispatch trap */
#define MAX_PINS 16

#if defined(__x86_64__) && defined(__linux__)

static bool enabled;
static SHIM_TLS volatile char selector = SELECTOR_ALLOW;
static SHIM_TLS int armed, rearm;
static SHIM_TLS int allowed; /* depth of the shim's own code letting calls through */

/* The allowed stretch: a system call with six arguments, and sigreturn. */
long shim_sud_syscall(long nr, long a, long b, long c, long d, long e, long f);
void shim_sud_restorer(void);
extern const char shim_sud_begin[], shim_sud_end[];
__asm__(".pushsection .text\n"
	".globl shim_sud_begin, shim_sud_end, shim_sud_syscall, shim_sud_restorer\n"
	".hidden shim_sud_begin, shim_sud_end, shim_sud_syscall, shim_sud_restorer\n"
	"shim_sud_begin:\n"
	"shim_sud_syscall:\n"
	"	movq %rdi, %rax\n"
	"	movq %rsi, %rdi\n"
	"	movq %rdx, %rsi\n"
	"	movq %rcx, %rdx\n"
	"	movq %r8, %r10\n"
	"	movq %r9, %r8\n"
	"	movq 8(%rsp), %r9\n"
	"	syscall\n"
	"	ret\n"
	"shim_sud_restorer:\n"
	"	movq $15, %rax\n" /* rt_sigreturn */
	"	syscall\n"
	"	hlt\n"
	"shim_sud_end:\n"
	".popsection\n");

/* Kernel's struct sigaction, for a handler with our own restorer. */
struct kernel_sigaction {
	void (*handler)(int, siginfo_t *, void *);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

#define KSA_RESTORER 0x04000000

/* ---- what a call's arguments point to ---- */

struct pins {
	int n, slot[MAX_PINS];
};

static void pin_one(struct pins *p, long addr, size_t len)
{
	int slot;

	if (!addr || !len || !shim_manages((void *)addr))
		return;
	slot = zs_pager_pin(&shim.pager, (uintptr_t)addr, len);
	if (slot < 0)
		return;
	if (p->n < MAX_PINS)
		p->slot[p->n++] = slot;
	else
		zs_pager_unpin(&shim.pager, slot);
}

static void pin_iov(struct pins *p, long iov, long cnt)
{
	const struct iovec *v = (const struct iovec *)iov;
	long i;

	if (cnt <= 0 || cnt > 1024)
		return;
	pin_one(p, iov, (size_t)cnt * sizeof(*v));
	for (i = 0; i < cnt; i++)
		pin_one(p, (long)v[i].iov_base, v[i].iov_len);
}

static void pin_msg(struct pins *p, long msg)
{
	const struct msghdr *m = (const struct msghdr *)msg;

	pin_one(p, msg, sizeof(*m));
	pin_one(p, (long)m->msg_name, m->msg_namelen);
	pin_one(p, (long)m->msg_control, m->msg_controllen);
	pin_iov(p, (long)m->msg_iov, (long)m->msg_iovlen);
}

/* Pin what the call will read or write: the buffers of the calls that say
 * their length (returns true: nothing more to pin); for other calls, `span`
 * bytes from every argument that points to managed memory (false).  Calls
 * that take addresses but never read what is there (mprotect, madvise, ...)
 * pin nothing: the shim makes them itself on pages it owns, and waiting for
 * those would never end. */
static bool pin_args(struct pins *p, long nr, const long *a, size_t span)
{
	int i;

	switch (nr) {
	case SYS_recvfrom: /* and the sender's address, with its length */
		pin_one(p, a[4], sizeof(struct sockaddr_storage));
		pin_one(p, a[5], sizeof(socklen_t));
		pin_one(p, a[1], (size_t)a[2]);
		return true;
	case SYS_sendto:
		pin_one(p, a[4], (size_t)a[5]);
		/* fall through */
	case SYS_read: case SYS_write: case SYS_pread64: case SYS_pwrite64:
	case SYS_getdents64: case SYS_readlink:
		pin_one(p, a[1], (size_t)a[2]);
		return true;
	case SYS_getrandom:
		pin_one(p, a[0], (size_t)a[1]);
		return true;
	case SYS_readv: case SYS_writev: case SYS_preadv: case SYS_pwritev:
	case SYS_preadv2: case SYS_pwritev2:
		pin_iov(p, a[1], a[2]);
		return true;
	case SYS_recvmsg: case SYS_sendmsg:
		pin_msg(p, a[1]);
		return true;
	case SYS_futex:
		pin_one(p, a[0], sizeof(int));
		return true;
	case SYS_mmap: case SYS_munmap: case SYS_mprotect: case SYS_madvise: case SYS_mremap:
	case SYS_mincore: case SYS_mlock: case SYS_munlock: case SYS_mlock2: case SYS_msync:
	case SYS_brk: case SYS_exit: case SYS_exit_group:
		return true;
	}
	for (i = 0; i < 6; i++)
		pin_one(p, a[i], span);
	return false;
}

static void unpin_all(struct pins *p)
{
	while (p->n > 0)
		zs_pager_unpin(&shim.pager, p->slot[--p->n]);
}

/* ---- the special calls ---- */

/* rt_sigprocmask for the interrupted code: its mask is the one sigreturn
 * restores. */
static long sigprocmask_for(ucontext_t *uc, const long *a)
{
	uint64_t *mask = (uint64_t *)&uc->uc_sigmask, old = *mask, set;
	uint64_t never = 1ULL << (SIGSYS - 1) | 1ULL << (SIGKILL - 1) | 1ULL << (SIGSTOP - 1);

	if (a[3] != 8)
		return -EINVAL;
	if (a[1]) {
		set = *(const uint64_t *)a[1];
		if (a[0] == SIG_BLOCK)
			*mask = old | set;
		else if (a[0] == SIG_UNBLOCK)
			*mask = old & ~set;
		else if (a[0] == SIG_SETMASK)
			*mask = set;
		else
			return -EINVAL;
		*mask &= ~never;
	}
	if (a[2])
		*(uint64_t *)a[2] = old;
	return 0;
}

/* rt_sigaction: no handler may block SIGSYS while it runs (its own
 * sigreturn traps).  SIGSYS itself stays ours (sigaction() records the
 * program's handler for it, which is chained). */
static long sigaction_without_sigsys(const long *a)
{
	struct kernel_sigaction act;

	if (a[0] == SIGSYS)
		return a[2] ? (memset((void *)a[2], 0, sizeof(act)), 0) : 0;
	if (!a[1])
		return shim_sud_syscall(SYS_rt_sigaction, a[0], 0, a[2], a[3], 0, 0);
	memcpy(&act, (const void *)a[1], sizeof(act));
	act.mask &= ~(1ULL << (SIGSYS - 1));
	return shim_sud_syscall(SYS_rt_sigaction, a[0], (long)&act, a[2], a[3], 0, 0);
}

static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	greg_t *r = uc->uc_mcontext.gregs;
	long nr = r[REG_RAX], a[6] = { r[REG_RDI], r[REG_RSI], r[REG_RDX], r[REG_R10], r[REG_R8],
				       r[REG_R9] }, ret;
	int saved = errno;
	char was = shim_dispatch_allow(); /* BLOCK for a trap; ALLOW if a SIGSYS hit shim code */
	struct pins p = { .n = 0 };
	bool exact;

	if (si->si_code != SYS_USER_DISPATCH_CODE) {
		shim_chain_signal(sig, si, ctx);
		goto out;
	}
	switch (nr) {
	case SYS_rt_sigreturn:
		r[REG_RIP] = (greg_t)shim_sud_restorer;
		break;
	case SYS_rt_sigprocmask:
		r[REG_RAX] = sigprocmask_for(uc, a);
		break;
	case SYS_rt_sigaction:
		r[REG_RAX] = sigaction_without_sigsys(a);
		break;
	case SYS_clone: case SYS_clone3: case SYS_fork: case SYS_vfork:
		r[REG_RIP] -= 2; /* the syscall instruction, again, let through */
		rearm = 1;
		allowed--;
		errno = saved;
		return;
	default:
		exact = pin_args(&p, nr, a, ZS_PAGE_SIZE);
		ret = shim_sud_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		if (ret == -EFAULT && !exact && p.n) {
			/* A call of unknown sizes read beyond the first page of
			 * what its arguments point to: once more, with 256 KiB. */
			pin_args(&p, nr, a, ZS_PAGE_SIZE << 6);
			ret = shim_sud_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		}
		unpin_all(&p);
		r[REG_RAX] = ret;
	}
out:
	shim_dispatch_restore(was);
	errno = saved;
}

/* ---- arming ---- */

void shim_dispatch_arm(void)
{
	if (!enabled)
		return;
	rearm = 0;
	if (!armed && prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON,
			    (unsigned long)shim_sud_begin,
			    (unsigned long)(shim_sud_end - shim_sud_begin), &selector) != 0)
		return;
	armed = 1;
	selector = SELECTOR_BLOCK;
}

void shim_dispatch_disarm(void)
{
	if (enabled)
		prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0);
	armed = 0;
}

/* Only from the program's own calls: inside the shim's code (a wrapper
 * the engine calls, a handler) the calls must go on through. */
void shim_dispatch_rearm(void)
{
	if (rearm && !allowed)
		shim_dispatch_arm();
}

char shim_dispatch_allow(void)
{
	char was = selector;

	allowed++;
	selector = SELECTOR_ALLOW;
	return was;
}

void shim_dispatch_restore(char was)
{
	allowed--;
	selector = was;
}

void shim_dispatch_after_fork_child(void)
{
	armed = 0; /* a child is not armed */
	shim_dispatch_arm();
}

int shim_dispatch_init(void)
{
	struct kernel_sigaction ka = { .handler = on_sigsys,
				       .flags = SA_SIGINFO | SA_NODEFER | KSA_RESTORER,
				       .restorer = shim_sud_restorer };

	if (!shim.opt.syscall_dispatch)
		return 0;
	if (syscall(SYS_rt_sigaction, SIGSYS, &ka, NULL, 8) != 0)
		return -1;
	enabled = true;
	shim_dispatch_arm();
	return armed ? 0 : -1;
}

bool shim_dispatch_enabled(void)
{
	return enabled;
}

#else /* no Syscall User Dispatch here */

void shim_dispatch_arm(void) {}
void shim_dispatch_disarm(void) {}
void shim_dispatch_rearm(void) {}
char shim_dispatch_allow(void) { return 0; }
void shim_dispatch_restore(char was) { (void)was; }
void shim_dispatch_after_fork_child(void) {}
bool shim_dispatch_enabled(void) { return false; }

int shim_dispatch_init(void)
{
	return shim.opt.syscall_dispatch ? -1 : 0;
}

#endif
