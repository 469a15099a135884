/*
 * The reader side of the slot protocol (the writer's side, and the protocol as a
 * whole, are described at the top of writer.c).
 *
 * Acquire:
 *   1. load latest (acquire); it names slot s and publish number n;
 *   2. store held_slot = s + 1 in our reader entry (seq_cst), then load the slot's
 *      sequence (seq_cst): if it is not 2n the slot is being or has been rewritten,
 *      so start again; if it is, the writer will avoid the slot (see claim_slot());
 *   3. copy the metadata, acquire fence, re-load the sequence (relaxed): unchanged
 *      means the metadata is whole; it is then bounds-checked before any use.
 * Release: acquire fence, re-load the sequence (relaxed), compare with 2n, clear
 * held_slot. Equal means no byte of the frame changed while we held it.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "futex.h"
#include "log.h"
#include "racy-copy.h"
#include "segment.h"
#include "seqcount.h"
#include "shared-atomic.h"
#include "vshm/reader.h"

#define NO_ENTRY UINT32_MAX
/* Longest a wait sleeps before it looks whether the writer is still alive. */
#define LIVENESS_SLICE_NS 50000000
/* Attempts at taking the latest frame before telling the caller to try again. */
#define ACQUIRE_ATTEMPTS 8
/* At most one warning about rejected frames this often. */
#define WARNING_INTERVAL_NS 1000000000u
/* How often vshm_reader_attach_wait() looks for the stream: soon at first, so that a
 * reader started just before its writer misses no frame, then less often, so that a
 * long wait costs nothing. */
#define ATTACH_RETRY_FIRST_NS 1000000
#define ATTACH_RETRY_LAST_NS  50000000

struct vshm_reader {
	struct vshm_segment segment;
	struct vshm_reader_options options;
	uint32_t entry; /* our index in the reader table */
	bool holding;
	uint32_t held_slot;
	uint64_t held_sequence; /* the even count the held slot had when taken */
	uint64_t last_acquired; /* publish number of the last frame taken or rejected */
	bool writer_known_gone;
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
};

static struct vshm_shm_reader *own_entry(struct vshm_reader *reader)
{
	return &reader->segment.readers[reader->entry];
}

static void raise_high_water(struct vshm_shm_header *header, uint32_t entry)
{
	uint32_t seen = atomic_load_explicit(&header->reader_high_water, memory_order_relaxed);
	/* Pairs with the writer's acquire load of reader_high_water: our entry's state is
	 * stored before, so a writer scanning up to the new mark sees it. */
	while (seen < entry + 1 &&
	       !atomic_compare_exchange_weak_explicit(&header->reader_high_water, &seen, entry + 1,
	                                              memory_order_release, memory_order_relaxed)) {
	}
}

/* Takes a free entry of the reader table: the first whose lock nobody holds. */
static int claim_entry(struct vshm_reader *reader)
{
	struct vshm_segment *segment = &reader->segment;
	for (uint32_t i = 0; i < segment->geometry.reader_capacity; i++) {
		int locked =
		    vshm_segment_lock(segment->fd, vshm_segment_reader_lock_offset(segment, i));
		if (locked == -EAGAIN)
			continue; /* a live reader has it */
		if (locked < 0)
			return vshm_fail(-locked, "cannot lock a reader entry of stream '%s': %s",
			                 segment->name, strerror(-locked));
		struct vshm_shm_reader *entry = &segment->readers[i];
		/* The entry may still describe a reader that died; holding its lock, we own it. */
		uint32_t previous = atomic_load_explicit(&entry->state, memory_order_relaxed);
		atomic_store_explicit(&entry->held_slot, 0, memory_order_relaxed);
		atomic_store_explicit(&entry->waiting, 0, memory_order_relaxed);
		atomic_store_explicit(&entry->frames_acquired, 0, memory_order_relaxed);
		atomic_store_explicit(&entry->frames_torn, 0, memory_order_relaxed);
		entry->pid = (uint32_t)getpid();
		entry->attached_monotonic_ns = vshm_now_ns();
		/* Pairs with the writer's acquire load of state in vshm_writer_scan_readers(). */
		atomic_store_explicit(&entry->state, VSHM_READER_ACTIVE, memory_order_release);
		if (previous != VSHM_READER_ACTIVE)
			atomic_fetch_add_explicit(&segment->header->readers_attached, 1,
			                          memory_order_relaxed);
		raise_high_water(segment->header, i);
		reader->entry = i;
		return 0;
	}
	return vshm_fail(EUSERS,
	                 "stream '%s' has all %u reader entries taken; ask its writer "
	                 "for more (reader capacity)",
	                 segment->name, segment->geometry.reader_capacity);
}

