/*
 * What the vshmsrc tests share: "vshmsrc ! fakesink" with a probe that checks every
 * buffer (its pixels against vshm-capture's test pattern, its caps, offsets and PTS,
 * and with copy=false that it is the slot itself), and vshm-capture's test pattern
 * started as a process.
 */
#ifndef VSHM_GST_TEST_SRC_PROBE_H
#define VSHM_GST_TEST_SRC_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <gst/gst.h>

/* What a probe on the fakesink saw; written by the streaming thread, read under lock. */
struct seen {
	GMutex lock;
	uint32_t format; /* the ring's format the test expects, for the pixel check */
	unsigned buffers, wrong, not_wrapped;
	uint64_t first_offset, last_offset;
	unsigned restarts; /* frame numbers that went back: a new writer */
	unsigned after_restart;
	GstCaps *caps[8];
	unsigned caps_count;
	const char *mapping; /* with copy=false: the /dev/shm file the data must lie in */
	unsigned delay_us;   /* a slow sink: time each buffer takes */
	GstClockTime last_pts;
	unsigned pts_not_rising; /* buffers whose PTS did not come after the one before */
};

/* Anonymous shared memory that forked children see: zero-filled, never freed. */
void *shared_alloc(size_t size);

/* "vshmsrc name=src stream-name=name OPTIONS ! fakesink name=sink", its sink probed
 * into seen (whose lock the caller has initialised). */
GstElement *reading_pipeline(const char *name, const char *options, struct seen *seen);

/* The same pipeline, its sink's buffers given to probe with data; with lends, the sink
 * says it reads GstVideoMeta (fakesink does not), so that copy=false lends the slots. */
GstElement *probed_pipeline(const char *name, const char *options, GstPadProbeCallback probe,
                            void *data, bool lends);

/* The buffers the probe has seen so far. */
unsigned buffers_seen(struct seen *seen);

/* Drops the caps seen keeps and clears its lock. */
void seen_clear(struct seen *seen);

/* The vshmsrc's 64-bit counter property (frames-pushed, ...). */
guint64 counter(GstElement *pipeline, const char *property);

/* vshm-capture test --format format --size size --fps 100 --slots 5 into name, with
 * --frames frames unless it is NULL. */
pid_t start_capture(const char *name, const char *format, const char *size, const char *frames);

/* Waits up to timeout_ms until check(seen) holds, checked under seen's lock. */
bool wait_for(struct seen *seen, bool (*check)(struct seen *seen), int timeout_ms);

#endif
