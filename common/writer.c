/*
 * The writer side of the slot protocol (layout 2.0). The protocol is described once,
 * here, with the reader's side at the top of reader.c; docs/protocol.md says the same
 * for implementers in other languages.
 *
 * Each slot has a sequence counter: odd while the writer fills it, 2n once frame n in it
 * is complete (seqcount.h). The header's latest word names the newest frame (its slot
 * and publish number n) and counts the readers that entered it: a reader enters the
 * latest frame with one fetch_add on that word, which also tells it which frame that
 * is, so taking a frame costs a reader one cache line fetched for the word and one for
 * the slot. The writer publishes frame n in slot s with one exchange of the word,
 * which also hands it the count of readers that entered the frame it replaces; it adds
 * that count to the replaced slot's holder count (header slot_holders[]), and readers
 * subtract themselves from it when they leave. So:
 *
 *   - no reader can start holding a slot that is not the latest: it enters only
 *     through the word, which names the latest;
 *   - the holder count of a slot that is not the latest only goes down once the writer
 *     has added the count in publish, which comes before any begin that looks at it;
 *   - so a slot whose holder count the writer reads as 0 (acquire, pairing with the
 *     readers' release decrements) is free for good: no Dekker check is needed, and
 *     choosing a slot reads one word per candidate, never the reader table.
 *
 * Writer, for publish number n:
 *   1. begin: choose the least recently published slot that is neither the latest nor
 *      begun, and whose holder count is 0 (with lossless readers: whose frame they have
 *      all consumed, waiting for them if need be); mark it odd (seqcount_write_begin);
 *      when readers hold every candidate, take the oldest anyway and count an overwrite:
 *      the writer never waits for a lossy reader, and a reader that held the slot
 *      learns at release that its frame was torn;
 *   2. the caller writes pixels, then publish writes the metadata;
 *   3. store sequence = 2n (release, seqcount_write_end);
 *   4. exchange latest = n | slot with no readers entered (seq_cst; release makes the
 *      frame visible to a reader that enters it; acquire pairs with readers that left
 *      the previous frame through the word), and add the count of readers that entered
 *      the previous frame to that frame's slot's holder count;
 *   5. store publish_futex = n (seq_cst), load sleepers (seq_cst), and wake the futex
 *      only if some reader counts itself as sleeping (Dekker with vshm_reader_wait()).
 * Publish costs the same however many readers there are: nothing in it reads the reader
 * table.
 *
 * Frames in flight: a writer created with frames_in_flight > 1 may have several frames
 * begun at once (a camera driver filling slots lent to it). Each begun slot stays odd
 * until it is published or cancelled, so no reader takes it, and choosing a slot never
 * takes a begun one, not even to overwrite. The publish number n is given at publish,
 * in publish order, so latest only grows; the odd count stored at begin is 2m - 1 for
 * the m due at that moment, which may differ from the n it is published with: readers
 * only ever compare a slot's count with the 2n that latest names, and a count is never
 * 2n before the slot's frame n is complete.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "futex.h"
#include "log.h"
#include "segment.h"
#include "seqcount.h"
#include "shared-atomic.h"
#include "writer-private.h"

/* How often the writer looks for dead readers even when it does not need their slots. */
#define READER_SCAN_INTERVAL_NS 1000000000u

/*
 * What the writer's own records must always agree on; checked after every change to
 * them. Only our own memory is read: nothing here depends on shared memory.
 */
static void check_invariants(const struct vshm_writer *writer)
{
	(void)writer; /* without assertions (NDEBUG) nothing is checked */
	assert(writer->begun_count == (uint32_t)__builtin_popcountll(writer->begun_slots));
	assert(writer->begun_count <= writer->options.frames_in_flight);
	assert(writer->latest_slot == NO_SLOT ||
	       (writer->latest_slot < writer->segment.geometry.slot_count &&
	        !(writer->begun_slots & (UINT64_C(1) << writer->latest_slot))));
	assert(writer->segment.geometry.slot_count == 64 ||
	       writer->begun_slots >> writer->segment.geometry.slot_count == 0);
}

