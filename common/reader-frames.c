/*
 * The reader side of the slot protocol (layout 2.0): taking a frame and giving it back.
 * The protocol as a whole is described at the top of writer.c.
 *
 * Acquire, the latest frame (a lossy reader, the default):
 *   1. enter: fetch_add the latest word by one entered reader (acquire: pairs with the
 *      writer's release exchange, so the frame it names, slot s and number n, is
 *      complete and visible). From here the writer will not reuse slot s until we leave:
 *      while s is the latest it never does, and when it publishes the next frame it
 *      counts us into s's holders;
 *   2. note s and n in our own reader entry (relaxed: the entry's cache line is ours;
 *      the writer reads it only to clean up after a reader that died);
 *   3. load s's sequence (acquire): it must be 2n, or the slot was overwritten (the
 *      writer takes a held slot only when readers hold every other) or the writer broke
 *      the protocol: leave, and retry or reject;
 *   4. copy the metadata, acquire fence, re-load the sequence (relaxed): unchanged means
 *      the metadata is whole; it is then bounds-checked before any use.
 * Acquire, every frame (a lossless reader): the frame after the last one consumed, found
 * by its even count among the slots; the writer keeps it until we say we consumed it,
 * so there is nothing to enter.
 * Release: acquire fence, re-load the sequence (relaxed), compare with 2n: equal means no
 * byte of the frame changed while we held it. Then leave (clear our entry's note, then
 * take ourselves out of the word while the frame is still the latest there, else out of
 * s's holder count, with release order: our reads of the slot come first), or, lossless,
 * store the consumed number (release) and wake the writer if it waits for us.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "futex.h"
#include "log.h"
#include "racy-copy.h"
#include "reader-private.h"
#include "seqcount.h"
#include "shared-atomic.h"

/* Attempts at taking the latest frame before telling the caller to try again. */
#define ACQUIRE_ATTEMPTS 8
/* At most one warning about rejected frames this often. */
#define WARNING_INTERVAL_NS 1000000000u

/* Checks metadata read from shared memory; returns 0 or -EBADMSG. */
static int check_frame_info(const struct vshm_reader *reader,
                            const struct vshm_shm_frame_info *info)
{
	struct vshm_format_layout layout = { .plane_count = info->plane_count };
	if (info->plane_count > VSHM_PLANES_MAX)
		return -EBADMSG;
	for (uint32_t i = 0; i < info->plane_count; i++) {
		layout.stride[i] = info->stride[i];
		layout.offset[i] = info->plane_offset[i];
		layout.size[i] = info->plane_size[i];
	}
	if (vshm_format_check_layout(info->format, info->width, info->height, &layout,
	                             reader->segment.geometry.slot_payload_size) < 0)
		return -EBADMSG;
	return 0;
}

static void fill_frame(const struct vshm_reader *reader, const struct vshm_shm_frame_info *info,
                       uint32_t slot, uint64_t n, struct vshm_frame *frame)
{
	const struct vshm_segment *segment = &reader->segment;
	uint8_t *base = segment->payload + (uint64_t)slot * segment->geometry.slot_payload_size;
	memset(frame, 0, sizeof(*frame));
	frame->format = info->format;
	frame->width = info->width;
	frame->height = info->height;
	frame->plane_count = info->plane_count;
	for (uint32_t i = 0; i < info->plane_count; i++) {
		frame->stride[i] = info->stride[i];
		frame->plane_size[i] = info->plane_size[i];
		frame->plane[i] = base + info->plane_offset[i];
	}
	frame->frame_number = info->frame_number;
	frame->capture_ns = info->capture_ns;
	frame->publish_ns = info->publish_ns;
	frame->flags = info->flags;
	frame->color_matrix = info->color_matrix;
	frame->color_range = info->color_range;
	frame->color_primaries = info->color_primaries;
	frame->color_transfer = info->color_transfer;
	if (info->sample_aspect_numerator && info->sample_aspect_denominator) {
		frame->sample_aspect.numerator = info->sample_aspect_numerator;
		frame->sample_aspect.denominator = info->sample_aspect_denominator;
	}
	frame->sequence = n;
	frame->slot = slot;
}

/*
 * Tells a waiting writer that a lossless reader consumed frame n. Release store: our
 * reads of its slot come before the writer reuses it. Then the seq_cst increment of
 * consumed_futex and the seq_cst load of writer_waiting: Dekker with the writer's seq_cst
 * store of writer_waiting and seq_cst load of consumed_futex in
 * vshm_writer_wait_for_lossless(). Either it sees our number, or we see it waiting.
 */
