/*
 * The vshm segment exactly as it lies in shared memory: one private header so that
 * every byte has one definition, checked by the _Static_asserts at the bottom.
 * docs/protocol.md describes the same layout for readers written in other languages;
 * change both together and bump VSHM_LAYOUT_MAJOR when an old reader would misread.
 *
 * All integers are little-endian (the host order of every Linux machine vshm runs
 * on), all positions are byte offsets from the start of the segment, never pointers.
 *
 *   0              header (struct vshm_shm_header), one page
 *   4096           reader table: reader_capacity entries of 64 bytes, page rounded
 *   slot_table     slot descriptors: slot_count entries of 256 bytes, page rounded
 *   payload        slot_count payloads of slot_payload_size bytes, each page aligned
 */
#ifndef VSHM_LAYOUT_H
#define VSHM_LAYOUT_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define VSHM_MAGIC          0x4d485356u /* the bytes 'V' 'S' 'H' 'M' */
#define VSHM_LAYOUT_MAJOR   1
#define VSHM_LAYOUT_MINOR   0
#define VSHM_CACHE_LINE     64
#define VSHM_PAGE_SIZE      4096u
#define VSHM_SLOTS_MIN      3
#define VSHM_SLOTS_MAX      64
#define VSHM_READERS_MAX    1024
#define VSHM_PLANES_MAX     4
#define VSHM_SLOT_BYTES_MAX (UINT64_C(1) << 32) /* 4 GiB a slot is far past 8K RGBA */

/*
 * The latest word packs the publish number (bits 8..63, starting at 1) and the slot
 * index (bits 0..7) so that one atomic store publishes both. 0 means "nothing yet".
 */
#define VSHM_LATEST_SLOT_BITS 8
#define VSHM_LATEST_SLOT_MASK ((UINT64_C(1) << VSHM_LATEST_SLOT_BITS) - 1)

/* header.state_flags */
#define VSHM_STATE_CLOSED     (1u << 0) /* the writer destroyed the stream cleanly */
#define VSHM_STATE_SUPERSEDED (1u << 1) /* a newer segment has taken (or will take) the name */

/* reader_entry.state */
#define VSHM_READER_FREE   0u
#define VSHM_READER_ACTIVE 1u

/* The byte ranges locked with F_OFD_SETLK; they lock file ranges, not memory. */
#define VSHM_WRITER_LOCK_OFFSET 0

struct vshm_shm_header {
	/* Cache line 0: identity. Written once by the writer before it publishes magic. */
	_Atomic uint32_t magic;       /* 0: VSHM_MAGIC, stored last with release order */
	uint16_t layout_major;        /* 4 */
	uint16_t layout_minor;        /* 6 */
	uint32_t header_size;         /* 8: sizeof(struct vshm_shm_header) */
	uint32_t slot_count;          /* 12 */
	uint32_t reader_capacity;     /* 16 */
	uint32_t writer_pid;          /* 20: informational; liveness is the OFD lock */
	uint64_t segment_size;        /* 24: must equal the file size */
	uint64_t reader_table_offset; /* 32 */
	uint64_t slot_table_offset;   /* 40 */
	uint64_t payload_offset;      /* 48 */
	uint64_t slot_payload_size;   /* 56: page multiple */

	/* Cache line 1: written by the writer on every publish, read by every reader. */
	alignas(VSHM_CACHE_LINE) _Atomic uint64_t latest; /* 64: see VSHM_LATEST_* */
	_Atomic uint32_t publish_futex;    /* 72: changes on every publish and state change */
	_Atomic uint32_t state_flags;      /* 76: VSHM_STATE_* */
	_Atomic uint64_t frames_published; /* 80 */
	_Atomic uint64_t overwrites;       /* 88: slots taken while a reader held them */
	_Atomic uint64_t frames_dropped;   /* 96: reported by the source (camera gaps ...) */

	/* Cache line 2: written by readers when they come and go, and by the writer's scan. */
	alignas(VSHM_CACHE_LINE) _Atomic uint32_t readers_attached; /* 128 */
	/* 132: one past the highest reader entry ever claimed; the writer scans below it. */
	_Atomic uint32_t reader_high_water;

	/* Cache line 3: written once at creation. */
	alignas(VSHM_CACHE_LINE) uint64_t created_realtime_ns; /* 192: CLOCK_REALTIME */
	uint64_t nominal_frame_interval_ns;                    /* 200: 0 if unknown */
	char name[64]; /* 208: the stream name, NUL padded (none at 64), for listing tools */
};

struct vshm_shm_reader {
	_Atomic uint32_t state;           /* 0: VSHM_READER_* */
	_Atomic uint32_t held_slot;       /* 4: slot index + 1 while a frame is held, else 0 */
	_Atomic uint32_t waiting;         /* 8: 1 while the reader may sleep on the futex */
	uint32_t pid;                     /* 12: informational */
	_Atomic uint64_t frames_acquired; /* 16 */
	_Atomic uint64_t frames_torn;     /* 24 */
	uint64_t attached_monotonic_ns;   /* 32 */
	uint8_t reserved[24];             /* 40 */
};

