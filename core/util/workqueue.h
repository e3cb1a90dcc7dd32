/* A fixed pool of worker threads running submitted tasks, and a wait for
 * all of them.  One thread submits and waits; tasks run in any order on
 * any worker.  A task learns its worker's index (0 .. nthreads-1) so it
 * can use per-worker state without locks. */
#ifndef TSMEDIA_WORKQUEUE_H
#define TSMEDIA_WORKQUEUE_H

typedef void (*tsm_work_fn)(void *arg, unsigned worker);

struct tsm_workqueue;

int tsm_workqueue_new(unsigned nthreads, struct tsm_workqueue **wq_ret);
unsigned tsm_workqueue_threads(const struct tsm_workqueue *wq);
int tsm_workqueue_submit(struct tsm_workqueue *wq, tsm_work_fn fn, void *arg);
/* Returns when every task submitted so far has finished. */
void tsm_workqueue_wait(struct tsm_workqueue *wq);
/* The same, running queued tasks on the calling thread meanwhile, as
 * worker @slot (an index no worker has: nthreads or more), so that the
 * waiting thread's processor does not idle. */
void tsm_workqueue_wait_helping(struct tsm_workqueue *wq, unsigned slot);
/* Waits, then stops and joins the workers. */
void tsm_workqueue_free(struct tsm_workqueue *wq);

/* Online processors, at least 1, at most @cap. */
unsigned tsm_cpu_count(unsigned cap);

#endif
