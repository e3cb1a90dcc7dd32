/* Verify ahead: the chunks a sequential reader will need next are read and
 * checked against their SHA-256 on worker threads while the reader copies
 * the ones it has, so a first read hashes on more than one core.
 *
 * Safety.  A worker does exactly what a read does (tsm_chunk_read_flags):
 * it looks at the pack file (one fstat: its identity and generation,
 * pack.h), reads the chunk, hashes it and, when the hash matches, marks the
 * chunk checked *in that generation* of that pack in the process's verified
 * map (verified.c).  A reader serves a chunk unhashed only when its own
 * look at the pack file, at the time of its read, finds the same
 * generation.  A pack written to, truncated or replaced after the worker's
 * check is another generation; a pack gc compacted away leaves the chunk in
 * another pack (another pack id, another generation): either way the reader
 * checks the chunk itself.  So no byte reaches a reader unchecked, whichever
 * thread checked it, and the check belongs to the pack file it was read from.
 *
 * Work.  A reader hands over jobs: runs of chunk locations (copies) of one
 * blob.  Each chunk of a job has a state, which leaves FREE only by
 * compare-and-swap:
 *     FREE -> WORKER (a worker reads and checks it) -> DONE
 *     FREE -> READER (the reader got there first; workers skip it)
 * A compressed chunk's bytes, decompressed and checked by the worker, stay
 * with the job for the reader (tsm_ahead_bytes): bytes that matched their
 * SHA-256 are right whatever happens to the pack after, and the reader
 * does not decompress them again (zstd, too, runs on both cores).
 * Workers take a job's chunks from its end, the reader from its start:
 * when the reader catches up they hash different chunks.  A reader that
 * meets a chunk a worker is still checking checks it itself rather than
 * wait for a thread a busy machine may not be running.
 *
 * Threads and locks.  One context per store directory per process (like
 * the verified map), shared by every handle of that directory and counted
 * under ctxs_lock; a handle takes its reference on first use.  ctx->lock
 * guards the queue and @stopping and is the mutex of @work (a job queued,
 * or stopping).  A job's chunk states are atomics (a compressed chunk's
 * bytes are written before its state becomes DONE, and read after it is
 * seen DONE); its reference count is atomic (the queue, the worker running
 * it and the reader each hold one).
 * Each worker has its own store handle without a database (a pack
 * descriptor cache and the verified map), touched by that worker alone, and
 * swept of removed packs like every handle (tsm_store_sweep_removed_packs). */
#include "store/remote.h"
#include "store/store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/workqueue.h"

#define MAX_WORKERS 4

enum { CHUNK_FREE, CHUNK_WORKER, CHUNK_DONE, CHUNK_READER };

struct tsm_ahead_job {
	atomic_int refs;
	size_t n;
	struct tsm_chunk_loc *locs;
	atomic_int *state;
	/* A compressed chunk's checked bytes (loc.size of them), or NULL;
	 * written by the worker before the chunk's state becomes DONE. */
	uint8_t **bytes;
	struct tsm_ahead_job *next; /* queue, under ctx->lock */
};

struct ahead_worker {
	struct tsm_ahead *ctx;
	pthread_t thread;
	struct tsm_store shadow; /* dir, dir_fd, packs, verified: no database */
	uint8_t *buf, *scratch;
	bool started;
};

struct tsm_ahead {
	dev_t dev;
	ino_t ino;
	int refs; /* under ctxs_lock */
	struct tsm_ahead *next_ctx;

	pthread_mutex_t lock;
	pthread_cond_t work;
	struct tsm_ahead_job *head, *tail;
	bool stopping;
	unsigned nworkers;
	struct ahead_worker workers[MAX_WORKERS];
};

static pthread_mutex_t ctxs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tsm_ahead *ctxs;

