/*
 * Private: undoing what a dead reader's table entry says it was in the middle of (see
 * reader-entry.c). The caller holds the entry's OFD lock.
 */
#ifndef VSHM_READER_ENTRY_H
#define VSHM_READER_ENTRY_H

#include <stdint.h>

#include "segment.h"

/* For latest_slot below: take the latest slot from the shared word (a reader does; the
 * writer passes its own record, which nobody else can scribble on). */
#define VSHM_ENTRY_LATEST_FROM_WORD UINT32_MAX

/*
 * Takes one reader off frame number_low (low 32 bits of its publish number) in slot,
 * as its release would have: in the latest word while that frame is still the latest
 * there, else in the slot's holder count.
 */
void vshm_reader_entry_drop_hold(struct vshm_segment *segment, uint32_t slot, uint32_t number_low,
                                 uint32_t latest_slot);

/* Undoes the entry's hold, sleeping count, lossless place and count among the attached
 * readers, and clears them. */
void vshm_reader_entry_undo(struct vshm_segment *segment, struct vshm_shm_reader *entry,
                            uint32_t latest_slot);

#endif
