/*
 * The reader's life around its frames: attaching (claiming an entry of the reader
 * table), waiting for the next frame, telling what became of the writer, moving to a
 * new segment, detaching. Taking and giving back frames is reader-frames.c; the
 * protocol as a whole is described at the top of writer.c.
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
#include "reader-entry.h"
#include "reader-private.h"
#include "shared-atomic.h"

/* Longest a wait sleeps before it looks whether the writer is still alive. */
#define LIVENESS_SLICE_NS 50000000
/* How often vshm_reader_attach_wait() looks for the stream: soon at first, so that a
 * reader started just before its writer misses no frame, then less often, so that a
 * long wait costs nothing. */
#define ATTACH_RETRY_FIRST_NS 1000000
#define ATTACH_RETRY_LAST_NS  50000000

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

/*
 * Asks the writer for every frame published from now on. The frames up to the latest
 * one are not ours to wait for: consumed says so before the flag tells the writer to look
 * at it (release: pairs with the writer's acquire load of the flags). We are counted
 * among the lossless readers before the flag is set, as for holds and sleepers: a reader
 * killed in between leaves the count one too high (the writer looks at the entries for
 * nothing until its scan repairs the count), never one too low (the writer would stop
 * looking while a lossless reader is live).
 *
 * Then latest once more. A writer that looked for lossless readers before our flag was
 * out may be claiming a slot without waiting for us, and the frame that slot held may
 * be newer than the latest we loaded first. The seq_cst increment and flag store, then
 * the seq_cst load of latest, against the writer's seq_cst exchange of latest, then its
 * seq_cst loads of lossless_readers and of the flags (Dekker): every claim after the
 * publish of the frame after the one we load sees us. If that frame is the one we loaded
 * first, nothing newer was published in between, and we start after it. Otherwise only
 * the frame we load second is safe: the claims that may not have seen us exclude it (it
 * was the latest), but not the frames between. We start with it, and say the ones
 * before it are consumed, so that the writer never waits for them. A writer waiting for
 * us before its first frame (--wait-readers, or a move to bigger slots) waits until we
 * are done attaching, after this load, which so finds nothing published. Returns the
 * last frame we do not take.
 */
static uint64_t become_lossless(struct vshm_reader *reader, struct vshm_shm_reader *entry)
{
	struct vshm_shm_header *header = reader->segment.header;
	uint64_t first = vshm_latest_number(VSHM_LOAD(&header->latest, memory_order_acquire));
	VSHM_STORE(&entry->consumed, first, memory_order_relaxed);
	VSHM_FETCH_ADD(&header->lossless_readers, 1, memory_order_seq_cst);
	VSHM_STORE(&entry->flags, VSHM_READER_LOSSLESS, memory_order_seq_cst);
	reader->lossless = true;
	reader->demoted = false;
	uint64_t second = vshm_latest_number(VSHM_LOAD(&header->latest, memory_order_seq_cst));
	if (second <= first)
		return first;
	vshm_reader_consume(reader, second - 1);
	return second - 1;
}

/*
 * The last step of attaching: counted in readers_attached, then noted in our entry. Last,
 * once a lossless reader has looked at latest for the last time: a writer that waits
 * for its readers before its first frame (--wait-readers) publishes nothing before both
 * looks, and sees our flag before it claims a slot, so we take its every frame. Release:
 * pairs with that writer's acquire load of the count. The note is what a writer moving
 * to bigger slots reads, entry by entry (vshm_writer_lossless_readers_here()): the count
 * says how many readers are done attaching, not which, while others come and go.
 * Release: pairs with that writer's acquire load of the note. Counted first and noted
 * second, as for holds: a reader killed in between leaves the count one too high (the
 * undoing of its entry cannot take off a count it did not note) until the writer's next
 * scan recounts the live readers, never one too low.
 */
