/*
 * FFmpeg's own words in vshm-record's error lines. FFmpeg explains many failures only
 * through its log ("Connection setup failure: connection timed out" from SRT, "Could not
 * find tag for codec" from a muxer), while the error code it returns says little
 * ("Unknown error occurred"). This keeps FFmpeg quiet on stderr and remembers its last
 * error message, so that the one line vshm-record prints can carry it.
 *
 * The log callback may run in any of FFmpeg's threads; the remembered message is guarded
 * by a mutex. VSHM_DEBUG in the environment lets FFmpeg print everything as usual.
 */
#ifndef VSHM_RECORD_FFMPEG_LOG_H
#define VSHM_RECORD_FFMPEG_LOG_H

#include <stddef.h>

/* Installs the callback; call once, before any other FFmpeg call. */
void ffmpeg_log_install(void);

/* Forgets the last message, before a call whose failure is to be explained. */
void ffmpeg_log_clear(void);

/*
 * Describes error (a negative AVERROR) into out: FFmpeg's text for the code, and the
 * last error FFmpeg logged since ffmpeg_log_clear() in parentheses when there is one.
 * Returns out.
 */
const char *ffmpeg_log_explain(int error, char *out, size_t size);

#endif
