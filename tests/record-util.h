/*
 * Helpers for the tests of vshm-record (test-record-*.c): what a recording must hold,
 * computed from the test pattern (capture/pattern.c), and what it does hold, read back
 * through the ffmpeg and ffprobe programs, FFmpeg's own decoders being the oracle
 * rather than the encoder under test.
 */
#ifndef VSHM_TEST_RECORD_UTIL_H
#define VSHM_TEST_RECORD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <vshm/vshm.h>

#include "pattern-digits.h"

/* Bytes of a packed I420 picture (no padding: what ffmpeg's rawvideo output holds). */
size_t record_i420_size(uint32_t width, uint32_t height);

/* Draws pattern frame n (the colour bars) as packed I420 into picture. */
void record_pattern_i420(uint64_t n, uint32_t width, uint32_t height, uint8_t *picture);

/* PSNR in dB of size bytes of b against a (99 for identical). */
double record_psnr(const uint8_t *a, const uint8_t *b, size_t size);

/*
 * Decodes the video of path (a file, or an SDP with the options that RTP needs) with
 * the ffmpeg program into packed pixels of pixel_format at width x height; returns the
 * malloc'd pixels and sets *frames. Fails the test if ffmpeg fails.
 */
uint8_t *record_decode(const char *path, const char *pixel_format, uint32_t width, uint32_t height,
                       size_t frame_size, size_t *frames);

/* `ffmpeg -f framecrc` of path: the Adler-32 of each decoded frame, up to max; returns
 * the count. Fails the test if ffmpeg fails. */
size_t record_framecrc(const char *path, uint32_t *adlers, size_t max);

/*
 * `ffprobe` of path's video frames: their count, and into times (up to max) their
 * timestamps in seconds. Fails the test if ffprobe fails.
 */
size_t record_probe_times(const char *path, double *times, size_t max);

/* A port on 127.0.0.1 that nothing uses right now, for SOCK_DGRAM or SOCK_STREAM. */
int record_free_port(int type);

/*
 * Waits until some process has bound port (SOCK_DGRAM or SOCK_STREAM), on any address:
 * owner, a receiver started in the background, is listening. True if it did within
 * timeout_ms; false at once if owner (a child not yet waited for) exits first.
 */
bool record_wait_port_bound(int port, int type, pid_t owner, int timeout_ms);

/* The text of a file (malloc'd, NUL-terminated, "" if it cannot be read). */
char *record_read_text(const char *path);

/* Waits up to timeout_ms for text to appear in the file at path. */
bool record_wait_for_text(const char *path, const char *text, int timeout_ms);

/* The frame count of vshm-record's final status line ("done: ... | N frames |"), or -1. */
long record_status_frames(const char *text);

/* Publishes pattern frame n (I420) with that capture time and flags. */
void record_publish_pattern(struct vshm_writer *writer, uint64_t n, uint32_t width, uint32_t height,
                            uint64_t capture_ns, uint32_t flags);

/* Waits up to timeout_ms until a lossless reader (vshm-record --lossless) attached to
 * the writer's current segment. */
bool record_wait_for_lossless_reader(struct vshm_writer *writer, int timeout_ms);

/* Lines in text. */
int record_count_lines(const char *text);

#endif