static uint64_t frame_bytes_for(uint32_t format, uint32_t width, uint32_t height)
{
	struct vshm_format_layout layout;
	if (vshm_format_layout(format, width, height, &layout) < 0)
		return 0;
	return layout.total_size;
}

static int make_segment(struct vshm_writer *writer, uint64_t slot_bytes)
{
	struct vshm_segment_geometry geometry;
	int result =
	    vshm_segment_geometry(writer->options.slot_count, writer->options.reader_capacity,
	                          slot_bytes, writer->options.alignment, &geometry);
	if (result < 0)
		return result;
	result = vshm_segment_create(&writer->segment, vshm_writer_name(writer), &geometry,
	                             writer->mode, writer->options.frame_interval_ns,
	                             writer->options.lossless_timeout_ms);
	if (result < 0)
		return result;
	memset(writer->slot_publish, 0, sizeof(writer->slot_publish));
	memset(writer->holders_check, 0, sizeof(writer->holders_check));
	memset(&writer->sleepers_check, 0, sizeof(writer->sleepers_check));
	memset(&writer->lossless_check, 0, sizeof(writer->lossless_check));
	writer->last_count_check_ns = 0;
	writer->latest_slot = NO_SLOT;
	writer->segments_created++;
	return 0;
}

struct vshm_writer *vshm_writer_create(const char *name, const struct vshm_writer_options *options)
{
	vshm_clear_error();
	int result = vshm_name_check(name);
	if (result < 0) {
		errno = -result;
		return NULL;
	}
	struct vshm_writer *writer = calloc(1, sizeof(*writer));
	if (!writer)
		return NULL;
	if (options)
		writer->options = *options;
	struct vshm_writer_options *chosen = &writer->options;
	if (chosen->slot_count == 0)
		chosen->slot_count = VSHM_SLOT_COUNT_DEFAULT;
	if (chosen->reader_capacity == 0)
		chosen->reader_capacity = VSHM_READER_CAPACITY_DEFAULT;
	if (chosen->frames_in_flight == 0)
		chosen->frames_in_flight = 1;
	if (chosen->lossless_timeout_ms == 0)
		chosen->lossless_timeout_ms = VSHM_LOSSLESS_TIMEOUT_DEFAULT_MS;
	if (chosen->alignment == 0)
		chosen->alignment = vshm_segment_default_alignment();
	writer->mode = chosen->group_access ? 0660 : 0600;
	writer->next_publish = 1;
	snprintf(writer->name, sizeof(writer->name), "%s", name);

	uint64_t slot_bytes = chosen->max_frame_bytes;
	if (chosen->max_format || chosen->max_width || chosen->max_height) {
		uint64_t frame_bytes =
		    frame_bytes_for(chosen->max_format, chosen->max_width, chosen->max_height);
		if (frame_bytes == 0) {
			result = vshm_fail(EINVAL,
			                   "largest frame %ux%u in format 0x%08x is not a frame "
			                   "vshm can carry (sizes 1..%d, formats as in format.h)",
			                   chosen->max_width, chosen->max_height,
			                   chosen->max_format, VSHM_FORMAT_DIMENSION_MAX);
			goto error_free;
		}
		if (frame_bytes > slot_bytes)
			slot_bytes = frame_bytes;
	}
	if (slot_bytes == 0) {
		result = vshm_fail(EINVAL,
		                   "stream '%s': say how large its frames are (max_format, "
		                   "max_width and max_height, or max_frame_bytes)",
		                   name);
		goto error_free;
	}
	/* Two slots are never begun: the latest, and one to turn over while the others
	 * are in flight (or to overwrite when readers hold all the rest). */
	if (chosen->frames_in_flight + 2 > chosen->slot_count) {
		result = vshm_fail(EINVAL,
		                   "stream '%s': %u frames in flight need at least %u slots, "
		                   "not %u",
		                   name, chosen->frames_in_flight, chosen->frames_in_flight + 2,
		                   chosen->slot_count);
		goto error_free;
	}
	result = make_segment(writer, slot_bytes);
	if (result < 0)
		goto error_free;
	writer->last_scan_ns = vshm_now_ns();
	return writer;

error_free:
	free(writer);
	errno = -result;
	return NULL;
}

const char *vshm_writer_name(const struct vshm_writer *writer)
{
	return writer->name;
}

