/*
 * signals.c - the fault handler, the statistics signal, the program's own
 * handlers for both, and a signal stack in every thread.
 *
 * The shim keeps SIGSEGV (and the statistics signal) for itself: the
 * program's sigaction() and signal() calls for them are recorded here instead
 * of reaching the kernel (libsigsegv cannot chain, and its registration is
 * not thread-safe: DESIGN-NOTES 6.5).  A fault the pager does not own goes to
 * the program's handler with the mask and flags it asked for, or, with no
 * handler, to the default action: the handler steps aside and the faulting
 * instruction runs again, so a real bad access still dies with SIGSEGV.
 *
 * The statistics signal dumps the statistics, then runs the program's own
 * handler; sent by `zswapsim stats` (sigqueue with ZS_QUERY_MAGIC), it is
 * a query: the answer goes to a file (stats.c) and the program sees nothing.
 *
 * A fault that thawed a page is reported to attrib.c when fault
 * attribution is on (ZSWAPSIM_FAULT_STACKS): counted for the page's
 * allocating call, and sometimes unwound from the ucontext.
 *
 * The handler runs with every other signal blocked and SA_NODEFER, so a
 * chained handler that touches a frozen page faults back into it.  Each
 * thread gets a 64 KiB signal stack before it runs the program's code.
 */
#include "config.h"

#include <dlfcn.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "series.h"
#include "shim.h"
#include "stats.h"

#define ALTSTACK_SIZE (64UL << 10)

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

static sigaction_fn real_sigaction;
static pthread_create_fn real_pthread_create;
static struct sigaction app_action[NSIG];   /* what the program asked for */
static pthread_key_t altstack_key;

static bool owned(int sig)
{
	return __atomic_load_n(&shim.state, __ATOMIC_ACQUIRE) == SHIM_ON &&
	       (sig == SIGSEGV || (shim.opt.stats_signal && sig == (int)shim.opt.stats_signal) ||
		(sig == SIGSYS && shim_dispatch_enabled()));
}

/* Run the program's handler for sig as the kernel would have. */
void shim_chain_signal(int sig, siginfo_t *si, void *uc)
{
	struct sigaction *a = &app_action[sig];
	sigset_t old;

	if (!(a->sa_flags & SA_SIGINFO) && (a->sa_handler == SIG_DFL || a->sa_handler == SIG_IGN)) {
		if (sig == SIGSEGV || sig == SIGSYS) {
			/* Step aside: the access runs again and gets the default;
			 * a signal sent by kill or raise, or a SIGSYS (the call
			 * does not run again), is sent again. */
			struct sigaction dfl = { .sa_handler = SIG_DFL };

			real_sigaction(sig, &dfl, NULL);
			if (si->si_code <= 0 || sig == SIGSYS)
				syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), sig);
		}
		return;
	}
	pthread_sigmask(SIG_BLOCK, &a->sa_mask, &old);
	if (a->sa_flags & SA_SIGINFO)
		a->sa_sigaction(sig, si, uc);
	else
		a->sa_handler(sig);
	if (a->sa_flags & SA_RESETHAND)
		a->sa_handler = SIG_DFL, a->sa_flags &= ~SA_SIGINFO;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* ZSWAPSIM_DEBUG_FAULTS (read once at start): say which managed faults
 * the pager declined, with the page's state byte, to stderr. */
static int debug_faults = -1;

static bool getenv_debug(void)
{
	return debug_faults > 0;
}

static void report_declined(uintptr_t addr, bool write)
{
	char msg[96] = "zswapsim: declined fault at 0x", num[24];
	size_t n = strlen(msg), i;
	uintptr_t a = addr;
	int shift;

	if (!zs_region_contains(shim_region(), addr))
		return;
	for (shift = 60; shift >= 0; shift -= 4)
		msg[n++] = "0123456789abcdef"[(a >> shift) & 15];
	memcpy(msg + n, write ? " write state " : " read state ", write ? 13 : 12);
	n += write ? 13 : 12;
	zs_utoa(*zs_region_state(shim_region(), addr), num);
	for (i = 0; num[i]; i++)
		msg[n++] = num[i];
	msg[n++] = '\n';
	zs_write_all(2, msg, n);
}

static void on_signal(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	int saved = errno;
	char selector = shim_dispatch_allow();

	if (sig == SIGSEGV) {
		bool write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0, handled, frozen;

		zs_signals_enter_masked(); /* install() blocks all but SIGSEGV, SIGSYS */
		frozen = shim_attrib_frozen((uintptr_t)si->si_addr);
		handled = zs_pager_fault(&shim.pager, (uintptr_t)si->si_addr, write);
		zs_signals_leave_masked();
		if (handled && frozen)
			shim_attrib_thaw((uintptr_t)si->si_addr, ctx);
		if (!handled) {
			if (getenv_debug())
				report_declined((uintptr_t)si->si_addr, write);
			shim_chain_signal(sig, si, ctx);
		}
	} else if (si->si_code == SI_QUEUE && si->si_value.sival_int == ZS_QUERY_MAGIC) {
		shim_stats_answer(); /* zswapsim stats PID asks: not the program's signal */
	} else {
		shim_dump_stats(shim.stats_fd);
		shim_chain_signal(sig, si, ctx);
	}
	shim_dispatch_restore(selector);
	errno = saved;
}

