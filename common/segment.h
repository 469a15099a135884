/*
 * Private: the shared-memory segment of one stream, and the rules for creating,
 * validating, locking and removing it. The writer and reader modules build on this;
 * they never call shm_open() or mmap() themselves.
 *
 * Rule that keeps two writers from removing each other's segments: only the process
 * holding a segment's writer lock may remove its name, and after taking the lock it
 * checks that the file is still linked (st_nlink > 0) before doing so.
 */
#ifndef VSHM_SEGMENT_H
#define VSHM_SEGMENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "layout.h"
#include "shared-atomic.h"
#include "vshm/format.h"
#include "vshm/reader.h"
#include "vshm/util.h"
#include "vshm/writer.h"

/* The public limits are the layout's own, written twice only so that the public
 * headers need not include the private layout. */
_Static_assert(VSHM_SLOT_COUNT_MIN == VSHM_SLOTS_MIN, "public and layout slot minimum");
_Static_assert(VSHM_SLOT_COUNT_MAX == VSHM_SLOTS_MAX, "public and layout slot maximum");
_Static_assert(VSHM_FORMAT_PLANES_MAX == VSHM_PLANES_MAX, "public and layout plane count");
_Static_assert(VSHM_NAME_MAX == sizeof(((struct vshm_shm_header *)0)->name),
               "a stream name fills the header's name field at most");
_Static_assert(VSHM_SLOTS_MAX <= 64, "the writer keeps slot sets in 64-bit masks");
_Static_assert(VSHM_SLOTS_MAX <= VSHM_LATEST_SLOT_MASK + 1, "latest packs the slot index");

struct vshm_segment_geometry {
	uint32_t slot_count;
	uint32_t reader_capacity;
	uint32_t alignment;         /* of every region: a power of two, page multiple */
	uint64_t slot_payload_size; /* multiple of alignment */
	uint64_t reader_table_offset;
	uint64_t slot_table_offset;
	uint64_t payload_offset; /* page aligned: the payload is mapped on its own */
	uint64_t segment_size;
};

struct vshm_segment {
	int fd;
	char name[VSHM_NAME_MAX + 1];
	char shm_name[VSHM_SHM_NAME_MAX];
	/* Our own copy of the geometry; never re-read from shared memory after checking. */
	struct vshm_segment_geometry geometry;
	/* Header, reader table and slot descriptors: read-write for writer and readers. */
	uint8_t *control;
	/* Pixel data: read-write for the writer, read-only for readers. */
	uint8_t *payload;
	/* A reader's read-only mapping of slot descriptors and pixels; NULL for the writer. */
	uint8_t *read_only;
	struct vshm_shm_header *header;
	struct vshm_shm_reader *readers;
	struct vshm_shm_slot *slots;
	dev_t device;
	ino_t inode;
	/* From the header, for a reader: how long its writer waits for a lossless reader. */
	uint32_t lossless_timeout_ms;
	/* From the header, for a reader: the minor layout version its writer follows. */
	uint32_t layout_minor;
	/* A reader's SIGBUS guards of its two mappings (sigbus-guard.h), or -1. */
	int guard_control;
	int guard_slots;
};

/*
 * Computes offsets for the given counts, a payload of at least min_payload bytes a slot
 * and regions aligned to alignment. Returns 0 or -EINVAL (counts or alignment out of
 * range).
 */
int vshm_segment_geometry(uint32_t slot_count, uint32_t reader_capacity, uint64_t min_payload,
                          uint32_t alignment, struct vshm_segment_geometry *geometry);

/* The alignment a writer uses unless asked for more: the page size, at least 4096. */
uint32_t vshm_segment_default_alignment(void);

/*
 * Creates and maps a new segment for a writer, taking the writer lock first. Replaces
 * a stale segment of the same name (writer dead), refuses a live one with -EBUSY and a
 * foreign file with -EEXIST. Returns 0 or a negative errno with vshm_error() set;
 * nothing is left behind on failure.
 */