void vshm_writer_destroy(struct vshm_writer *writer)
{
	if (!writer)
		return;
	struct vshm_segment *segment = &writer->segment;
	if (segment->control) {
		struct vshm_shm_header *header = segment->header;
		/* Pairs with the acquire load of state_flags in vshm_reader_wait(). */
		atomic_fetch_or_explicit(&header->state_flags, VSHM_STATE_CLOSED,
		                         memory_order_release);
		/* Change the futex word so a reader about to sleep does not, then wake all. */
		atomic_fetch_add_explicit(&header->publish_futex, 1, memory_order_seq_cst);
		vshm_futex_wake_all(&header->publish_futex);
		vshm_segment_unlink(segment);
	}
	vshm_segment_close(segment);
	free(writer);
}

/* The least recently published slot among those not excluded, or NO_SLOT. */
static uint32_t oldest_slot(const struct vshm_writer *writer, uint64_t excluded)
{
	uint32_t best = NO_SLOT;
	for (uint32_t i = 0; i < writer->segment.geometry.slot_count; i++) {
		if (excluded & (UINT64_C(1) << i))
			continue;
		if (best == NO_SLOT || writer->slot_publish[i] < writer->slot_publish[best])
			best = i;
	}
	return best;
}

/* Slots whose holder count says no reader holds them (bit i for slot i). */
static uint64_t unheld_slots(const struct vshm_writer *writer, uint64_t candidates)
{
	const struct vshm_segment *segment = &writer->segment;
	uint64_t unheld = 0;
	for (uint32_t i = 0; i < segment->geometry.slot_count; i++) {
		if (!(candidates & (UINT64_C(1) << i)))
			continue;
		/* Acquire: pairs with the release decrement of a reader leaving the slot, so
		 * its reads of the slot come before anything we write there. At 0 or below
		 * (a count a broken reader drove negative) nobody can hold the slot any more:
		 * readers enter only the latest frame (see the top of this file). */
		if ((int64_t)VSHM_LOAD(&segment->header->slot_holders[i], memory_order_acquire) <=
		    0)
			unheld |= UINT64_C(1) << i;
	}
	return unheld;
}

/*
 * Claims a slot for publish number n and leaves its sequence odd. With lossless
 * readers, waits until they have consumed its frame (or demotes them); else never
 * blocks: in the worst case it overwrites the oldest held slot.
 */
static uint32_t claim_slot(struct vshm_writer *writer)
{
	struct vshm_segment *segment = &writer->segment;
	/* Our own record, not the shared word: readers map the header writable, and a
	 * scribbled value must not steer us (or shift by 64). */
	uint64_t excluded = 0;
	if (writer->latest_slot != NO_SLOT)
		excluded = UINT64_C(1) << writer->latest_slot;
	/* Slots with a frame in flight are never taken, not even to overwrite: their
	 * owner (a camera driver, say) may be writing them right now. */
	excluded |= writer->begun_slots;
	uint64_t all = segment->geometry.slot_count == 64
	                   ? UINT64_MAX
	                   : (UINT64_C(1) << segment->geometry.slot_count) - 1;
	uint64_t candidates = all & ~excluded;

	uint32_t slot = oldest_slot(writer, ~unheld_slots(writer, candidates));
	if (slot == NO_SLOT) {
		/* Every candidate seems held: maybe by readers that died. */
		vshm_writer_scan_readers(writer);
		slot = oldest_slot(writer, ~unheld_slots(writer, candidates));
	}
	if (slot == NO_SLOT) {
		/* More live readers hold slots than we have spare: take the oldest. */
		slot = oldest_slot(writer, excluded);
		VSHM_FETCH_ADD(&segment->header->overwrites, 1, memory_order_relaxed);
	}
	/* A lossless reader must have consumed the frame this slot holds before we touch
	 * it; the oldest slot holds the oldest frame, so no other would do better. */
	if (writer->slot_publish[slot])
		vshm_writer_wait_for_lossless(writer, writer->slot_publish[slot]);
	seqcount_write_begin(&segment->slots[slot].sequence, 2 * writer->next_publish - 1);
	/* Readers last read this slot's metadata a few frames ago, so its cache lines are
	 * shared with their CPUs. Writing to each now takes them for this CPU while the
	 * pixels are being made, instead of in publish, between the publish stamp and the
	 * latest word, where every reader would wait for it. The count is odd: no reader
	 * takes what these stores leave, and publish writes the whole metadata again. */
	segment->slots[slot].info.publish_ns = 0; /* the descriptor's second cache line */
	segment->slots[slot].info.flags = 0;      /* and its third */
	return slot;
}