void tsm_ahead_job_put(struct tsm_ahead_job *job)
{
	if (!job || atomic_fetch_sub_explicit(&job->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < job->n; i++)
		free(job->bytes[i]);
	free(job->bytes);
	free(job->locs);
	free(job->state);
	free(job);
}

static void worker_run_job(struct ahead_worker *w, struct tsm_ahead_job *job)
{
	for (size_t i = job->n; i-- > 0;) {
		int expected = CHUNK_FREE;

		if (!atomic_compare_exchange_strong(&job->state[i], &expected, CHUNK_WORKER))
			continue;
		/* The result stays in the verified map: a good chunk is marked
		 * checked in its pack file's generation, a bad one is not (and
		 * its reader, reading it again, reports it). */
		if (job->locs[i].codec != TSM_COMPRESSION_NONE) {
			struct tsm_chunk_cache *cache = tsm_verified_chunk_cache(w->shadow.verified);
			uint8_t *out = malloc(job->locs[i].size ? job->locs[i].size : 1);

			/* Its decompressed bytes go to the process's cache as well:
			 * the other readers of the chunk find them there. */
			if (out && tsm_chunk_read_flags(&w->shadow, &job->locs[i], out, w->scratch,
							TSM_CHUNK_QUIET) == 0) {
				job->bytes[i] = out;
				tsm_chunk_cache_add(cache, &job->locs[i], out);
			} else {
				free(out);
			}
		} else if (!tsm_chunk_is_checked(&w->shadow, &job->locs[i])) {
			tsm_chunk_read_flags(&w->shadow, &job->locs[i], w->buf, w->scratch,
					     TSM_CHUNK_QUIET);
		}
		atomic_store(&job->state[i], CHUNK_DONE);
	}
	/* Nothing was lent: the sweep may close packs gc removed. */
	tsm_store_reads_done(&w->shadow);
}

static void *worker_main(void *arg)
{
	struct ahead_worker *w = arg;
	struct tsm_ahead *ctx = w->ctx;

	pthread_mutex_lock(&ctx->lock);
	for (;;) {
		struct tsm_ahead_job *job;

		while (!ctx->head && !ctx->stopping)
			pthread_cond_wait(&ctx->work, &ctx->lock);
		if (ctx->stopping)
			break;
		job = ctx->head;
		if (!(ctx->head = job->next))
			ctx->tail = NULL;
		pthread_mutex_unlock(&ctx->lock);
		worker_run_job(w, job); /* the queue's reference is now the worker's */
		tsm_ahead_job_put(job);
		pthread_mutex_lock(&ctx->lock);
	}
	pthread_mutex_unlock(&ctx->lock);
	return NULL;
}

static void worker_close(struct ahead_worker *w)
{
	tsm_pack_cache_close(&w->shadow.packs);
	tsm_verified_map_put(w->shadow.verified);
	if (w->shadow.dir_fd >= 0)
		close(w->shadow.dir_fd);
	free(w->shadow.dir);
	free(w->buf);
	free(w->scratch);
}

static int worker_open(struct tsm_ahead *ctx, struct ahead_worker *w, struct tsm_store *store)
{
	w->ctx = ctx;
	tsm_pack_cache_init(&w->shadow.packs);
	w->shadow.lock_fd = w->shadow.gc_lock_fd = -1;
	w->shadow.writer.current = -1;
	w->shadow.dir_fd = fcntl(store->dir_fd, F_DUPFD_CLOEXEC, 0);
	w->shadow.dir = strdup(store->dir);
	w->buf = malloc(TSM_CHUNK_MAX);
	w->scratch = malloc(TSM_CHUNK_MAX);
	if (w->shadow.dir_fd < 0 || !w->shadow.dir || !w->buf || !w->scratch)
		return -ENOMEM;
	if (!(w->shadow.verified = tsm_verified_map_get(w->shadow.dir_fd)))
		return -ENOMEM;
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
		return -EAGAIN;
	w->started = true;
	return 0;
}

static void ahead_free(struct tsm_ahead *ctx)
{
	pthread_mutex_lock(&ctx->lock);
	ctx->stopping = true;
	pthread_cond_broadcast(&ctx->work);
	pthread_mutex_unlock(&ctx->lock);
	for (unsigned i = 0; i < MAX_WORKERS; i++) {
		if (ctx->workers[i].started)
			pthread_join(ctx->workers[i].thread, NULL);
		if (ctx->workers[i].ctx)
			worker_close(&ctx->workers[i]);
	}
	while (ctx->head) {
		struct tsm_ahead_job *job = ctx->head;

		ctx->head = job->next;
		tsm_ahead_job_put(job);
	}
	pthread_mutex_destroy(&ctx->lock);
	pthread_cond_destroy(&ctx->work);
	free(ctx);
}

/* One worker fewer than the processors: the reader is the other one. */
static unsigned ahead_workers(void)
{
	unsigned cpus = tsm_cpu_count(MAX_WORKERS + 1);

	return cpus > 1 ? cpus - 1 : 0;
}

struct tsm_ahead *tsm_ahead_get(struct tsm_store *store)
{
	unsigned nworkers;
	struct tsm_ahead *ctx;
	struct stat st;

	if (store->ahead || store->ahead_off)
		return store->ahead;
	/* Counted once per store handle, not at every read that asks. */
	nworkers = ahead_workers();
	store->ahead_off = true; /* unless it starts below */
	/* A frontend of a store on object storage has no packs of its own:
	 * its chunks come through store/remote.c, which checks them as it
	 * fetches them, and the workers' reads of local packs would only fail. */
	if (!nworkers || tsm_remote_is_frontend(store) || fstat(store->dir_fd, &st) < 0)
		return NULL;
	pthread_mutex_lock(&ctxs_lock);
	for (ctx = ctxs; ctx; ctx = ctx->next_ctx)
		if (ctx->dev == st.st_dev && ctx->ino == st.st_ino)
			break;
	if (!ctx && (ctx = calloc(1, sizeof(*ctx)))) {
		ctx->dev = st.st_dev;
		ctx->ino = st.st_ino;
		pthread_mutex_init(&ctx->lock, NULL);
		pthread_cond_init(&ctx->work, NULL);
		for (unsigned i = 0; i < nworkers; i++)
			if (worker_open(ctx, &ctx->workers[i], store) == 0)
				ctx->nworkers++;
		if (!ctx->nworkers) {
			ahead_free(ctx);
			ctx = NULL;
		} else {
			ctx->next_ctx = ctxs;
			ctxs = ctx;
		}
	}
	if (ctx)
		ctx->refs++;
	pthread_mutex_unlock(&ctxs_lock);
	store->ahead = ctx;
	store->ahead_off = !ctx;
	return ctx;
}

void tsm_ahead_put(struct tsm_ahead *ctx)
{
	bool last = false;

	if (!ctx)
		return;
	pthread_mutex_lock(&ctxs_lock);
	if (--ctx->refs == 0) {
		for (struct tsm_ahead **p = &ctxs; *p; p = &(*p)->next_ctx) {
			if (*p == ctx) {
				*p = ctx->next_ctx;
				break;
			}
		}
		last = true;
	}
	pthread_mutex_unlock(&ctxs_lock);
	if (last)
		ahead_free(ctx);
}

int tsm_ahead_submit(struct tsm_ahead *ctx, const struct tsm_chunk_loc *locs, size_t n,
		     struct tsm_ahead_job **job_ret)
{
	struct tsm_ahead_job *job = calloc(1, sizeof(*job));

	if (!job)
		return -ENOMEM;
	job->n = n;
	job->locs = malloc(n * sizeof(*job->locs));
	job->state = calloc(n, sizeof(*job->state));
	job->bytes = calloc(n, sizeof(*job->bytes));
	if (!job->locs || !job->state || !job->bytes) {
		free(job->locs);
		free(job->state);
		free(job->bytes);
		free(job);
		return -ENOMEM;
	}
	memcpy(job->locs, locs, n * sizeof(*locs));
	for (size_t i = 0; i < n; i++)
		atomic_init(&job->state[i], CHUNK_FREE);
	atomic_init(&job->refs, 2); /* the queue's and the caller's */
	pthread_mutex_lock(&ctx->lock);
	if (ctx->tail)
		ctx->tail->next = job;
	else
		ctx->head = job;
	ctx->tail = job;
	pthread_cond_signal(&ctx->work);
	pthread_mutex_unlock(&ctx->lock);
	*job_ret = job;
	return 0;
}

bool tsm_ahead_claim(struct tsm_ahead_job *job, size_t i)
{
	int expected = CHUNK_FREE;

	if (i >= job->n)
		return false;
	/* Free: now the reader's.  Being checked by a worker: the reader checks
	 * it too rather than wait (a busy machine may not run the worker for
	 * a while); the second check marks what the first did. */
	atomic_compare_exchange_strong(&job->state[i], &expected, CHUNK_READER);
	return expected == CHUNK_DONE;
}

const uint8_t *tsm_ahead_bytes(struct tsm_ahead_job *job, size_t i)
{
	/* DONE was stored (seq_cst) after the bytes were written. */
	if (i >= job->n || atomic_load(&job->state[i]) != CHUNK_DONE)
		return NULL;
	return job->bytes[i];
}

void tsm_ahead_job_cancel(struct tsm_ahead_job *job)
{
	for (size_t i = 0; i < job->n; i++) {
		int expected = CHUNK_FREE;

		atomic_compare_exchange_strong(&job->state[i], &expected, CHUNK_READER);
	}
}