void vshm_reader_consume(struct vshm_reader *reader, uint64_t n)
{
	struct vshm_shm_header *header = reader->segment.header;
	VSHM_STORE(&vshm_reader_own_entry(reader)->consumed, n, memory_order_release);
	VSHM_FETCH_ADD(&header->consumed_futex, 1, memory_order_seq_cst);
	if (VSHM_LOAD(&header->writer_waiting, memory_order_seq_cst))
		vshm_futex_wake_all(&header->consumed_futex);
}

/*
 * Takes us off frame n in slot, which we entered: our entry's note first, then the
 * count (a reader killed in between leaves a count that the writer's scan repairs; the
 * other order could take off a hold twice). Release order: every read of the slot
 * before this comes before the writer can reuse it (pairs with the acq_rel exchange in
 * vshm_writer_publish() and the acquire load in unheld_slots()).
 */
static void leave(struct vshm_reader *reader, uint32_t slot, uint64_t n)
{
	struct vshm_shm_header *header = reader->segment.header;
	VSHM_STORE(&vshm_reader_own_entry(reader)->held_slot, 0, memory_order_relaxed);
	uint64_t named = (n & VSHM_LATEST_NUMBER_MASK) << VSHM_LATEST_SLOT_BITS | slot;
	uint64_t latest = VSHM_LOAD(&header->latest, memory_order_relaxed);
	while ((latest & ~(~UINT64_C(0) << VSHM_LATEST_ENTERED_SHIFT)) == named) {
		/* Still the latest frame: our count is still in the word. */
		if (VSHM_COMPARE_EXCHANGE(&header->latest, &latest,
		                          latest - VSHM_LATEST_ENTERED_ONE, memory_order_release))
			return;
	}
	/* The writer moved our count into the slot's holders when it published the next
	 * frame; for frame 0 (nothing was published yet) it dropped it. */
	if (n != 0 && slot < reader->segment.geometry.slot_count)
		VSHM_FETCH_ADD(&header->slot_holders[slot], (uint64_t)-1, memory_order_release);
}

/*
 * Rejects frame n: it is counted and consumed like any other frame (the next wait sleeps
 * until a newer one), and said at most once a second, so that a writer that keeps
 * sending bad frames, or stalls with latest naming a slot it is rewriting, costs a
 * reader neither CPU nor a flood of log lines. Returns -EBADMSG.
 */
static int reject(struct vshm_reader *reader, uint64_t n, const char *format, ...)
    VSHM_PRINTF(3, 4);
static int reject(struct vshm_reader *reader, uint64_t n, const char *format, ...)
{
	reader->frames_invalid++;
	if (n > reader->last_acquired) {
		reader->last_acquired = n;
		if (reader->lossless)
			vshm_reader_consume(reader, n);
	}
	uint64_t now = vshm_now_ns();
	if (reader->last_warning_ns && now - reader->last_warning_ns < WARNING_INTERVAL_NS) {
		reader->warnings_held_back++;
		return -EBADMSG;
	}
	char reason[192];
	va_list arguments;
	va_start(arguments, format);
	vsnprintf(reason, sizeof(reason), format, arguments);
	va_end(arguments);
	char more[96] = "";
	if (reader->warnings_held_back)
		snprintf(more, sizeof(more), " (and %llu more rejected since the last warning)",
		         (unsigned long long)reader->warnings_held_back);
	vshm_log(VSHM_LOG_WARNING, "stream '%s': frame %llu dropped: %s%s", reader->segment.name,
	         (unsigned long long)n, reason, more);
	reader->last_warning_ns = now;
	reader->warnings_held_back = 0;
	return -EBADMSG;
}

/* How taking a frame from its slot ended. */
enum take_result { TAKEN, RETRY, REJECTED };

/*
 * Steps 3 and 4 of acquire for frame n in slot: checks the count, copies and checks the
 * metadata, and on success fills *frame and marks the frame held.
 */
