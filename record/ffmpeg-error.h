/*
 * FFmpeg's own words in vshm-record's error lines. FFmpeg explains many failures only
 * through its log ("Connection setup failure: connection timed out" from SRT, "Could not
 * find tag for codec" from a muxer), while the code it returns says little ("Unknown
 * error occurred"). vshm-capture's keeper of FFmpeg's log (capture/ffmpeg-log.h) keeps
 * it quiet and remembers its last error; this puts the two together.
 */
#ifndef VSHM_RECORD_FFMPEG_ERROR_H
#define VSHM_RECORD_FFMPEG_ERROR_H

#include <stddef.h>

#include "ffmpeg-log.h"

/*
 * Describes error (a negative AVERROR) into out: FFmpeg's text for the code, and in
 * parentheses what FFmpeg last logged since capture_ffmpeg_log_forget(), when that says
 * more. Returns out.
 */
const char *ffmpeg_error_explain(int error, char *out, size_t size);

#endif