static void free_entry(struct vshm_reader *reader)
{
	struct vshm_segment *segment = &reader->segment;
	struct vshm_shm_reader *entry = own_entry(reader);
	atomic_store_explicit(&entry->held_slot, 0, memory_order_release);
	atomic_store_explicit(&entry->waiting, 0, memory_order_relaxed);
	atomic_store_explicit(&entry->state, VSHM_READER_FREE, memory_order_release);
	atomic_fetch_sub_explicit(&segment->header->readers_attached, 1, memory_order_relaxed);
	vshm_segment_unlock(segment->fd, vshm_segment_reader_lock_offset(segment, reader->entry));
}

/* Opens name into segment and claims an entry; on failure nothing stays open. */
static int attach_segment(struct vshm_reader *reader, struct vshm_segment *segment,
                          const char *name)
{
	int result = vshm_segment_open(segment, name, &reader->options);
	if (result < 0)
		return result;
	/*
	 * A segment marked superseded still under the name is being replaced right now:
	 * a new writer has marked it and is about to unlink it (handle_existing() in
	 * segment.c, grow() in writer.c). Attaching to it would hand the old writer's last
	 * frame out again as new, and the next wait would say -ESTALE again; tell the caller
	 * to try again instead, which finds the new segment. Found by test-writer-crash:
	 * readers woken by the takeover reattached to the dead writer's segment several
	 * times per takeover. Pairs with the release fetch_or of state_flags there.
	 */
	if (atomic_load_explicit(&segment->header->state_flags, memory_order_acquire) &
	    VSHM_STATE_SUPERSEDED) {
		vshm_segment_close(segment);
		return vshm_fail(EAGAIN,
		                 "stream '%s' is being replaced by a new segment; try again", name);
	}
	struct vshm_segment previous = reader->segment;
	uint32_t previous_entry = reader->entry;
	reader->segment = *segment;
	result = claim_entry(reader);
	if (result < 0) {
		vshm_segment_close(&reader->segment);
		reader->segment = previous;
		reader->entry = previous_entry;
		return result;
	}
	*segment = reader->segment;
	int entry = (int)reader->entry;
	/* The reader stays on its old segment and entry until the caller switches. */
	reader->segment = previous;
	reader->entry = previous_entry;
	return entry;
}

struct vshm_reader *vshm_reader_attach(const char *name, const struct vshm_reader_options *options)
{
	vshm_clear_error();
	struct vshm_reader *reader = calloc(1, sizeof(*reader));
	if (!reader)
		return NULL;
	if (options)
		reader->options = *options;
	struct vshm_segment segment;
	int result = attach_segment(reader, &segment, name);
	if (result < 0) {
		free(reader);
		errno = -result;
		return NULL;
	}
	reader->segment = segment;
	reader->entry = (uint32_t)result;
	return reader;
}