/*
 * What a slot's frame says about itself. It lives next to the slot's sequence counter
 * and is protected by it, so a format change travels with the frame that has it.
 */
struct vshm_shm_frame_info {
	uint32_t format;                        /* 0 (8 in the descriptor): fourcc */
	uint32_t width;                         /* 4 */
	uint32_t height;                        /* 8 */
	uint32_t plane_count;                   /* 12 */
	uint32_t stride[VSHM_PLANES_MAX];       /* 16 */
	uint64_t plane_offset[VSHM_PLANES_MAX]; /* 32: from the start of the slot payload */
	uint64_t plane_size[VSHM_PLANES_MAX];   /* 64 */
	uint64_t frame_number;                  /* 96 */
	uint64_t capture_ns;                    /* 104: CLOCK_MONOTONIC */
	uint64_t publish_ns;                    /* 112: CLOCK_MONOTONIC */
	uint32_t flags;                         /* 120: VSHM_FRAME_* */
	uint8_t color_matrix;                   /* 124: enum vshm_color_matrix */
	uint8_t color_range;                    /* 125: enum vshm_color_range */
	uint16_t reserved;                      /* 126 */
};

struct vshm_shm_slot {
	/* Odd while the writer fills the slot, 2 * publish number once it is stable. */
	_Atomic uint64_t sequence;       /* 0 */
	struct vshm_shm_frame_info info; /* 8 */
	uint8_t reserved[256 - 8 - sizeof(struct vshm_shm_frame_info)];
};

#define VSHM_READER_TABLE_OFFSET VSHM_PAGE_SIZE

_Static_assert(sizeof(_Atomic uint64_t) == 8 && alignof(_Atomic uint64_t) == 8,
               "64-bit atomics must be plain 8-byte words for other processes to share them");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
               "atomics in shared memory must be lock-free to work across processes");
_Static_assert(offsetof(struct vshm_shm_header, magic) == 0, "header layout");
_Static_assert(offsetof(struct vshm_shm_header, slot_count) == 12, "header layout");
_Static_assert(offsetof(struct vshm_shm_header, segment_size) == 24, "header layout");
_Static_assert(offsetof(struct vshm_shm_header, slot_payload_size) == 56, "header layout");
_Static_assert(offsetof(struct vshm_shm_header, latest) == 64, "header layout");
_Static_assert(offsetof(struct vshm_shm_header, publish_futex) == 72, "header layout");
_Static_assert(offsetof(struct vshm_shm_header, state_flags) == 76, "header layout");
_Static_assert(offsetof(struct vshm_shm_header, frames_published) == 80, "header layout");
_Static_assert(offsetof(struct vshm_shm_header, overwrites) == 88, "header layout");
_Static_assert(offsetof(struct vshm_shm_header, frames_dropped) == 96, "header layout");
_Static_assert(offsetof(struct vshm_shm_header, readers_attached) == 128, "header layout");
_Static_assert(offsetof(struct vshm_shm_header, reader_high_water) == 132, "header layout");
_Static_assert(offsetof(struct vshm_shm_header, created_realtime_ns) == 192, "header layout");
_Static_assert(offsetof(struct vshm_shm_header, nominal_frame_interval_ns) == 200, "header layout");
_Static_assert(offsetof(struct vshm_shm_header, name) == 208, "header layout");
_Static_assert(sizeof(struct vshm_shm_header) == 320, "header layout");
_Static_assert(sizeof(struct vshm_shm_header) <= VSHM_READER_TABLE_OFFSET, "header fits a page");
_Static_assert(sizeof(struct vshm_shm_reader) == VSHM_CACHE_LINE, "one reader per cache line");
_Static_assert(offsetof(struct vshm_shm_reader, frames_acquired) == 16, "reader layout");
_Static_assert(offsetof(struct vshm_shm_reader, attached_monotonic_ns) == 32, "reader layout");
_Static_assert(sizeof(struct vshm_shm_frame_info) == 128, "frame info layout");
_Static_assert(sizeof(struct vshm_shm_frame_info) % 8 == 0 &&
                   offsetof(struct vshm_shm_slot, info) % 8 == 0,
               "frame info is copied as aligned 64-bit words");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the segment is little-endian; a big-endian port needs byte swapping");
_Static_assert(offsetof(struct vshm_shm_frame_info, plane_offset) == 32, "frame info layout");
_Static_assert(offsetof(struct vshm_shm_frame_info, frame_number) == 96, "frame info layout");
_Static_assert(offsetof(struct vshm_shm_frame_info, flags) == 120, "frame info layout");
_Static_assert(offsetof(struct vshm_shm_slot, info) == 8, "slot layout");
_Static_assert(sizeof(struct vshm_shm_slot) == 256, "slot descriptor is four cache lines");

#endif