static enum take_result take(struct vshm_reader *reader, uint32_t slot, uint64_t n,
                             struct vshm_frame *frame, int *rejection)
{
	struct vshm_segment *segment = &reader->segment;
	_Atomic uint64_t *sequence = &segment->slots[slot].sequence;
	uint64_t before = seqcount_read_begin(sequence);
	if (before != 2 * n) {
		/* The slot was overwritten (the writer takes a held slot only when readers
		 * hold every other) and latest has moved on: try the new latest. If latest
		 * still names it, its writer broke the protocol (it never rewrites the latest
		 * slot) or stalls in the middle of a frame there. Acquire: this load stays after
		 * the sequence's. */
		uint64_t latest = VSHM_LOAD(&segment->header->latest, memory_order_acquire);
		if (vshm_latest_number(latest) != n ||
		    (uint32_t)(latest & VSHM_LATEST_SLOT_MASK) != slot) {
			reader->acquire_retries++;
			return RETRY;
		}
		*rejection =
		    reject(reader, n, "latest names slot %u, whose sequence is %llu, not %llu",
		           slot, (unsigned long long)before, (unsigned long long)(2 * n));
		return REJECTED;
	}
	struct vshm_shm_frame_info info;
	VSHM_STEP(); /* a plain copy from the slot, checked by the re-load below */
	vshm_racy_copy(&info, &segment->slots[slot].info, sizeof(info));
	if (seqcount_read_retry(sequence, before)) {
		reader->acquire_retries++;
		return RETRY;
	}
	bool same_geometry =
	    reader->geometry_checked &&
	    memcmp(&info, reader->checked_geometry, sizeof(reader->checked_geometry)) == 0;
	if (!same_geometry && !vshm_format_is_valid(info.format)) {
		/* Most likely a format added in a later minor version, which the version rules
		 * let a writer send: say so, rather than call it broken. */
		char code[5] = { 0 };
		for (int i = 0; i < 4; i++) {
			char c = (char)(info.format >> (8 * i));
			code[i] = c >= ' ' && c <= '~' ? c : '?';
		}
		bool newer = reader->segment.layout_minor > VSHM_LAYOUT_MINOR;
		*rejection = reject(reader, n,
		                    "its pixel format '%s' (0x%08x) is not one this libvshm knows "
		                    "(layout %d.%d; the stream's writer follows %d.%u%s)",
		                    code, info.format, VSHM_LAYOUT_MAJOR, VSHM_LAYOUT_MINOR,
		                    VSHM_LAYOUT_MAJOR, reader->segment.layout_minor,
		                    newer ? ": a newer libvshm reads it" : "");
		return REJECTED;
	}
	if (!same_geometry && check_frame_info(reader, &info) < 0) {
		*rejection =
		    reject(reader, n, "its metadata fails the bounds checks (format 0x%08x, %ux%u)",
		           info.format, info.width, info.height);
		return REJECTED;
	}
	if (!same_geometry) {
		memcpy(reader->checked_geometry, &info, sizeof(reader->checked_geometry));
		reader->geometry_checked = true;
	}
	fill_frame(reader, &info, slot, n, frame);
	reader->holding = true;
	reader->held_slot = slot;
	reader->held_sequence = before;
	reader->last_acquired = n;
	reader->frames_acquired++;
	atomic_store_explicit(&vshm_reader_own_entry(reader)->frames_acquired,
	                      reader->frames_acquired, memory_order_relaxed);
	return TAKEN;
}

/* The latest frame, entered through the latest word (steps 1 to 4 at the top). */
static int acquire_latest(struct vshm_reader *reader, struct vshm_frame *frame)
{
	struct vshm_segment *segment = &reader->segment;
	struct vshm_shm_reader *entry = vshm_reader_own_entry(reader);
	for (int attempt = 0; attempt < ACQUIRE_ATTEMPTS; attempt++) {
		/* Pairs with the writer's release exchange in vshm_writer_publish(). */
		uint64_t latest = VSHM_FETCH_ADD(&segment->header->latest, VSHM_LATEST_ENTERED_ONE,
		                                 memory_order_acquire);
		uint32_t slot = (uint32_t)(latest & VSHM_LATEST_SLOT_MASK);
		uint64_t n = vshm_latest_number(latest);
		if (n == 0) {
			leave(reader, slot, 0);
			return -EAGAIN; /* nothing published yet */
		}
		if (slot >= segment->geometry.slot_count) {
			leave(reader, slot, n);
			return reject(reader, n, "latest names slot %u of %u", slot,
			              segment->geometry.slot_count);
		}
		/* For the writer, if we die holding it. Relaxed: our own cache line. */
		VSHM_STORE(&entry->held_number_low, (uint32_t)n, memory_order_relaxed);
		VSHM_STORE(&entry->held_slot, slot + 1, memory_order_relaxed);
		int rejection = 0;
		enum take_result result = take(reader, slot, n, frame, &rejection);
		if (result == TAKEN) {
			reader->entered = true;
			return 0;
		}
		leave(reader, slot, n);
		if (result == REJECTED)
			return rejection;
	}
	return -EAGAIN;
}