/* Moves to a bigger segment under the same name; the old one is marked superseded. */
static int grow(struct vshm_writer *writer, uint64_t slot_bytes)
{
	struct vshm_segment old = writer->segment;
	struct vshm_shm_header *old_header = old.header;
	/* The lossless readers to wait for in the new segment, counted before it exists:
	 * each one that moves over is taken off this count as it comes, so a count loaded
	 * later misses the quick ones, and the first frame would go out before a slower one
	 * came. A reader that leaves meanwhile makes us wait the timeout for nothing. */
	uint32_t lossless =
	    atomic_load_explicit(&old_header->lossless_readers, memory_order_acquire);
	/* Readers of the old segment look for the new one as soon as they see this. */
	atomic_fetch_or_explicit(&old_header->state_flags, VSHM_STATE_SUPERSEDED,
	                         memory_order_release);
	vshm_segment_unlink(&old);
	int result = make_segment(writer, slot_bytes);
	if (result < 0) {
		/* The old segment stays mapped, so nothing its readers hold goes away, but
		 * its name is gone: the caller is told, and should stop (see writer.h). */
		writer->segment = old;
		return result;
	}
	atomic_fetch_add_explicit(&old_header->publish_futex, 1, memory_order_seq_cst);
	vshm_futex_wake_all(&old_header->publish_futex);
	/* Lossless readers take the frames left in the old segment, then come over: until
	 * they are here, a frame published would be one they never see. */
	vshm_segment_close(&old);
	vshm_writer_wait_for_lossless_readers(writer, lossless);
	vshm_log(VSHM_LOG_INFO, "stream '%s': moved to a new segment with %llu-byte slots",
	         writer->segment.name,
	         (unsigned long long)writer->segment.geometry.slot_payload_size);
	return 0;
}

int vshm_writer_begin(struct vshm_writer *writer, uint32_t format, uint32_t width, uint32_t height,
                      struct vshm_frame *frame)
{
	vshm_clear_error();
	if (writer->begun_count >= writer->options.frames_in_flight)
		return vshm_fail(EBUSY,
		                 writer->options.frames_in_flight == 1
		                     ? "a frame is already begun on stream '%s'"
		                     : "stream '%s' already has all its frames in flight begun",
		                 writer->segment.name);
	struct vshm_format_layout layout;
	if (vshm_format_layout(format, width, height, &layout) < 0)
		return vshm_fail(EINVAL, "cannot lay out a %ux%u frame of format 0x%08x", width,
		                 height, format);
	if (layout.total_size > writer->segment.geometry.slot_payload_size) {
		/* Moving would unmap slots that frames in flight are still being written to. */
		if (writer->begun_count > 0)
			return vshm_fail(EBUSY,
			                 "a %ux%u frame does not fit the slots of stream '%s' "
			                 "while other frames are begun",
			                 width, height, writer->segment.name);
		int result = grow(writer, layout.total_size);
		if (result < 0)
			return result;
	}

	/* The slot's count is odd from here on (seqcount_write_begin()), so a reader that
	 * sees any byte written next also learns that its frame is torn. */
	uint32_t slot = claim_slot(writer);

	assert(slot < writer->segment.geometry.slot_count &&
	       !(writer->begun_slots & (UINT64_C(1) << slot)));
	writer->begun_slots |= UINT64_C(1) << slot;
	writer->begun_count++;
	check_invariants(writer);
	writer->begun[slot] = (struct begun_frame){
		.layout = layout, .format = format, .width = width, .height = height
	};

