/*
 * A recording: frames of one stream, read where the writer left them, encoded and
 * muxed into a file or sent to a network receiver, until the end of the stream, a
 * limit, a signal or a failure. main.c parses the command line into these options.
 */
#ifndef VSHM_RECORD_RECORDER_H
#define VSHM_RECORD_RECORDER_H

#include <stdbool.h>
#include <stdint.h>

#include "encoder.h"
#include "output.h"

struct recorder_options {
	const char *name; /* the stream */
	struct encoder_settings encoder;
	struct output_settings output;
	uint64_t frame_limit; /* 0: no limit */
	uint64_t duration_ns; /* 0: no limit */
	int timeout_ms;       /* for the stream to appear; < 0: wait for ever */
	bool lossless;        /* take every frame: the writer waits for us */
	bool stop_when_gone;  /* end when the writer goes, instead of waiting for the next */
	bool allow_foreign;   /* accept a stream owned by another user */
	bool quiet;
};

/*
 * Runs the recording to its end and finishes the output (trailer written, or for a
 * failure, as much as can be kept). Returns the exit status: 0 when it ended (end of
 * stream, a limit, --stop-when-gone, or a signal: the caller then ends by that
 * signal), 1 after a failure, said in one line on stderr.
 */
int recorder_run(const struct recorder_options *options);

#endif