int vshm_segment_create(struct vshm_segment *segment, const char *name,
                        const struct vshm_segment_geometry *geometry, mode_t mode,
                        uint64_t frame_interval_ns, uint32_t lossless_timeout_ms);

/*
 * Opens the file of a stream (shm_name as vshm_shm_name() makes it) the one safe way,
 * for every opener: writer, reader, lister, cleaner. Looks first (lstat) and opens only
 * a regular file, with O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, then checks with fstat that
 * it opened what it looked at: a FIFO, device, socket, directory or symbolic link under
 * a stream's name is never opened, waited on or followed. access is O_RDONLY or O_RDWR.
 * Returns the descriptor, with *status the file's; or -ENOENT (nothing there), -EPROTO
 * (not a regular file: vshm_error() says what it is and whose), -EAGAIN (it changed
 * while being opened), or -errno of open() (*status then holds what lstat saw, for the
 * caller's message).
 */
int vshm_segment_open_file(const char *shm_name, int access, struct stat *status);

/* Opens, validates and maps an existing segment for a reader (see vshm_reader_attach()). */
int vshm_segment_open(struct vshm_segment *segment, const char *name,
                      const struct vshm_reader_options *options);

/* True once a guarded mapping of a reader was found truncated (it reads as zeros now). */
bool vshm_segment_broken(const struct vshm_segment *segment);

/* Unmaps and closes, which drops every lock this process holds on it. */
void vshm_segment_close(struct vshm_segment *segment);

/* Removes the segment's name if it still names this segment. For the lock holder only. */
void vshm_segment_unlink(struct vshm_segment *segment);

/* True if some process holds the writer lock (F_OFD_GETLK). */
bool vshm_segment_writer_alive(const struct vshm_segment *segment);

/* True if the reader entry at index is held by a live reader (F_OFD_GETLK). */
bool vshm_segment_reader_alive(const struct vshm_segment *segment, uint32_t index);

/*
 * Removes the segment named name if no writer holds it, following the same rules as a
 * writer taking a stale name over. Returns 0, -EBUSY for a live writer, -EEXIST for a
 * file that is not a vshm stream (never removed), -ENOENT if there is none.
 */
int vshm_segment_remove_stale(const char *name);

/* True if the stream's name now names another file than the one mapped. */
bool vshm_segment_name_replaced(const struct vshm_segment *segment);

/*
 * OFD write locks on one byte at offset: try to take it (0 or -EAGAIN when another open
 * file description holds it), drop it.
 */
int vshm_segment_lock(int fd, uint64_t offset);
void vshm_segment_unlock(int fd, uint64_t offset);

/*
 * One past the highest reader entry ever claimed, clamped to the reader capacity we
 * validated (any reader may scribble on the shared word): the bound of every scan of
 * the reader table. order is memory_order_acquire for scans that need the entries'
 * state (pairs with the release CAS in raise_high_water(), reader.c), and
 * memory_order_seq_cst where the scan is one half of a Dekker pair.
 */
static inline uint32_t vshm_segment_reader_limit(const struct vshm_segment *segment,
                                                 memory_order order)
{
	uint32_t limit = (uint32_t)VSHM_LOAD(&segment->header->reader_high_water, order);
	return limit < segment->geometry.reader_capacity ? limit
	                                                 : segment->geometry.reader_capacity;
}

static inline uint64_t vshm_segment_reader_lock_offset(const struct vshm_segment *segment,
                                                       uint32_t index)
{
	return segment->geometry.reader_table_offset +
	       (uint64_t)index * sizeof(struct vshm_shm_reader);
}

/* Shared by segment.c and segment-open.c, not exported. */

/* How long a creator may take between O_EXCL creating the file and locking it. */
#define VSHM_CREATION_GRACE_MS 200

/* A valid alignment: a power of two within VSHM_ALIGNMENT_MIN..VSHM_ALIGNMENT_MAX. */
bool vshm_segment_alignment_is_valid(uint64_t alignment);
void vshm_segment_sleep_ms(long milliseconds);
/* An empty segment named name: no file, nothing mapped. */
void vshm_segment_reset(struct vshm_segment *segment, const char *name);

#endif
