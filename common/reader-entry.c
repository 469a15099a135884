/*
 * A reader table entry left by a reader that died, undone: by the writer when its scan
 * finds it, or by the next reader that claims it. Whoever does it holds the entry's
 * lock, so the dead reader's stores are all visible (the kernel lock orders them) and
 * nobody else can be undoing it too.
 */
#include "reader-entry.h"
#include "shared-atomic.h"

void vshm_reader_entry_drop_hold(struct vshm_segment *segment, uint32_t slot, uint32_t number_low,
                                 uint32_t latest_slot)
{
	struct vshm_shm_header *header = segment->header;
	if (slot >= segment->geometry.slot_count)
		return;
	uint64_t latest = VSHM_LOAD(&header->latest, memory_order_acquire);
	uint64_t number = (latest >> VSHM_LATEST_SLOT_BITS) & VSHM_LATEST_NUMBER_MASK;
	if (latest_slot == VSHM_ENTRY_LATEST_FROM_WORD)
		latest_slot = (uint32_t)(latest & VSHM_LATEST_SLOT_MASK);
	bool in_word = slot == latest_slot && (uint32_t)number == number_low;
	/* Still the latest frame: the count is in the word. Only the writer changes the
	 * frame the word names, so a failed exchange means only that the count moved. */
	while (in_word) {
		if (!(latest >> VSHM_LATEST_ENTERED_SHIFT))
			return; /* nothing to undo: it never entered, or was undone already */
		if (VSHM_COMPARE_EXCHANGE(&header->latest, &latest,
		                          latest - VSHM_LATEST_ENTERED_ONE, memory_order_relaxed))
			return;
		number = (latest >> VSHM_LATEST_SLOT_BITS) & VSHM_LATEST_NUMBER_MASK;
		in_word = (uint32_t)(latest & VSHM_LATEST_SLOT_MASK) == slot &&
		          (uint32_t)number == number_low;
	}
	VSHM_FETCH_ADD(&header->slot_holders[slot], (uint64_t)-1, memory_order_relaxed);
}

void vshm_reader_entry_undo(struct vshm_segment *segment, struct vshm_shm_reader *entry,
                            uint32_t latest_slot)
{
	struct vshm_shm_header *header = segment->header;
	uint32_t held = atomic_load_explicit(&entry->held_slot, memory_order_relaxed);
	if (held)
		vshm_reader_entry_drop_hold(
		    segment, held - 1,
		    atomic_load_explicit(&entry->held_number_low, memory_order_relaxed),
		    latest_slot);
	if (atomic_load_explicit(&entry->waiting, memory_order_relaxed))
		atomic_fetch_sub_explicit(&header->sleepers, 1, memory_order_relaxed);
	uint32_t flags = atomic_load_explicit(&entry->flags, memory_order_relaxed);
	if (flags & VSHM_READER_LOSSLESS) {
		atomic_fetch_sub_explicit(&header->lossless_readers, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&header->demotions, 1, memory_order_relaxed);
	}
	/* Noted only once counted: one that died in between stays counted until the
	 * writer's next scan recounts the live readers. */
	if (atomic_load_explicit(&entry->attached, memory_order_relaxed))
		atomic_fetch_sub_explicit(&header->readers_attached, 1, memory_order_relaxed);
	atomic_store_explicit(&entry->held_slot, 0, memory_order_relaxed);
	atomic_store_explicit(&entry->waiting, 0, memory_order_relaxed);
	atomic_store_explicit(&entry->flags, 0, memory_order_relaxed);
	atomic_store_explicit(&entry->attached, 0, memory_order_relaxed);
}