	memset(frame, 0, sizeof(*frame));
	frame->format = format;
	frame->width = width;
	frame->height = height;
	frame->plane_count = layout.plane_count;
	uint8_t *base =
	    writer->segment.payload + (uint64_t)slot * writer->segment.geometry.slot_payload_size;
	for (uint32_t i = 0; i < layout.plane_count; i++) {
		frame->stride[i] = layout.stride[i];
		frame->plane_size[i] = layout.size[i];
		frame->plane[i] = base + layout.offset[i];
	}
	frame->slot = slot;
	frame->sequence = writer->next_publish;
	return 0;
}

/* Gives up the begun frame in slot: nothing of it was published, so no reader may take
 * the slot as it is now. */
static void cancel_slot(struct vshm_writer *writer, uint32_t slot)
{
	/* The slot's old frame may be partly overwritten, so it must not look stable with
	 * its old count: a reader still holding that frame sees the count change. 0 is the
	 * count of a slot that never held a frame: even, so it blocks no one, and no frame
	 * has it, so neither a reader entering through latest nor a lossless reader looking
	 * for the next frame by its count takes the slot (any other even value 2n would
	 * match frame n once n is published in another slot). */
	seqcount_write_end(&writer->segment.slots[slot].sequence, 0);
	writer->slot_publish[slot] = 0;
	writer->begun_slots &= ~(UINT64_C(1) << slot);
	writer->begun_count--;
}

int vshm_writer_cancel(struct vshm_writer *writer)
{
	if (writer->begun_count == 0)
		return -EINVAL;
	for (uint32_t slot = 0; slot < writer->segment.geometry.slot_count; slot++) {
		if (writer->begun_slots & (UINT64_C(1) << slot))
			cancel_slot(writer, slot);
	}
	check_invariants(writer);
	return 0;
}

/* The slot of the frame to publish: the only one begun, or else the one frame->slot names. */
static uint32_t slot_to_publish(const struct vshm_writer *writer, const struct vshm_frame *frame)
{
	/* One at a time: the begun frame, whatever frame->slot says (the original API). */
	if (writer->options.frames_in_flight <= 1)
		return writer->begun_count == 1 ? (uint32_t)__builtin_ctzll(writer->begun_slots)
		                                : NO_SLOT;
	/* Several may be in flight: only the one frame->slot names, even when it is the
	 * only one begun right now, so a stale or wrong frame is never published. */
	if (writer->begun_count > 0 && frame->slot < writer->segment.geometry.slot_count &&
	    (writer->begun_slots & (UINT64_C(1) << frame->slot)))
		return frame->slot;
	return NO_SLOT;
}

int vshm_writer_cancel_frame(struct vshm_writer *writer, const struct vshm_frame *frame)
{
	uint32_t slot = slot_to_publish(writer, frame);
	if (slot == NO_SLOT)
		return -EINVAL;
	cancel_slot(writer, slot);
	return 0;
}