struct vshm_reader *vshm_reader_attach_wait(const char *name,
                                            const struct vshm_reader_options *options,
                                            int timeout_ms, vshm_attach_wait_callback keep_waiting,
                                            void *data)
{
	uint64_t start = vshm_now_ns();
	long pause_ns = ATTACH_RETRY_FIRST_NS;
	for (unsigned attempt = 0;; attempt++) {
		struct vshm_reader *reader = vshm_reader_attach(name, options);
		if (reader)
			return reader;
		if (errno != ENOENT && errno != EAGAIN && errno != ENODATA)
			return NULL; /* final: the caller reports vshm_error() */
		if (keep_waiting && !keep_waiting(name, attempt, data)) {
			errno = EINTR;
			return NULL;
		}
		if (timeout_ms >= 0 && vshm_now_ns() - start > (uint64_t)timeout_ms * 1000000u) {
			vshm_fail(ETIMEDOUT, "stream '%s' did not appear within %g s", name,
			          timeout_ms / 1000.0);
			errno = ETIMEDOUT;
			return NULL;
		}
		struct timespec pause = { 0, pause_ns };
		nanosleep(&pause, NULL);
		pause_ns =
		    pause_ns * 2 < ATTACH_RETRY_LAST_NS ? pause_ns * 2 : ATTACH_RETRY_LAST_NS;
	}
}

void vshm_reader_detach(struct vshm_reader *reader)
{
	if (!reader)
		return;
	free_entry(reader);
	vshm_segment_close(&reader->segment);
	free(reader);
}

const char *vshm_reader_name(const struct vshm_reader *reader)
{
	return reader->segment.name;
}

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
	frame->sequence = n;
	frame->slot = slot;
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
	if (n > reader->last_acquired)
		reader->last_acquired = n;
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