static int install(int sig)
{
	struct sigaction sa = { .sa_sigaction = on_signal,
				.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART | SA_NODEFER };

	sigfillset(&sa.sa_mask);
	sigdelset(&sa.sa_mask, SIGSEGV);
	sigdelset(&sa.sa_mask, SIGSYS); /* the handler's sigreturn may trap (dispatch.c) */
	return real_sigaction(sig, &sa, &app_action[sig]);
}

SHIM_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (!real_sigaction)
		real_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
	if (sig <= 0 || sig >= NSIG || !owned(sig))
		return real_sigaction(sig, act, old);
	if (old)
		*old = app_action[sig];
	if (act)
		app_action[sig] = *act;
	return 0;
}

/* A signal stack in managed memory (python's faulthandler mallocs its own)
 * must never be sampled or frozen: the kernel writes signal frames there,
 * and the fault handler runs on it.  Its pages are kept present, as mlock
 * would, from then on. */
SHIM_EXPORT int sigaltstack(const stack_t *ss, stack_t *old)
{
	if (ss && !(ss->ss_flags & SS_DISABLE) && ss->ss_size && shim_manages(ss->ss_sp))
		shim_keep_present(ss->ss_sp, ss->ss_size);
	return (int)syscall(SYS_sigaltstack, ss, old);
}

SHIM_EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
	struct sigaction act = { .sa_handler = handler, .sa_flags = SA_RESTART }, old;

	if (sigaction(sig, &act, &old) != 0)
		return SIG_ERR;
	return old.sa_handler;
}

/* ---- a signal stack in every thread ---- */

static void altstack_free(void *stack)
{
	stack_t off = { .ss_flags = SS_DISABLE };

	sigaltstack(&off, NULL);
	zs_unmap(stack, ALTSTACK_SIZE);
}

void shim_thread_altstack(void)
{
	stack_t ss = { .ss_size = ALTSTACK_SIZE }, cur;

	if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE) &&
	    cur.ss_size >= ALTSTACK_SIZE)
		return; /* the thread has a big enough one */
	ss.ss_sp = zs_map_anon(ALTSTACK_SIZE);
	if (ss.ss_sp && sigaltstack(&ss, NULL) == 0)
		pthread_setspecific(altstack_key, ss.ss_sp);
}

/* A thread being started.  A new thread inherits its creator's Syscall
 * User Dispatch, selector address included (dispatch.c): with it on, the
 * creator lets its own calls through until the new thread has made its
 * own (armed for the program's threads, off for the shim's), then frees
 * this.  Otherwise the thread frees it first thing. */
struct start {
	void *(*fn)(void *);
	void *arg;
	bool program, creator_waits;
	int ready;
};

static void *thread_start(void *p)
{
	struct start *sp = p, s = *sp;

	if (s.program)
		shim_dispatch_arm();
	else
		shim_dispatch_disarm();
	if (s.creator_waits)
		__atomic_store_n(&sp->ready, 1, __ATOMIC_RELEASE);
	else
		zs_unmap(p, sizeof(s));
	if (s.program)
		shim_thread_altstack();
	return s.fn(s.arg);
}

static int create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg,
		  bool program)
{
	struct start *s = zs_map_anon(sizeof(*s)); /* not malloc: see above */
	bool waits = shim_dispatch_enabled(); /* s may be gone once the thread runs */
	char selector;
	int ret;

	if (!real_pthread_create)
		real_pthread_create = (pthread_create_fn)dlsym(RTLD_NEXT, "pthread_create");
	if (!s)
		return EAGAIN;
	*s = (struct start){ fn, arg, program, waits, 0 };
	selector = shim_dispatch_allow();
	ret = real_pthread_create(t, attr, thread_start, s);
	while (ret == 0 && waits && !__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE))
		sched_yield();
	shim_dispatch_restore(selector);
	if (ret || waits)
		zs_unmap(s, sizeof(*s));
	return ret;
}

int shim_real_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
			     void *arg)
{
	return create(t, attr, fn, arg, false);
}

SHIM_EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
			       void *arg)
{
	if (!shim_ready()) {
		if (!real_pthread_create)
			real_pthread_create = (pthread_create_fn)dlsym(RTLD_NEXT, "pthread_create");
		return real_pthread_create(t, attr, fn, arg);
	}
	return create(t, attr, fn, arg, true);
}

int shim_signals_init(void)
{
	const char *debug = getenv("ZSWAPSIM_DEBUG_FAULTS");

	debug_faults = debug && *debug == '1';
	if (!real_sigaction)
		real_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
	if (!real_sigaction || pthread_key_create(&altstack_key, altstack_free))
		return -1;
	shim_thread_altstack();
	if (install(SIGSEGV))
		return -1;
	if (shim.opt.stats_signal && install((int)shim.opt.stats_signal))
		return -1;
	return 0;
}