int vshm_writer_publish(struct vshm_writer *writer, struct vshm_frame *frame)
{
	uint32_t slot = slot_to_publish(writer, frame);
	if (slot == NO_SLOT)
		return -EINVAL;
	struct vshm_segment *segment = &writer->segment;
	struct vshm_shm_header *header = segment->header;
	struct vshm_shm_slot *descriptor = &segment->slots[slot];
	const struct begun_frame *begun = &writer->begun[slot];
	const struct vshm_format_layout *layout = &begun->layout;
	uint64_t n = writer->next_publish;
	uint64_t now = vshm_now_ns();

	/* Format, size and layout come from begin, not from the caller's frame, so the
	 * metadata always describes what is in the slot. */
	struct vshm_shm_frame_info info = {
		.format = begun->format,
		.width = begun->width,
		.height = begun->height,
		.plane_count = layout->plane_count,
		.frame_number = frame->frame_number,
		.capture_ns = frame->capture_ns ? frame->capture_ns : now,
		.publish_ns = now,
		.flags = frame->flags,
		.color_matrix = frame->color_matrix,
		.color_range = frame->color_range,
		.color_primaries = frame->color_primaries,
		.color_transfer = frame->color_transfer,
	};
	/* Unknown is 0/0 in the segment, whichever half the caller left zero. */
	if (frame->sample_aspect.numerator && frame->sample_aspect.denominator) {
		info.sample_aspect_numerator = frame->sample_aspect.numerator;
		info.sample_aspect_denominator = frame->sample_aspect.denominator;
	}
	for (uint32_t i = 0; i < layout->plane_count; i++) {
		info.stride[i] = layout->stride[i];
		info.plane_offset[i] = layout->offset[i];
		info.plane_size[i] = layout->size[i];
	}
	VSHM_STEP(); /* a plain store into the slot, made visible by the even count below */
	descriptor->info = info;

	/* Pixels and metadata written above are visible to a reader that sees 2n. */
	seqcount_write_end(&descriptor->sequence, 2 * n);
	/* Release: a reader whose fetch_add reads this value sees the frame complete.
	 * Acquire: pairs with the release of readers that left the previous frame through
	 * the word, so their reads of its slot come before we ever reuse it. seq_cst: Dekker
	 * with a reader becoming lossless (become_lossless() in reader.c), against our
	 * seq_cst loads of lossless_readers and the flags when we next claim a slot. */
	uint64_t previous = VSHM_EXCHANGE(
	    &header->latest, (n & VSHM_LATEST_NUMBER_MASK) << VSHM_LATEST_SLOT_BITS | slot,
	    memory_order_seq_cst);
	/* The readers that entered the previous frame hold its slot now. Our own record of
	 * that slot, never the word's: readers map the header writable. Relaxed: only we
	 * read the count in order to claim, after this; readers only subtract from it. */
	uint64_t entered = previous >> VSHM_LATEST_ENTERED_SHIFT;
	if (entered && writer->latest_slot != NO_SLOT)
		VSHM_FETCH_ADD(&header->slot_holders[writer->latest_slot], entered,
		               memory_order_relaxed);
	VSHM_STORE(&header->frames_published, n, memory_order_relaxed);
	/* seq_cst store, then the seq_cst load of sleepers: Dekker with the reader's seq_cst
	 * increment of sleepers then load of publish_futex in vshm_reader_wait(). Either we
	 * see that it may sleep and wake it, or it sees the new value and does not sleep. */
	VSHM_STORE(&header->publish_futex, (uint32_t)n, memory_order_seq_cst);
	if (VSHM_LOAD(&header->sleepers, memory_order_seq_cst))
		vshm_futex_wake_all(&header->publish_futex);

	writer->slot_publish[slot] = n;
	writer->latest_slot = slot;
	writer->next_publish = n + 1;
	writer->begun_slots &= ~(UINT64_C(1) << slot);
	writer->begun_count--;
	check_invariants(writer);
	frame->sequence = n;
	frame->publish_ns = now;
	frame->slot = slot;
	if (now - writer->last_scan_ns > READER_SCAN_INTERVAL_NS)
		vshm_writer_scan_readers(writer);
	return 0;
}

void vshm_writer_count_dropped(struct vshm_writer *writer, uint64_t n)
{
	atomic_fetch_add_explicit(&writer->segment.header->frames_dropped, n, memory_order_relaxed);
}

void vshm_writer_get_stats(const struct vshm_writer *writer, struct vshm_writer_stats *stats)
{
	const struct vshm_shm_header *header = writer->segment.header;
	memset(stats, 0, sizeof(*stats));
	stats->frames_published = writer->next_publish - 1;
	stats->overwrites = atomic_load_explicit(&header->overwrites, memory_order_relaxed);
	stats->frames_dropped = atomic_load_explicit(&header->frames_dropped, memory_order_relaxed);
	/* Acquire: pairs with the reader's release increment at the end of its attach, for a
	 * writer that waits for its readers before its first frame. */
	stats->readers_attached =
	    atomic_load_explicit(&header->readers_attached, memory_order_acquire);
	stats->slot_count = writer->segment.geometry.slot_count;
	stats->slot_size = writer->segment.geometry.slot_payload_size;
	stats->segments_created = writer->segments_created;
	stats->lossless_readers =
	    atomic_load_explicit(&header->lossless_readers, memory_order_relaxed);
	stats->lossless_waits = writer->lossless_waits;
	stats->demotions = atomic_load_explicit(&header->demotions, memory_order_relaxed);
}

#ifdef VSHM_PROTOCOL_STEPS
size_t vshm_step_writer_state_size(void)
{
	return sizeof(struct vshm_writer);
}
#endif
