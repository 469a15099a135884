/*
 * What the writer does with the reader table, which it never reads per frame: once a
 * second (and when every slot seems held) it reclaims the entries of readers that died,
 * undoing their holds, their sleeping count and their lossless place, and repairs counts
 * that no entry explains; and with lossless readers attached, it waits for them before
 * it reuses a slot.
 *
 * Counts left behind. A reader counts itself in two places in turn: it adds itself to
 * a count and then notes it in its own entry; it goes by clearing the note and then
 * taking itself off the count. So it is for a hold (the latest word, then held_slot),
 * for sleeping (sleepers, then waiting) and for taking every frame (lossless_readers,
 * then the LOSSLESS flag). A reader killed between the two steps leaves a count one too
 * high that no entry explains, never one too low. So the writer compares each count
 * with what the live entries explain, at most once a second, and when the two disagree
 * in the same way at two such looks in a row (at least a second apart: no live reader
 * stays between two adjacent steps that long unless it is stopped), sets the count to
 * what the entries say, with a compare-and-exchange that does nothing if the count
 * moved meanwhile. Scans made more often (begin scans when every slot seems held) do
 * not look at the counts.
 *
 * What the rule costs. A reader stopped (SIGSTOP, a debugger) for a second or more
 * between the two steps of leaving a frame loses its count this way, and when it goes
 * on, takes itself off a count that no longer includes it: one too low until the next
 * two looks. Meanwhile the writer may rewrite a frame another reader of that slot holds;
 * that reader's release reports it torn. A torn frame is never accepted.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "futex.h"
#include "log.h"
#include "reader-entry.h"
#include "shared-atomic.h"
#include "writer-private.h"

/* Longest the writer sleeps at once while waiting for a lossless reader. */
#define LOSSLESS_SLICE_NS 50000000
/* Least time between two looks at the counts (see the top of this file). */
#define COUNT_CHECK_INTERVAL_NS 1000000000u

/* Undoes what a dead reader's entry says it was in the middle of. We hold the entry's
 * lock, so no reader can be claiming it at the same time. */
static void reclaim_reader(struct vshm_writer *writer, struct vshm_shm_reader *entry)
{
	vshm_reader_entry_undo(&writer->segment, entry, writer->latest_slot);
	/* Pairs with the claiming reader's lock: the kernel lock orders these stores
	 * before anything the next owner of the entry does. */
	atomic_store_explicit(&entry->state, VSHM_READER_FREE, memory_order_release);
	vshm_log(VSHM_LOG_INFO, "stream '%s': reclaimed the entry of dead reader pid %u",
	         writer->segment.name, entry->pid);
}

/*
 * Sets *count to expected if it has disagreed with it the same way at the last two
 * scans (see the top of this file). check remembers the previous scan.
 */
static void repair(_Atomic int64_t *count, int64_t expected, struct count_check *check)
{
	int64_t found = (int64_t)atomic_load_explicit(count, memory_order_acquire);
	if (found != expected && check->found == found && check->expected == expected) {
		if (atomic_compare_exchange_strong_explicit(
		        count, &found, expected, memory_order_acq_rel, memory_order_relaxed))
			found = expected;
	}
	check->found = found;
	check->expected = expected;
}

/* repair() for the 32-bit counts: sleepers and lossless_readers. */
static void repair_32(_Atomic uint32_t *count, int64_t expected, struct count_check *check)
{
	uint32_t found = atomic_load_explicit(count, memory_order_acquire);
	if ((int64_t)found != expected && check->found == (int64_t)found &&
	    check->expected == expected) {
		if (atomic_compare_exchange_strong_explicit(count, &found, (uint32_t)expected,
		                                            memory_order_acq_rel,
		                                            memory_order_relaxed))
			found = (uint32_t)expected;
	}
	check->found = (int64_t)found;
	check->expected = expected;
}