/*
 * The frame after the last one consumed, for a lossless reader: the lowest publish
 * number above it among the slots. The writer keeps every frame we have not consumed,
 * so that is the next one (a gap means frames went while we were demoted).
 */
static int acquire_next(struct vshm_reader *reader, struct vshm_frame *frame)
{
	struct vshm_segment *segment = &reader->segment;
	/* Pairs with the writer's release exchange: frames up to the one named are there. */
	uint64_t word = VSHM_LOAD(&segment->header->latest, memory_order_acquire);
	uint64_t latest = vshm_latest_number(word);
	uint64_t next = UINT64_MAX;
	uint32_t next_slot = 0;
	for (uint32_t slot = 0; slot < segment->geometry.slot_count; slot++) {
		/* Acquire: pairs with the writer's release store of the even count. A slot
		 * being written is odd; a cancelled one's even count names a frame not
		 * published yet, above latest. */
		uint64_t sequence = VSHM_LOAD(&segment->slots[slot].sequence, memory_order_acquire);
		uint64_t n = sequence / 2;
		if (!(sequence & 1) && n > reader->last_acquired && n <= latest && n < next) {
			next = n;
			next_slot = slot;
		}
	}
	int rejection = 0;
	if (next == UINT64_MAX && latest > reader->last_acquired) {
		/*
		 * A newer frame is published, yet no slot holds one we have not consumed: the
		 * slot latest names does not hold it (its count would have made it a candidate).
		 * A writer never rewrites the latest slot, so unless latest moved on meanwhile
		 * (we were demoted and the writer went on), the writer broke the protocol: latest
		 * names no slot, or a slot it left half written. Judge it as a lossy acquire
		 * does, which rejects it, and consumes it, if latest still names it. Otherwise
		 * wait and poll would say a frame is there, and acquire -EAGAIN, for ever: a
		 * reader spinning at 100% that never hears of its writer's death.
		 */
		uint32_t slot = (uint32_t)(word & VSHM_LATEST_SLOT_MASK);
		if (slot >= segment->geometry.slot_count)
			return reject(reader, latest, "latest names slot %u of %u", slot,
			              segment->geometry.slot_count);
		next = latest;
		next_slot = slot;
	}
	if (next == UINT64_MAX)
		return -EAGAIN; /* not published yet */
	switch (take(reader, next_slot, next, frame, &rejection)) {
	case TAKEN:
		reader->entered = false;
		return 0;
	case REJECTED:
		return rejection;
	case RETRY:
		break;
	}
	return -EAGAIN; /* rewritten as we took it: only if we were demoted */
}

int vshm_reader_acquire(struct vshm_reader *reader, struct vshm_frame *frame)
{
	if (reader->holding)
		return -EBUSY;
	if (vshm_segment_broken(&reader->segment))
		return -EAGAIN; /* nothing to take from a truncated segment */
	if (reader->lossless &&
	    (atomic_load_explicit(&vshm_reader_own_entry(reader)->flags, memory_order_acquire) &
	     VSHM_READER_DEMOTED)) {
		/* The writer gave up waiting for us: from now on, the latest frames. */
		reader->lossless = false;
		reader->demoted = true;
	}
	if (reader->lossless)
		return acquire_next(reader, frame);
	return acquire_latest(reader, frame);
}

int vshm_reader_release(struct vshm_reader *reader)
{
	if (!reader->holding)
		return -EINVAL;
	/* Set by acquire from an index it checked against our own slot count. */
	assert(reader->held_slot < reader->segment.geometry.slot_count);
	struct vshm_segment *segment = &reader->segment;
	/* If any pixel the caller read was written after the writer began rewriting the
	 * slot, the count has moved on from the one we took it with. */
	bool intact = !seqcount_read_retry(&segment->slots[reader->held_slot].sequence,
	                                   reader->held_sequence);
	/* Pixels read from a truncated segment were zeros, not the frame. */
	if (vshm_segment_broken(segment))
		intact = false;
	uint64_t n = reader->held_sequence / 2;
	if (reader->entered)
		leave(reader, reader->held_slot, n);
	if (reader->lossless)
		vshm_reader_consume(reader, n);
	reader->holding = false;
	if (!intact) {
		reader->frames_torn++;
		atomic_store_explicit(&vshm_reader_own_entry(reader)->frames_torn,
		                      reader->frames_torn, memory_order_relaxed);
	}
	return intact ? 1 : 0;
}