int vshm_reader_acquire(struct vshm_reader *reader, struct vshm_frame *frame)
{
	if (reader->holding)
		return -EBUSY;
	if (vshm_segment_broken(&reader->segment))
		return -EAGAIN; /* nothing to take from a truncated segment */
	struct vshm_segment *segment = &reader->segment;
	struct vshm_shm_reader *entry = own_entry(reader);

	for (int attempt = 0; attempt < ACQUIRE_ATTEMPTS; attempt++) {
		/* Pairs with the writer's release store of latest in vshm_writer_publish(). */
		uint64_t latest = VSHM_LOAD(&segment->header->latest, memory_order_acquire);
		if (latest == 0)
			return -EAGAIN;
		uint32_t slot = (uint32_t)(latest & VSHM_LATEST_SLOT_MASK);
		uint64_t n = latest >> VSHM_LATEST_SLOT_BITS;
		if (slot >= segment->geometry.slot_count)
			return reject(reader, n, "latest names slot %u of %u", slot,
			              segment->geometry.slot_count);
		/* seq_cst store, then the seq_cst load in seqcount_read_begin(): Dekker with
		 * the writer's odd store and re-check of held_slot in claim_slot(). */
		VSHM_STORE(&entry->held_slot, slot + 1, memory_order_seq_cst);
		_Atomic uint64_t *sequence = &segment->slots[slot].sequence;
		uint64_t before = seqcount_read_begin(sequence);
		if (before != 2 * n) {
			VSHM_STORE(&entry->held_slot, 0, memory_order_relaxed);
			/* Usually the slot was rewritten for a newer frame and latest has moved
			 * on. If latest still names it, its writer broke the protocol (a
			 * writer never rewrites the latest slot) or stalls in the middle of
			 * a frame there: the frame is rejected, and we back off until a
			 * newer one comes. Acquire order: this load stays after the one of
			 * the sequence. */
			if (VSHM_LOAD(&segment->header->latest, memory_order_acquire) == latest) {
				return reject(
				    reader, n,
				    "latest names slot %u, whose sequence is %llu, not %llu", slot,
				    (unsigned long long)before, (unsigned long long)(2 * n));
			}
			reader->acquire_retries++;
			continue;
		}
		struct vshm_shm_frame_info info;
		VSHM_STEP(); /* a plain copy from the slot, checked by the re-load below */
		vshm_racy_copy(&info, &segment->slots[slot].info, sizeof(info));
		if (seqcount_read_retry(sequence, before)) {
			VSHM_STORE(&entry->held_slot, 0, memory_order_relaxed);
			reader->acquire_retries++;
			continue;
		}
		bool same_geometry =
		    reader->geometry_checked &&
		    memcmp(&info, reader->checked_geometry, sizeof(reader->checked_geometry)) == 0;
		if (!same_geometry && check_frame_info(reader, &info) < 0) {
			VSHM_STORE(&entry->held_slot, 0, memory_order_relaxed);
			return reject(reader, n,
			              "its metadata fails the bounds checks (format 0x%08x, %ux%u)",
			              info.format, info.width, info.height);
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
		atomic_store_explicit(&entry->frames_acquired, reader->frames_acquired,
		                      memory_order_relaxed);
		return 0;
	}
	return -EAGAIN;
}

int vshm_reader_release(struct vshm_reader *reader)
{
	if (!reader->holding)
		return -EINVAL;
	/* Set by acquire from an index it checked against our own slot count. */
	assert(reader->held_slot < reader->segment.geometry.slot_count);
	struct vshm_segment *segment = &reader->segment;
	struct vshm_shm_reader *entry = own_entry(reader);
	/* If any pixel the caller read was written after the writer began rewriting the
	 * slot, the count has moved on from the one we took it with. */
	bool intact = !seqcount_read_retry(&segment->slots[reader->held_slot].sequence,
	                                   reader->held_sequence);
	/* Pixels read from a truncated segment were zeros, not the frame. */
	if (vshm_segment_broken(segment))
		intact = false;
	/* Release: our reads of the slot happen before the writer can see it free. */
	VSHM_STORE(&entry->held_slot, 0, memory_order_release);
	reader->holding = false;
	if (!intact) {
		reader->frames_torn++;
		atomic_store_explicit(&entry->frames_torn, reader->frames_torn,
		                      memory_order_relaxed);
	}
	return intact ? 1 : 0;
}

static bool newer_frame_published(const struct vshm_reader *reader)
{
	uint64_t latest =
	    atomic_load_explicit(&reader->segment.header->latest, memory_order_acquire);
	return (latest >> VSHM_LATEST_SLOT_BITS) > reader->last_acquired;
}

enum vshm_writer_state vshm_reader_writer_state(struct vshm_reader *reader)
{
	const struct vshm_segment *segment = &reader->segment;
	/* Pairs with the release fetch_or of state_flags by a writer that moved on. */
	uint32_t flags = atomic_load_explicit(&segment->header->state_flags, memory_order_acquire);
	if (flags & VSHM_STATE_SUPERSEDED)
		return VSHM_WRITER_REPLACED;
	if (!(flags & VSHM_STATE_CLOSED) && vshm_segment_writer_alive(segment))
		return VSHM_WRITER_ALIVE;
	return vshm_segment_name_replaced(segment) ? VSHM_WRITER_REPLACED : VSHM_WRITER_GONE;
}

int vshm_reader_wait(struct vshm_reader *reader, int timeout_ms)
{
	struct vshm_segment *segment = &reader->segment;
	struct vshm_shm_header *header = segment->header;
	struct vshm_shm_reader *entry = own_entry(reader);
	uint64_t start = vshm_now_ns();
	int64_t budget = timeout_ms < 0 ? INT64_MAX : (int64_t)timeout_ms * 1000000;

	for (;;) {
		if (vshm_segment_broken(segment))
			return -ESTALE; /* truncated under us: move to what has the name next */
		if (newer_frame_published(reader))
			return 0;
		enum vshm_writer_state state = VSHM_WRITER_ALIVE;
		uint32_t flags = atomic_load_explicit(&header->state_flags, memory_order_acquire);
		if (flags || reader->writer_known_gone)
			state = vshm_reader_writer_state(reader);
		if (state == VSHM_WRITER_REPLACED)
			return -ESTALE;
		if (state == VSHM_WRITER_GONE && !reader->writer_known_gone) {
			reader->writer_known_gone = true;
			return -EPIPE;
		}
		int64_t elapsed = (int64_t)(vshm_now_ns() - start);
		if (elapsed >= budget)
			return reader->writer_known_gone ? -EPIPE : -ETIMEDOUT;
		int64_t slice =
		    budget - elapsed < LIVENESS_SLICE_NS ? budget - elapsed : LIVENESS_SLICE_NS;

		/* seq_cst store then seq_cst load: Dekker with the writer's seq_cst store of
		 * publish_futex then load of the waiting flags in vshm_writer_publish(). */
		atomic_store_explicit(&entry->waiting, 1, memory_order_seq_cst);
		uint32_t word = atomic_load_explicit(&header->publish_futex, memory_order_seq_cst);
		int result = 0;
		if (!newer_frame_published(reader))
			result = vshm_futex_wait(&header->publish_futex, word, slice);
		atomic_store_explicit(&entry->waiting, 0, memory_order_relaxed);
		if (result == -EINTR)
			return -EINTR;
		if (result < 0 && result != -ETIMEDOUT)
			return result; /* not expected from FUTEX_WAIT; never spin on it */
		/* A dead writer wakes nobody, so a quiet slice is when we ask the kernel. */
		if (result == -ETIMEDOUT && !reader->writer_known_gone &&
		    !newer_frame_published(reader) && !vshm_segment_writer_alive(segment)) {
			reader->writer_known_gone = true;
			return vshm_segment_name_replaced(segment) ? -ESTALE : -EPIPE;
		}
	}
}

int vshm_reader_reattach(struct vshm_reader *reader)
{
	vshm_clear_error();
	if (reader->holding)
		vshm_reader_release(reader);
	struct vshm_segment segment;
	int result = attach_segment(reader, &segment, reader->segment.name);
	if (result < 0)
		return result;
	if (segment.inode == reader->segment.inode && segment.device == reader->segment.device) {
		/* The name still holds our own segment: there is nothing new to move to. */
		struct vshm_segment current = reader->segment;
		uint32_t current_entry = reader->entry;
		reader->segment = segment;
		reader->entry = (uint32_t)result;
		free_entry(reader);
		vshm_segment_close(&reader->segment);
		reader->segment = current;
		reader->entry = current_entry;
		return vshm_fail(EAGAIN, "stream '%s' has no new segment yet; try again later",
		                 reader->segment.name);
	}
	free_entry(reader);
	vshm_segment_close(&reader->segment);
	reader->segment = segment;
	reader->entry = (uint32_t)result;
	reader->last_acquired = 0;
	reader->writer_known_gone = false;
	reader->geometry_checked = false;
	reader->reattaches++;
	return 0;
}

void vshm_reader_get_stats(const struct vshm_reader *reader, struct vshm_reader_stats *stats)
{
	const struct vshm_shm_header *header = reader->segment.header;
	memset(stats, 0, sizeof(*stats));
	stats->frames_acquired = reader->frames_acquired;
	stats->frames_torn = reader->frames_torn;
	stats->acquire_retries = reader->acquire_retries;
	stats->frames_invalid = reader->frames_invalid;
	stats->reattaches = reader->reattaches;
	stats->frames_published =
	    atomic_load_explicit(&header->frames_published, memory_order_relaxed);
	stats->overwrites = atomic_load_explicit(&header->overwrites, memory_order_relaxed);
	stats->frames_dropped = atomic_load_explicit(&header->frames_dropped, memory_order_relaxed);
	stats->readers_attached =
	    atomic_load_explicit(&header->readers_attached, memory_order_relaxed);
	stats->slot_count = reader->segment.geometry.slot_count;
	stats->writer_pid = header->writer_pid;
	stats->frame_interval_ns = header->nominal_frame_interval_ns;
}

#ifdef VSHM_PROTOCOL_STEPS
size_t vshm_step_reader_state_size(void)
{
	return sizeof(struct vshm_reader);
}
#endif