int vshm_writer_scan_readers(struct vshm_writer *writer)
{
	struct vshm_segment *segment = &writer->segment;
	struct vshm_shm_header *header = segment->header;
	uint32_t limit = vshm_segment_reader_limit(segment, memory_order_acquire);
	uint32_t alive = 0;
	int64_t holders[VSHM_SLOTS_MAX] = { 0 };
	int64_t sleepers = 0, lossless = 0;
	for (uint32_t i = 0; i < limit; i++) {
		struct vshm_shm_reader *entry = &segment->readers[i];
		if (atomic_load_explicit(&entry->state, memory_order_acquire) != VSHM_READER_ACTIVE)
			continue;
		uint64_t offset = vshm_segment_reader_lock_offset(segment, i);
		/* Taking the entry's lock succeeds only if its reader is gone. */
		if (vshm_segment_lock(segment->fd, offset) < 0) {
			alive++;
			uint32_t held =
			    atomic_load_explicit(&entry->held_slot, memory_order_acquire);
			if (held >= 1 && held <= segment->geometry.slot_count &&
			    held - 1 != writer->latest_slot)
				holders[held - 1]++;
			sleepers +=
			    atomic_load_explicit(&entry->waiting, memory_order_acquire) != 0;
			lossless += (atomic_load_explicit(&entry->flags, memory_order_acquire) &
			             VSHM_READER_LOSSLESS) != 0;
			continue;
		}
		if (atomic_load_explicit(&entry->state, memory_order_acquire) == VSHM_READER_ACTIVE)
			reclaim_reader(writer, entry);
		vshm_segment_unlock(segment->fd, offset);
	}
	uint64_t now = vshm_now_ns();
	if (now - writer->last_count_check_ns >= COUNT_CHECK_INTERVAL_NS) {
		writer->last_count_check_ns = now;
		/* The latest slot's holders may still be counted in the latest word; its count
		 * is checked once the next frame has moved them into slot_holders. */
		for (uint32_t slot = 0; slot < segment->geometry.slot_count; slot++) {
			if (slot != writer->latest_slot)
				repair(&header->slot_holders[slot], holders[slot],
				       &writer->holders_check[slot]);
		}
		repair_32(&header->sleepers, sleepers, &writer->sleepers_check);
		repair_32(&header->lossless_readers, lossless, &writer->lossless_check);
	}
	/* Readers add and remove themselves; this corrects the count for those that died. */
	atomic_store_explicit(&header->readers_attached, alive, memory_order_relaxed);
	writer->last_scan_ns = now;
	return (int)alive;
}

/*
 * The smallest publish number a live lossless reader has consumed, or UINT64_MAX when
 * none is attached. Readers that died are demoted at once.
 */
static uint64_t least_consumed(struct vshm_writer *writer)
{
	struct vshm_segment *segment = &writer->segment;
	uint32_t limit = vshm_segment_reader_limit(segment, memory_order_acquire);
	uint64_t least = UINT64_MAX;
	for (uint32_t i = 0; i < limit; i++) {
		struct vshm_shm_reader *entry = &segment->readers[i];
		/* seq_cst: Dekker with the reader's seq_cst store of the flags, then load of
		 * latest, in become_lossless() (reader.c). */
		if (!(VSHM_LOAD(&entry->flags, memory_order_seq_cst) & VSHM_READER_LOSSLESS))
			continue;
		if (!vshm_segment_reader_alive(segment, i)) {
			vshm_writer_scan_readers(writer); /* reclaims it, and its lossless place */
			continue;
		}
		/* Acquire: pairs with the reader's release store of consumed, made after its
		 * last read of that frame's slot. */
		uint64_t consumed = VSHM_LOAD(&entry->consumed, memory_order_acquire);
		if (consumed < least)
			least = consumed;
	}
	return least;
}

/* Makes the lossless readers that have not consumed `number` lossy, and counts them. */
static void demote_laggards(struct vshm_writer *writer, uint64_t number)
{
	struct vshm_segment *segment = &writer->segment;
	struct vshm_shm_header *header = segment->header;
	uint32_t limit = vshm_segment_reader_limit(segment, memory_order_acquire);
	for (uint32_t i = 0; i < limit; i++) {
		struct vshm_shm_reader *entry = &segment->readers[i];
		uint32_t flags = atomic_load_explicit(&entry->flags, memory_order_acquire);
		if (!(flags & VSHM_READER_LOSSLESS) ||
		    atomic_load_explicit(&entry->consumed, memory_order_acquire) >= number)
			continue;
		/* Only the writer clears LOSSLESS once the reader has set it; the reader
		 * reads DEMOTED to learn it now takes only the latest frame. */
		if (atomic_compare_exchange_strong_explicit(
		        &entry->flags, &flags,
		        (flags & ~VSHM_READER_LOSSLESS) | VSHM_READER_DEMOTED, memory_order_acq_rel,
		        memory_order_relaxed)) {
			atomic_fetch_sub_explicit(&header->lossless_readers, 1,
			                          memory_order_relaxed);
			atomic_fetch_add_explicit(&header->demotions, 1, memory_order_relaxed);
			vshm_log(VSHM_LOG_WARNING,
			         "stream '%s': reader pid %u did not take frame %llu within %u ms; "
			         "it now gets only the latest frames",
			         segment->name, entry->pid, (unsigned long long)number,
			         writer->options.lossless_timeout_ms);
		}
	}
}

