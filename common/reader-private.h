/*
 * Private: a reader's own state, shared by reader.c (attaching, waiting, the writer's
 * state) and reader-frames.c (taking and giving back frames).
 */
#ifndef VSHM_READER_PRIVATE_H
#define VSHM_READER_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "segment.h"
#include "vshm/reader.h"

struct vshm_reader {
	struct vshm_segment segment;
	struct vshm_reader_options options;
	uint32_t entry; /* our index in the reader table */
	/* Taking every frame: set when attached lossless, cleared once the writer demoted
	 * us (entry flags say VSHM_READER_DEMOTED). */
	bool lossless;
	bool holding;
	bool entered; /* the held frame was entered through the latest word */
	uint32_t held_slot;
	uint64_t held_sequence; /* the even count the held slot had when taken */
	uint64_t last_acquired; /* publish number of the last frame taken or rejected */
	/* Lossless: the latest frame's number when we attached (or 0): we take those after. */
	uint64_t attached_after;
	bool writer_known_gone;
	uint64_t liveness_checked_ns; /* when wait last asked the kernel about the writer */
	/* The geometry part of the last frame info that passed check_frame_info(): a frame
	 * with the same bytes needs no second check (most streams never change format). */
	bool geometry_checked;
	uint8_t checked_geometry[offsetof(struct vshm_shm_frame_info, frame_number)];
	uint64_t acquire_retries;
	uint64_t frames_invalid;
	/* Warnings about rejected frames: at most one line a second, with a count. */
	uint64_t last_warning_ns;
	uint64_t warnings_held_back;
	uint64_t frames_acquired;
	uint64_t frames_torn;
	uint64_t reattaches;
	bool demoted;
};

static inline struct vshm_shm_reader *vshm_reader_own_entry(struct vshm_reader *reader)
{
	return &reader->segment.readers[reader->entry];
}

/*
 * Says that a lossless reader is done with frame n and every frame before it, and wakes
 * a writer waiting for that (reader-frames.c).
 */
void vshm_reader_consume(struct vshm_reader *reader, uint64_t n);

/* The publish number the latest word names. */
static inline uint64_t vshm_latest_number(uint64_t latest)
{
	return (latest >> VSHM_LATEST_SLOT_BITS) & VSHM_LATEST_NUMBER_MASK;
}

#endif
