#include "tsmedia/progress.h"

#include "tsmedia/i18n.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void format_bytes(double bytes, char *out, size_t n)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (bytes >= 1024 && u < 4) {
		bytes /= 1024;
		u++;
	}
	snprintf(out, n, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

static void progress_draw(struct tsm_progress *progress, double now)
{
	char done[32], total[32], rate[32], line[320];
	double elapsed = now - progress->start;
	double bps = elapsed > 0 ? (double)progress->done / elapsed : 0;
	int n;

	format_bytes((double)progress->done, done, sizeof(done));
	format_bytes(bps, rate, sizeof(rate));
	if (progress->total) {
		double left = bps > 0 ? (double)(progress->total - progress->done) / bps : 0;

		format_bytes((double)progress->total, total, sizeof(total));
		char body[160];

		/* TRANSLATORS: a progress line: bytes done / in all (percent),
		 * bytes per second, time left as minutes:seconds. */
		snprintf(body, sizeof(body), _("%s / %s (%3.0f%%), %s/s, ETA %02d:%02d"), done,
			 total, 100.0 * (double)progress->done / (double)progress->total, rate,
			 (int)(left / 60), (int)left % 60);
		n = snprintf(line, sizeof(line), "\r%s: %s \x1b[K", progress->label, body);
	} else {
		char body[96];

		/* TRANSLATORS: a progress line: bytes done, bytes per second. */
		snprintf(body, sizeof(body), _("%s, %s/s"), done, rate);
		n = snprintf(line, sizeof(line), "\r%s: %s \x1b[K", progress->label, body);
	}
	if (n > 0 && write(STDERR_FILENO, line, (size_t)n) > 0)
		progress->drawn = true;
	progress->last_draw = now;
}

void tsm_progress_start(struct tsm_progress *progress, const char *label, uint64_t total,
			bool enabled)
{
	progress->label = label;
	progress->total = total;
	progress->done = 0;
	progress->enabled = enabled;
	progress->drawn = false;
	progress->start = now_seconds();
	progress->last_draw = progress->start;
}

void tsm_progress_add(struct tsm_progress *progress, uint64_t bytes)
{
	double now;

	if (!progress)
		return;
	progress->done += bytes;
	if (progress->total && progress->done > progress->total)
		progress->total = progress->done;
	if (!progress->enabled)
		return;
	now = now_seconds();
	if (now - progress->last_draw >= 0.1)
		progress_draw(progress, now);
}

void tsm_progress_finish(struct tsm_progress *progress)
{
	static const char erase[] = "\r\x1b[K";

	if (progress && progress->enabled && progress->drawn &&
	    write(STDERR_FILENO, erase, sizeof(erase) - 1) < 0)
		return;
}
