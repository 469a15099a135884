/*
 * Private: the writer's own state, shared by writer.c (frames: choosing slots,
 * publishing) and writer-readers.c (what the writer does with the reader table: dead
 * readers, counts left behind, lossless readers).
 */
#ifndef VSHM_WRITER_PRIVATE_H
#define VSHM_WRITER_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "segment.h"
#include "vshm/writer.h"

#define NO_SLOT UINT32_MAX

struct vshm_writer {
	struct vshm_segment segment;
	struct vshm_writer_options options;
	char name[VSHM_NAME_MAX + 1];
	mode_t mode;
	uint64_t next_publish; /* publish number of the next frame, from 1 */
	uint32_t latest_slot;  /* slot of the last publish in this segment, or NO_SLOT */
	/* Slots with a begun frame (bit i for slot i), how many, and how each was laid out. */
	uint64_t begun_slots;
	uint32_t begun_count;
	struct begun_frame {
		struct vshm_format_layout layout;
		uint32_t format, width, height;
	} begun[VSHM_SLOTS_MAX];
	/* Our own record of what each slot holds (its publish number, 0 = never used),
	 * so that choosing the oldest slot reads no shared memory. */
	uint64_t slot_publish[VSHM_SLOTS_MAX];
	uint64_t last_scan_ns;
	uint64_t segments_created;
	/* What the previous look at the counts found, to repair counts left behind by
	 * readers that died between two steps (writer-readers.c), and when it was. */
	struct count_check {
		int64_t found;
		int64_t expected;
	} holders_check[VSHM_SLOTS_MAX], sleepers_check, lossless_check;
	uint64_t last_count_check_ns;
	uint64_t lossless_waits; /* times begin waited for a lossless reader */
};

/*
 * With lossless readers attached: waits (futex, never spinning) until every live one has
 * consumed frame `number`, for at most the lossless timeout, then demotes those that
 * have not and those that died. Returns at once when no lossless reader is attached.
 */
void vshm_writer_wait_for_lossless(struct vshm_writer *writer, uint64_t number);

/*
 * After a move to a new segment: waits until count lossless readers have attached to it
 * and every live reader there is done attaching (its entry says so), for at most the
 * lossless timeout (those that do not come are not waited for again).
 */
void vshm_writer_wait_for_lossless_readers(struct vshm_writer *writer, uint32_t count);

/* One look of that wait: true when it may end. Exposed for
 * tests/test-interleavings-lossless.c. */
bool vshm_writer_lossless_readers_here(struct vshm_writer *writer, uint32_t count);

#endif