void vshm_writer_wait_for_lossless(struct vshm_writer *writer, uint64_t number)
{
	struct vshm_shm_header *header = writer->segment.header;
	/* seq_cst, after our seq_cst exchange of latest in the last publish: Dekker with the
	 * reader's seq_cst increment, then load of latest, in become_lossless() (reader.c).
	 * Either we see it, or it sees our last frame and takes only frames after it. */
	if (!VSHM_LOAD(&header->lossless_readers, memory_order_seq_cst))
		return; /* the usual case, and the writer never waits */
	if (least_consumed(writer) >= number)
		return;
	writer->lossless_waits++;
	uint64_t deadline =
	    vshm_now_ns() + (uint64_t)writer->options.lossless_timeout_ms * 1000000u;
	for (;;) {
		uint64_t now = vshm_now_ns();
		if (now >= deadline) {
			demote_laggards(writer, number);
			return;
		}
		/* seq_cst store, then the seq_cst load of consumed_futex and the loads of the
		 * readers' consumed: Dekker with the reader's release store of consumed, seq_cst
		 * increment of consumed_futex and seq_cst load of writer_waiting in release.
		 * Either we see its consumed, or it sees us waiting and wakes us. */
		VSHM_STORE(&header->writer_waiting, 1, memory_order_seq_cst);
		uint32_t word = (uint32_t)VSHM_LOAD(&header->consumed_futex, memory_order_seq_cst);
		if (least_consumed(writer) >= number) {
			VSHM_STORE(&header->writer_waiting, 0, memory_order_relaxed);
			return;
		}
		int64_t slice = (int64_t)(deadline - now);
		if (slice > LOSSLESS_SLICE_NS)
			slice = LOSSLESS_SLICE_NS;
		vshm_futex_wait(&header->consumed_futex, word, slice);
		VSHM_STORE(&header->writer_waiting, 0, memory_order_relaxed);
	}
}

/*
 * True when count lossless readers are here and every live reader with an entry is done
 * attaching: it notes that in its entry last, after its last look at latest, so
 * nothing we publish from now on is a frame it could skip. Each entry, not the count of
 * attached readers: that count says how many, not which, and readers that come and go
 * while we look (every reader of the old segment comes over at once) make it reach the
 * number of active entries we saw while one of those is still attaching.
 */
bool vshm_writer_lossless_readers_here(struct vshm_writer *writer, uint32_t count)
{
	struct vshm_segment *segment = &writer->segment;
	/* Acquire, in this order: a reader counted here shows its entry as active below
	 * (its state and the high water are stored before its count). */
	if (VSHM_LOAD(&segment->header->lossless_readers, memory_order_acquire) < count)
		return false;
	uint32_t limit = vshm_segment_reader_limit(segment, memory_order_acquire);
	for (uint32_t i = 0; i < limit; i++) {
		struct vshm_shm_reader *entry = &segment->readers[i];
		if (VSHM_LOAD(&entry->state, memory_order_acquire) != VSHM_READER_ACTIVE)
			continue;
		/* Acquire: pairs with the reader's release store of the note, made after its
		 * last look at latest, which so comes before our first publish here. */
		if (VSHM_LOAD(&entry->attached, memory_order_acquire))
			continue;
		/* One that died while attaching never comes: not waited for. */
		if (vshm_segment_reader_alive(segment, i))
			return false;
	}
	return true;
}

void vshm_writer_wait_for_lossless_readers(struct vshm_writer *writer, uint32_t count)
{
	uint64_t deadline =
	    vshm_now_ns() + (uint64_t)writer->options.lossless_timeout_ms * 1000000u;
	/* Rare (a move to bigger slots): a poll every millisecond costs nothing here. */
	while (count && !vshm_writer_lossless_readers_here(writer, count) &&
	       vshm_now_ns() < deadline) {
		struct timespec pause = { 0, 1000000 };
		nanosleep(&pause, NULL);
	}
}
