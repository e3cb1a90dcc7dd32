#include "util/workqueue.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "tsmedia/log.h"

struct task {
	tsm_work_fn fn;
	void *arg;
};

struct worker {
	struct tsm_workqueue *wq;
	unsigned index;
	pthread_t thread;
};

struct tsm_workqueue {
	pthread_mutex_t lock;
	pthread_cond_t work_ready; /* tasks queued or stopping */
	pthread_cond_t idle;       /* pending reached 0 */
	struct task *tasks;        /* ring */
	size_t head, count, cap;
	size_t pending;            /* queued + running */
	bool stopping;
	unsigned nthreads;
	struct worker *workers;
};

/* TSMEDIA_THREADS=N, a whole number from 1: at most N threads do the
 * work of one import or read (1: everything on the calling thread, the
 * reference the parallel paths are tested against).  Anything else is
 * refused with a warning, once, and the processors are counted. */
static long threads_from_env(void)
{
	static int warned;
	const char *env = getenv("TSMEDIA_THREADS");
	unsigned long v;
	char *end;

	if (!env)
		return 0;
	errno = 0;
	v = strtoul(env, &end, 10);
	if (*env >= '0' && *env <= '9' && !*end && !errno && v >= 1 && v <= 1024)
		return (long)v;
	if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
		tsm_warn("TSMEDIA_THREADS='%s' is not a number of threads from 1 to 1024:"
			 " using the number of processors",
			 env);
	return 0;
}

unsigned tsm_cpu_count(unsigned cap)
{
	long n = threads_from_env();

	if (n < 1)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return (unsigned)n > cap ? cap : (unsigned)n;
}

static void *worker_main(void *arg)
{
	struct worker *self = arg;
	struct tsm_workqueue *wq = self->wq;

	pthread_mutex_lock(&wq->lock);
	for (;;) {
		struct task t;

		while (!wq->count && !wq->stopping)
			pthread_cond_wait(&wq->work_ready, &wq->lock);
		if (!wq->count)
			break;
		t = wq->tasks[wq->head];
		wq->head = (wq->head + 1) % wq->cap;
		wq->count--;
		pthread_mutex_unlock(&wq->lock);
		t.fn(t.arg, self->index);
		pthread_mutex_lock(&wq->lock);
		if (--wq->pending == 0)
			pthread_cond_broadcast(&wq->idle);
	}
	pthread_mutex_unlock(&wq->lock);
	return NULL;
}

int tsm_workqueue_new(unsigned nthreads, struct tsm_workqueue **wq_ret)
{
	struct tsm_workqueue *wq = calloc(1, sizeof(*wq));
	unsigned started = 0;

	if (!wq)
		return -ENOMEM;
	wq->cap = 256;
	wq->tasks = calloc(wq->cap, sizeof(*wq->tasks));
	wq->workers = calloc(nthreads, sizeof(*wq->workers));
	if (!wq->tasks || !wq->workers) {
		free(wq->tasks);
		free(wq->workers);
		free(wq);
		return -ENOMEM;
	}
	pthread_mutex_init(&wq->lock, NULL);
	pthread_cond_init(&wq->work_ready, NULL);
	pthread_cond_init(&wq->idle, NULL);
	for (; started < nthreads; started++) {
		wq->workers[started].wq = wq;
		wq->workers[started].index = started;
		if (pthread_create(&wq->workers[started].thread, NULL, worker_main,
				   &wq->workers[started]) != 0)
			break;
	}
	wq->nthreads = started;
	if (!started) {
		tsm_workqueue_free(wq);
		return -EAGAIN;
	}
	*wq_ret = wq;
	return 0;
}

unsigned tsm_workqueue_threads(const struct tsm_workqueue *wq) { return wq->nthreads; }

static int ring_grow(struct tsm_workqueue *wq)
{
	size_t cap = wq->cap * 2;
	struct task *tasks = malloc(cap * sizeof(*tasks));

	if (!tasks)
		return -ENOMEM;
	for (size_t i = 0; i < wq->count; i++)
		tasks[i] = wq->tasks[(wq->head + i) % wq->cap];
	free(wq->tasks);
	wq->tasks = tasks;
	wq->head = 0;
	wq->cap = cap;
	return 0;
}

int tsm_workqueue_submit(struct tsm_workqueue *wq, tsm_work_fn fn, void *arg)
{
	pthread_mutex_lock(&wq->lock);
	if (wq->count == wq->cap && ring_grow(wq) < 0) {
		pthread_mutex_unlock(&wq->lock);
		return -ENOMEM;
	}
	wq->tasks[(wq->head + wq->count) % wq->cap] = (struct task){ fn, arg };
	wq->count++;
	wq->pending++;
	pthread_cond_signal(&wq->work_ready);
	pthread_mutex_unlock(&wq->lock);
	return 0;
}

void tsm_workqueue_wait(struct tsm_workqueue *wq)
{
	pthread_mutex_lock(&wq->lock);
	while (wq->pending)
		pthread_cond_wait(&wq->idle, &wq->lock);
	pthread_mutex_unlock(&wq->lock);
}

void tsm_workqueue_wait_helping(struct tsm_workqueue *wq, unsigned slot)
{
	pthread_mutex_lock(&wq->lock);
	while (wq->pending) {
		struct task t;

		if (!wq->count) {
			pthread_cond_wait(&wq->idle, &wq->lock);
			continue;
		}
		t = wq->tasks[wq->head];
		wq->head = (wq->head + 1) % wq->cap;
		wq->count--;
		pthread_mutex_unlock(&wq->lock);
		t.fn(t.arg, slot);
		pthread_mutex_lock(&wq->lock);
		if (--wq->pending == 0)
			pthread_cond_broadcast(&wq->idle);
	}
	pthread_mutex_unlock(&wq->lock);
}

void tsm_workqueue_free(struct tsm_workqueue *wq)
{
	if (!wq)
		return;
	tsm_workqueue_wait(wq);
	pthread_mutex_lock(&wq->lock);
	wq->stopping = true;
	pthread_cond_broadcast(&wq->work_ready);
	pthread_mutex_unlock(&wq->lock);
	for (unsigned i = 0; i < wq->nthreads; i++)
		pthread_join(wq->workers[i].thread, NULL);
	pthread_mutex_destroy(&wq->lock);
	pthread_cond_destroy(&wq->work_ready);
	pthread_cond_destroy(&wq->idle);
	free(wq->tasks);
	free(wq->workers);
	free(wq);
}