static void count_attached(struct vshm_shm_header *header, struct vshm_shm_reader *entry)
{
	atomic_fetch_add_explicit(&header->readers_attached, 1, memory_order_release);
	atomic_store_explicit(&entry->attached, 1, memory_order_release);
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
		/* The entry may still describe a reader that died; holding its lock, we own it,
		 * and undo what it was in the middle of, as the writer's scan would. */
		uint32_t previous = atomic_load_explicit(&entry->state, memory_order_relaxed);
		if (previous == VSHM_READER_ACTIVE)
			vshm_reader_entry_undo(segment, entry, VSHM_ENTRY_LATEST_FROM_WORD);
		atomic_store_explicit(&entry->held_slot, 0, memory_order_relaxed);
		atomic_store_explicit(&entry->waiting, 0, memory_order_relaxed);
		atomic_store_explicit(&entry->flags, 0, memory_order_relaxed);
		atomic_store_explicit(&entry->frames_acquired, 0, memory_order_relaxed);
		atomic_store_explicit(&entry->frames_torn, 0, memory_order_relaxed);
		atomic_store_explicit(&entry->attached, 0, memory_order_relaxed);
		entry->pid = (uint32_t)getpid();
		entry->attached_monotonic_ns = vshm_now_ns();
		/* Pairs with the writer's acquire load of state in vshm_writer_scan_readers(). */
		atomic_store_explicit(&entry->state, VSHM_READER_ACTIVE, memory_order_release);
		raise_high_water(segment->header, i);
		reader->entry = i;
		reader->attached_after =
		    reader->options.lossless ? become_lossless(reader, entry) : 0;
		count_attached(segment->header, entry);
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
	struct vshm_shm_reader *entry = vshm_reader_own_entry(reader);
	/* Our lossless place first: the writer must not wait for a reader that is going. */
	uint32_t flags = atomic_load_explicit(&entry->flags, memory_order_acquire);
	while ((flags & VSHM_READER_LOSSLESS) &&
	       !atomic_compare_exchange_weak_explicit(&entry->flags, &flags, 0,
	                                              memory_order_acq_rel, memory_order_acquire)) {
	}
	if (flags & VSHM_READER_LOSSLESS) {
		atomic_fetch_sub_explicit(&segment->header->lossless_readers, 1,
		                          memory_order_relaxed);
		/* A writer waiting for us looks again. */
		atomic_fetch_add_explicit(&segment->header->consumed_futex, 1,
		                          memory_order_seq_cst);
		vshm_futex_wake_all(&segment->header->consumed_futex);
	}
	atomic_store_explicit(&entry->held_slot, 0, memory_order_release);
	atomic_store_explicit(&entry->waiting, 0, memory_order_relaxed);
	/* The note cleared before the count, as for holds: killed in between, we leave the
	 * count one too high until the writer's next scan. */
	atomic_store_explicit(&entry->attached, 0, memory_order_relaxed);
	atomic_fetch_sub_explicit(&segment->header->readers_attached, 1, memory_order_relaxed);
	atomic_store_explicit(&entry->state, VSHM_READER_FREE, memory_order_release);
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
	reader->last_acquired = reader->attached_after;
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
		int error = errno;
		if (error != ENOENT && error != EAGAIN && error != ENODATA)
			return NULL; /* final: the caller reports vshm_error() */
		/* Why it is not there yet, unless it simply is not: a segment left unfinished
		 * or being replaced is worth naming when the wait gives up. */
		char why[256] = "";
		if (error != ENOENT)
			snprintf(why, sizeof(why), ": %s", vshm_error());
		if (keep_waiting && !keep_waiting(name, attempt, data)) {
			errno = EINTR;
			return NULL;
		}
		if (timeout_ms >= 0 && vshm_now_ns() - start > (uint64_t)timeout_ms * 1000000u) {
			vshm_fail(ETIMEDOUT, "stream '%s' did not appear within %g s%s", name,
			          timeout_ms / 1000.0, why);
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
	/* As the caller would have: the writer must not go on counting our hold. */
	if (reader->holding)
		vshm_reader_release(reader);
	free_entry(reader);
	vshm_segment_close(&reader->segment);
	free(reader);
}

const char *vshm_reader_name(const struct vshm_reader *reader)
{
	return reader->segment.name;
}

/*
 * Any other number than the last one taken is a frame published since: a writer's
 * numbers only grow within a segment. Not "greater": a number that a process able to
 * write the segment forged far ahead, then rejected, would otherwise leave the reader
 * asleep through every honest frame after it.
 */
static bool newer_frame_published(const struct vshm_reader *reader)
{
	/* A segment cut short reads zeros where it was: nothing there to acquire. */
	if (vshm_segment_broken(&reader->segment))
		return false;
	uint64_t latest =
	    atomic_load_explicit(&reader->segment.header->latest, memory_order_acquire);
	uint64_t n = vshm_latest_number(latest);
	return n != 0 && n != reader->last_acquired; /* 0: nothing published yet */
}

int vshm_reader_skip(struct vshm_reader *reader, uint64_t sequence)
{
	if (reader->lossless)
		return -EINVAL;
	if (vshm_segment_broken(&reader->segment))
		return 0; /* its header reads zeros: nothing to skip to */
	/* No further than this segment's latest frame: a number from another segment (one
	 * of the caller's readers still on the segment a restarted writer left) then costs
	 * this reader at most the frame that is latest now, never the frames to come. */
	uint64_t latest = vshm_latest_number(
	    atomic_load_explicit(&reader->segment.header->latest, memory_order_acquire));
	if (sequence > latest)
		sequence = latest;
	if (sequence > reader->last_acquired)
		reader->last_acquired = sequence;
	return 0;
}

int vshm_reader_poll(struct vshm_reader *reader)
{
	const struct vshm_segment *segment = &reader->segment;
	/* Acquire takes nothing from a truncated segment, however many frames the writer
	 * publishes: saying 1 would send a spinning reader to acquire in vain for ever.
	 * Two loads of a process-local table, and no system call. */
	if (vshm_segment_broken(segment))
		return 0;
	uint64_t latest = atomic_load_explicit(&segment->header->latest, memory_order_acquire);
	uint64_t n = vshm_latest_number(latest);
	if (n == 0 || n == reader->last_acquired)
		return 0; /* nothing yet, or nothing since (see newer_frame_published()) */
	/* The acquire that follows reads this slot's count and metadata: ask for their
	 * cache lines now, so that they travel while that acquire's entry into the latest
	 * word waits for its own line, instead of after it. Only a hint: the slot is
	 * checked again there, and the writer may have moved on by then. */
	uint32_t slot = (uint32_t)(latest & VSHM_LATEST_SLOT_MASK);
	if (slot < segment->geometry.slot_count) {
		const char *descriptor = (const char *)&segment->slots[slot];
		__builtin_prefetch(descriptor, 0, 3);
		__builtin_prefetch(descriptor + 64, 0, 3);
		__builtin_prefetch(descriptor + 128, 0, 3);
	}
	return 1;
}

enum vshm_writer_state vshm_reader_writer_state(struct vshm_reader *reader)
{
	const struct vshm_segment *segment = &reader->segment;
	/* Cut short under us (a guarded reader read zeros past its end): the flags and the
	 * lock say nothing true any more, and, as wait's -ESTALE says, what has the name
	 * next is where to go. */
	if (vshm_segment_broken(segment))
		return VSHM_WRITER_REPLACED;
	/* Pairs with the release fetch_or of state_flags by a writer that moved on. */
	uint32_t flags = atomic_load_explicit(&segment->header->state_flags, memory_order_acquire);
	if (flags & VSHM_STATE_SUPERSEDED)
		return VSHM_WRITER_REPLACED;
	if (!(flags & VSHM_STATE_CLOSED) && vshm_segment_writer_alive(segment))
		return VSHM_WRITER_ALIVE;
	return vshm_segment_name_replaced(segment) ? VSHM_WRITER_REPLACED : VSHM_WRITER_GONE;
}

/*
 * Whether the writer died without a word: no newer frame, and nobody holds the writer's
 * lock. Asks the kernel at most once per liveness slice, so that a caller whose waits
 * never sleep (a timeout of 0, in a loop) pays one system call per slice, not per call,
 * and still hears of the death within a slice. Records it as reported.
 */
static bool writer_found_dead(struct vshm_reader *reader)
{
	uint64_t now = vshm_now_ns();
	if (reader->writer_known_gone || now - reader->liveness_checked_ns < LIVENESS_SLICE_NS)
		return false;
	reader->liveness_checked_ns = now;
	if (newer_frame_published(reader) || vshm_segment_writer_alive(&reader->segment))
		return false;
	reader->writer_known_gone = true;
	return true;
}

int vshm_reader_wait(struct vshm_reader *reader, int timeout_ms)
{
	struct vshm_segment *segment = &reader->segment;
	struct vshm_shm_header *header = segment->header;
	struct vshm_shm_reader *entry = vshm_reader_own_entry(reader);
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
		if (elapsed >= budget) {
			/* A wait that never sleeps must still hear of a dead writer. */
			if (writer_found_dead(reader))
				return vshm_segment_name_replaced(segment) ? -ESTALE : -EPIPE;
			return reader->writer_known_gone ? -EPIPE : -ETIMEDOUT;
		}
		int64_t slice =
		    budget - elapsed < LIVENESS_SLICE_NS ? budget - elapsed : LIVENESS_SLICE_NS;

		/* We count ourselves among the sleepers before our entry says we sleep, and
		 * stop saying it before we take the count off, as for holds: a reader killed
		 * between two steps leaves a count one too high, which costs a futex wake per
		 * publish until the writer's scan repairs it. The other order would leave an
		 * entry whose undoing takes off a sleeper never counted: a count one too low,
		 * and a live sleeper that no publish wakes.
		 * seq_cst increment then seq_cst load: Dekker with the writer's seq_cst store of
		 * publish_futex then load of sleepers in vshm_writer_publish(). Either it sees
		 * us and wakes us, or we see its new value and do not sleep. */
		VSHM_FETCH_ADD(&header->sleepers, 1, memory_order_seq_cst);
		VSHM_STORE(&entry->waiting, 1, memory_order_relaxed);
		uint32_t word = (uint32_t)VSHM_LOAD(&header->publish_futex, memory_order_seq_cst);
		int result = 0;
		if (!newer_frame_published(reader))
			result = vshm_futex_wait(&header->publish_futex, word, slice);
		VSHM_STORE(&entry->waiting, 0, memory_order_relaxed);
		VSHM_FETCH_ADD(&header->sleepers, (uint32_t)-1, memory_order_relaxed);
		if (result == -EINTR)
			return -EINTR;
		if (result < 0 && result != -ETIMEDOUT)
			return result; /* not expected from FUTEX_WAIT; never spin on it */
		/* A dead writer wakes nobody, so a quiet slice is when we ask the kernel. */
		if (result == -ETIMEDOUT && writer_found_dead(reader))
			return vshm_segment_name_replaced(segment) ? -ESTALE : -EPIPE;
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
	/* A lossless reader stays lossless on the new segment (claim_entry() set it up),
	 * taking every frame published there after it came. */
	reader->last_acquired = reader->attached_after;
	reader->writer_known_gone = false;
	reader->liveness_checked_ns = 0;
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
	stats->lossless = reader->lossless;
	stats->demoted = reader->demoted;
	stats->writer_pid = header->writer_pid;
	stats->frame_interval_ns = header->nominal_frame_interval_ns;
}

#ifdef VSHM_PROTOCOL_STEPS
size_t vshm_step_reader_state_size(void)
{
	return sizeof(struct vshm_reader);
}
#endif
