/*
 * FFmpeg's own words for what went wrong. Its libraries return codes such as
 * AVERROR_INVALIDDATA ("Invalid data found when processing input") and say the cause in
 * their log ("moov atom not found"); vshm-capture keeps its log quiet, keeps the last
 * error (or, failing one, warning) it logged, and puts it in its own one-line messages.
 * With VSHM_DEBUG set in the environment, FFmpeg's log is printed as well.
 *
 * Thread-safe: decoder threads log too.
 */
#ifndef VSHM_CAPTURE_FFMPEG_LOG_H
#define VSHM_CAPTURE_FFMPEG_LOG_H

#include <stddef.h>

/* Takes over FFmpeg's log (once per process; later calls do nothing). */
void capture_ffmpeg_log_start(void);

/* Forgets what was logged, before a call whose failure is to be explained. */
void capture_ffmpeg_log_forget(void);

/*
 * The first sentence of the last error FFmpeg logged since capture_ffmpeg_log_forget(),
 * or of the last warning if it logged no error, into out; "" if it said nothing.
 * Returns out.
 */
const char *capture_ffmpeg_log_last(char *out, size_t size);

#endif
