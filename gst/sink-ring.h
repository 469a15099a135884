/*
 * The writer behind one vshmsink, shared by the element, the buffer pools it offers
 * upstream and the buffers those pools lend.
 *
 * A lent buffer is a begun frame (vshm_writer_begin()): its one GstMemory is the slot
 * itself, and its GstVideoMeta gives the slot's strides and plane offsets, so the
 * element upstream draws or decodes straight into shared memory. When such a buffer
 * reaches the sink and nothing else holds it, it is published where it lies; a lent
 * buffer freed without being published is given back with vshm_writer_cancel_frame().
 * Any other buffer is copied into a slot: the one copy of that frame.
 *
 * Slots: the writer has slot_count - 2 frames in flight (at least 1). The pools may lend
 * all but one of them; that one is kept for the copy and for the end-of-stream frame,
 * so copying never waits for upstream to give a lent slot back.
 *
 * Thread-safety: every function may be called from any thread; one mutex guards the
 * writer (used by one thread at a time) and the counters. The ring lives until its
 * last reference goes: the element's, a pool's, or a lent buffer's (which points into
 * the segment, so the segment must stay mapped until it is freed). The stream is
 * removed from /dev/shm then.
 */
#ifndef VSHM_GST_SINK_RING_H
#define VSHM_GST_SINK_RING_H

#include "vshm-gst.h"

struct sink_ring;

/* What vshmsink knows of a frame beyond its pixels. */
struct sink_ring_frame_info {
	uint64_t capture_ns;             /* CLOCK_MONOTONIC; 0: now */
	uint32_t flags;                  /* VSHM_FRAME_DISCONTINUITY, ... */
	struct vshm_gst_picture picture; /* colour and pixel aspect, from the caps */
};

struct sink_ring_counts {
	uint64_t in_place; /* lent buffers published where they lay */
	uint64_t copied;   /* buffers copied into a slot */
	uint64_t dropped;  /* buffers that found no slot (see sink_ring_publish_copy()) */
	uint32_t lent;     /* begun frames lent out right now */
	uint32_t lendable; /* how many may be lent at once */
};

/*
 * A ring for the stream name (checked with vshm_name_check() first: NULL and -EINVAL
 * in *error, vshm_error() says why). The stream is created by the first
 * sink_ring_set_format(), when the frame size is known.
 */
struct sink_ring *sink_ring_new(const char *name, uint32_t slot_count, bool group_access,
                                int *error);
struct sink_ring *sink_ring_ref(struct sink_ring *ring);
/* Accepts NULL. */
void sink_ring_unref(struct sink_ring *ring);

/*
 * Sets the format of the frames to come; creates the stream the first time. A larger
 * frame than the slots hold makes the writer move to a larger segment at the next
 * frame. Returns 0 or a negative errno with vshm_error() set (EBUSY: a live writer has
 * the name; EINVAL: a format the ring does not carry).
 */
int sink_ring_set_format(struct sink_ring *ring, const GstVideoInfo *info);

/*
 * True if pools may lend slots for frames described by info: the stream exists and
 * carries that format and size, some slots may be lent, and upstream either reads
 * GstVideoMeta (video_meta) or assumes the ring's own layout anyway.
 */
bool sink_ring_can_lend(struct sink_ring *ring, const GstVideoInfo *info, bool video_meta);

/*
 * Lends a begun slot as a writable buffer laid out for info, with a GstVideoMeta; NULL
 * when no slot can be lent now (all the pools' share is out, or the stream is moving to
 * larger slots). The buffer holds a reference to the ring.
 */
GstBuffer *sink_ring_lend(struct sink_ring *ring, const GstVideoInfo *info);

/*
 * Publishes buffer where it lies if it is a slot this ring lent, unpublished, of the
 * current format, still laid out as lent, and held by nobody but the caller (one
 * reference to the buffer, one to its memory): once published, its slot belongs to the
 * readers, and nobody may read or write it through GStreamer any more.
 * Returns 1 if published, 0 if buffer must be copied instead.
 */
int sink_ring_publish_in_place(struct sink_ring *ring, GstBuffer *buffer,
                               const struct sink_ring_frame_info *frame_info);

/*
 * Copies buffer, a frame described by info, into a slot and publishes it. Returns 0; 1
 * if the frame was dropped because no slot could be begun (the stream must move to
 * larger slots while lent buffers of the old size are still out: counted as dropped in
 * the stream, and the next frame says discontinuity); -EINVAL if buffer cannot be
 * mapped as info; another negative errno if the stream failed (vshm_error() says why).
 */
int sink_ring_publish_copy(struct sink_ring *ring, GstBuffer *buffer, const GstVideoInfo *info,
                           const struct sink_ring_frame_info *frame_info);

/*
 * Ends the stream: publishes the last frame again, its pixels, number and capture time,
 * with VSHM_FRAME_END_OF_STREAM. Readers thus get the flag even if they already had
 * that frame, and one that missed it gets the picture. Does nothing if no frame was
 * published (or only in a segment since replaced). Returns 0 or a negative errno.
 */
int sink_ring_end(struct sink_ring *ring);

void sink_ring_get_counts(struct sink_ring *ring, struct sink_ring_counts *counts);

#endif
