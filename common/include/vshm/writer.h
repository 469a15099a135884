/*
 * The writer side of a stream: one process creates a named stream and publishes frames
 * into its slots. The writer never waits for readers, unless a reader attached as
 * lossless (vshm_reader_options.lossless) asked for every frame: then it waits, for at
 * most lossless_timeout_ms, before it reuses a slot whose frame that reader has not
 * consumed yet.
 *
 * A struct vshm_writer is used by one thread at a time. Everything it needs lives in
 * the segment /dev/shm/vshm.<name>; vshm_writer_destroy() removes it.
 */
#ifndef VSHM_WRITER_H
#define VSHM_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include <vshm/export.h>

#include <vshm/frame.h>

struct vshm_writer;

struct vshm_writer_options {
	/* Slots in the ring, VSHM_SLOT_COUNT_MIN..MAX; 0 means the default (3). */
	uint32_t slot_count;
	/* Reader table entries, 1..1024; 0 means the default (64). */
	uint32_t reader_capacity;
	/*
	 * The largest frame the stream will carry, which sizes the slots: either a
	 * format and size, or max_frame_bytes (the larger of the two wins). One of them
	 * is required. A later frame that does not fit makes the writer move to a new,
	 * larger segment under the same name (readers follow with -ESTALE + reattach).
	 */
	uint32_t max_format;
	uint32_t max_width;
	uint32_t max_height;
	uint64_t max_frame_bytes;
	/* Nominal time between frames, for listing tools; 0 if unknown. */
	uint64_t frame_interval_ns;
	/* Create the segment 0660 instead of 0600, for readers running as other users. */
	bool group_access;
	/*
	 * How many frames may be begun at once: 0 or 1 (the default) for one at a time;
	 * up to slot_count - 2 for a source that fills several slots concurrently, such as
	 * a camera whose driver is lent the slots themselves to capture into (V4L2
	 * USERPTR). A begun frame's slot stays marked as being written until it is
	 * published or cancelled: no reader takes it, and the writer never chooses it for
	 * another frame, not even to overwrite a held slot. Frames may be published in
	 * any order (see vshm_writer_publish()); each gets the next publish number then.
	 */
	uint32_t frames_in_flight;
	/*
	 * How long the writer waits for a lossless reader that has not consumed a frame
	 * whose slot it needs, before it demotes that reader to a lossy one and goes on:
	 * 0 means the default, 1000 ms. A stuck reader never stalls a pipeline for longer.
	 */
	uint32_t lossless_timeout_ms;
	/*
	 * The alignment of the segment's regions, a power of two: 0 means the page size
	 * (at least 4096). A reader can map a segment only if this is a multiple of its own
	 * page size (it always is on one machine); a larger value is for tests.
	 */
	uint32_t alignment;
};

#define VSHM_LOSSLESS_TIMEOUT_DEFAULT_MS 1000

#define VSHM_SLOT_COUNT_MIN          3
#define VSHM_SLOT_COUNT_MAX          64
#define VSHM_SLOT_COUNT_DEFAULT      3
#define VSHM_READER_CAPACITY_DEFAULT 64

/*
 * Creates the stream called name (see vshm_name_check()). If a segment of that name
 * exists and its writer is alive, fails with EBUSY (vshm_error() names the pid). If its
 * writer is dead (a stale segment), the segment is marked superseded, removed, and a
 * new one created, so readers of the old one move over.
 * options may be NULL for the defaults. Slots are prefaulted so the first frames do
 * not pay for page faults.
 * Returns NULL and sets errno on failure; nothing is left in /dev/shm then.
 */
VSHM_EXPORT struct vshm_writer *vshm_writer_create(const char *name,
                                                   const struct vshm_writer_options *options);

/*
 * Marks the stream closed, wakes sleeping readers, removes the segment's name and
 * unmaps it. Readers that have it mapped keep their last frame. Accepts NULL.
 */
VSHM_EXPORT void vshm_writer_destroy(struct vshm_writer *writer);

