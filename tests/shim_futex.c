/*
 * shim_futex.c - threads blocked on a condition variable, a semaphore and a
 * read-write lock that live in malloc'd (managed) memory, while other memory
 * pushes the process far over its limit (run under the shim by shim.test).
 *
 * A thread blocked in FUTEX_WAIT that a signal interrupts has its wait
 * restarted by the kernel (SA_RESTART), which reads the futex word again: on
 * a frozen page that fails with EFAULT, and glibc aborts ("The futex
 * facility returned an unexpected error code").  So each waiter here is
 * signalled after the pressure, and then released.  Exit 0 when every
 * waiter came back with the right value.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cold.h"

struct shared { /* a page of its own */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	sem_t sem;
	pthread_rwlock_t rw;
	int ready, value;
	char pad[4096];
};

static struct shared *s;
static volatile int got_cond, got_timed, got_sem, got_rw, interrupted;

static void on_usr2(int sig)
{
	(void)sig;
	interrupted++;
}

static void *cond_waiter(void *arg)
{
	pthread_mutex_lock(&s->lock);
	while (!s->ready)
		pthread_cond_wait(&s->cond, &s->lock);
	got_cond = s->value;
	pthread_mutex_unlock(&s->lock);
	return arg;
}

static void *timed_waiter(void *arg)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 60;
	pthread_mutex_lock(&s->lock);
	while (!s->ready)
		pthread_cond_timedwait(&s->cond, &s->lock, &until);
	got_timed = s->value;
	pthread_mutex_unlock(&s->lock);
	return arg;
}

static void *sem_waiter(void *arg)
{
	while (sem_wait(&s->sem) != 0)
		;
	got_sem = s->value;
	return arg;
}

static void *rw_waiter(void *arg)
{
	pthread_rwlock_rdlock(&s->rw);
	got_rw = s->value;
	pthread_rwlock_unlock(&s->rw);
	return arg;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_usr2, .sa_flags = SA_RESTART };
	void *(*waiters[])(void *) = { cond_waiter, timed_waiter, sem_waiter, rw_waiter };
	pthread_t t[4];
	int i, froze;

	sigaction(SIGUSR2, &sa, NULL);
	s = malloc(sizeof(*s));
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	sem_init(&s->sem, 0, 0);
	pthread_rwlock_init(&s->rw, NULL);
	pthread_rwlock_wrlock(&s->rw);
	for (i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, waiters[i], NULL);
	usleep(200000); /* all four blocked in the kernel */
	froze = push_out(s); /* it does without the shim's pins */
	for (i = 0; i < 4; i++)
		pthread_kill(t[i], SIGUSR2); /* each wait restarts, reading its word */
	usleep(100000);
	pthread_mutex_lock(&s->lock);
	s->value = 42;
	s->ready = 1;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	sem_post(&s->sem);
	pthread_rwlock_unlock(&s->rw);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	fprintf(stderr, "shim_futex: %d signals; the shared page %s\n", interrupted,
		froze ? "froze under the waiters" : "stayed in memory");
	if (got_cond != 42 || got_timed != 42 || got_sem != 42 || got_rw != 42) {
		fprintf(stderr, "shim_futex: waiters saw %d %d %d %d, want 42\n", got_cond, got_timed,
			got_sem, got_rw);
		return 1;
	}
	return 0;
}
