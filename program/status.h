/*
 * Program scaffolding, not part of libvshm: the one-line status a long-running vshm
 * program prints while it works (fps, frames, drops ...). On a terminal the line is
 * rewritten in place; into a file or pipe each status is a line of its own, so logs
 * stay readable. --quiet silences it; errors are never silenced.
 */
#ifndef VSHM_PROGRAM_STATUS_H
#define VSHM_PROGRAM_STATUS_H

#include <stdbool.h>
#include <stdint.h>

struct program_status {
	bool quiet;
	bool terminal;  /* stderr is a terminal: rewrite the line in place */
	bool line_open; /* a status line is on screen without its newline */
	uint64_t interval_ns;
	uint64_t next_ns;  /* when the next status is due */
	uint64_t since_ns; /* when the previous status was printed (or the start) */
};

/* Starts the clock: the first status is due one interval from now. */
void program_status_init(struct program_status *status, bool quiet, uint64_t interval_ns);

/*
 * True once an interval has passed since the last status; then *elapsed_ns (if not
 * NULL) is the time since that status, for rates, and the next one is scheduled.
 */
bool program_status_due(struct program_status *status, uint64_t *elapsed_ns);

/*
 * Prints "<program>: " and the status; final ends the line for good (the summary at
 * exit). Nothing when quiet.
 */
void program_status_print(struct program_status *status, bool final, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Ends a status line left open on a terminal, before some other message is printed. */
void program_status_break(struct program_status *status);

#endif