/*
 * Picks a slot to fill (never the latest, never one a live reader holds while another
 * is free; with lossless readers, only once they have consumed its frame, waiting for
 * them if need be), marks it as being written and lays out a format/width/height frame
 * in it:
 * frame->plane[], stride[] and plane_size[] tell where to write. The other metadata
 * fields are zeroed for the caller to set. If the frame does not fit the current
 * slots, the writer first moves to a larger segment under the same name.
 * frame->slot names the slot; the plane pointers stay valid until the frame is published
 * or cancelled (the segment never moves while a frame is begun), so they may be handed to
 * a device that fills the slot later, asynchronously.
 * Returns 0, -EINVAL for a bad format or size, -EBUSY if frames_in_flight frames are
 * already begun (one, by default) or if the frame does not fit the slots while other
 * frames are begun, or another negative errno if a larger segment could not be made (no room in
 * /dev/shm, or another writer took the name in between): the old segment is then no longer under
 * the name, so treat the stream as failed and destroy the writer.
 */
VSHM_EXPORT int vshm_writer_begin(struct vshm_writer *writer, uint32_t format, uint32_t width,
                                  uint32_t height, struct vshm_frame *frame);

/*
 * Publishes the frame begun with vshm_writer_begin(): copies its metadata (frame_number,
 * capture_ns, flags, colour) into the slot, stamps publish_ns, makes the slot stable
 * and the latest, and wakes sleeping readers (a system call only if one sleeps).
 * With frames_in_flight 0 or 1, the one begun frame is published (frame->slot is not
 * looked at); with frames_in_flight > 1, the begun frame in frame->slot, as
 * vshm_writer_begin() set it, even when it is the only one begun. Only publish a slot
 * once nothing writes to it any more (for a camera: once the driver has returned its
 * buffer). frame->sequence, slot and publish_ns are set. Returns 0, or -EINVAL if no
 * frame is begun (with frames_in_flight > 1: if frame->slot is not a begun frame's); the
 * stream is left as it was then.
 */
VSHM_EXPORT int vshm_writer_publish(struct vshm_writer *writer, struct vshm_frame *frame);

/*
 * Gives up every begun frame without publishing it (with frames_in_flight, all of them:
 * call it only once nothing writes to those slots any more, e.g. after the camera
 * stopped streaming). Returns 0 or -EINVAL if none is begun.
 */
VSHM_EXPORT int vshm_writer_cancel(struct vshm_writer *writer);

/*
 * Gives up one begun frame without publishing it, leaving any other begun frames as
 * they are: the counterpart of vshm_writer_publish(), choosing the frame the same way
 * (with frames_in_flight 0 or 1 the one begun frame; with frames_in_flight > 1 the one
 * in frame->slot). For a source that lends several slots at once and gets one back
 * unused, such as a buffer pool whose buffer was dropped before it was filled. Call it
 * only once nothing writes to that slot any more. The slot's previous frame is gone
 * (it may have been partly overwritten); the latest frame is never touched, since no
 * frame is begun in it. Returns 0, or -EINVAL if no such frame is begun (the stream is
 * left as it was then).
 */
VSHM_EXPORT int vshm_writer_cancel_frame(struct vshm_writer *writer,
                                         const struct vshm_frame *frame);

/* Adds n to the stream's count of frames the source dropped (camera gaps and the like). */
VSHM_EXPORT void vshm_writer_count_dropped(struct vshm_writer *writer, uint64_t n);

struct vshm_writer_stats {
	uint64_t frames_published;
	uint64_t overwrites;       /* slots taken while a reader held them */
	uint64_t frames_dropped;   /* as counted by vshm_writer_count_dropped() */
	uint32_t readers_attached; /* live readers, recounted at least once a second */
	uint32_t slot_count;
	uint64_t slot_size;        /* bytes of pixel data a slot holds */
	uint64_t segments_created; /* 1, plus one per move to a larger segment */
	uint32_t lossless_readers; /* attached readers that take every frame */
	uint64_t lossless_waits;   /* times begin waited for a lossless reader */
	uint64_t demotions;        /* lossless readers made lossy: stalled past the timeout
	                            * or died */
};

VSHM_EXPORT void vshm_writer_get_stats(const struct vshm_writer *writer,
                                       struct vshm_writer_stats *stats);

/*
 * Scans the reader table now: entries whose reader died are reclaimed (their slot is
 * freed) and readers_attached is recounted. The writer also does this by itself once a
 * second and whenever every slot seems held. Returns the number of live readers.
 */
VSHM_EXPORT int vshm_writer_scan_readers(struct vshm_writer *writer);

/* The stream's name, as given to vshm_writer_create(). */
VSHM_EXPORT const char *vshm_writer_name(const struct vshm_writer *writer);

#endif
