/* Layer: util, below all (core/util/progress.c). */
/* Progress display for long work: bytes, rate and ETA on one line of a
 * terminal, redrawn at most ten times a second; silent when standard error
 * is not a terminal.  One owner thread. */
#ifndef TSMEDIA_PROGRESS_H
#define TSMEDIA_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct tsm_progress {
	const char *label;
	uint64_t total; /* 0 when unknown: no ETA */
	uint64_t done;
	bool enabled;
	bool drawn;
	double start;
	double last_draw;
};

/* @enabled: draw at all (the caller passes isatty(2) && !quiet). */
void tsm_progress_start(struct tsm_progress *progress, const char *label, uint64_t total,
			bool enabled);
void tsm_progress_add(struct tsm_progress *progress, uint64_t bytes);
/* Erases the line. */
void tsm_progress_finish(struct tsm_progress *progress);

#endif
