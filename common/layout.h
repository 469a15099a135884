/*
 * The vshm segment exactly as it lies in shared memory: one private header so that
 * every byte has one definition, checked by the _Static_asserts at the bottom.
 * docs/protocol.md describes the same layout for readers written in other languages;
 * change both together and bump VSHM_LAYOUT_MAJOR when an old reader would misread.
 *
 * All integers are little-endian (the host order of every Linux machine vshm runs
 * on), all positions are byte offsets from the start of the segment, never pointers.
 * Every region starts at a multiple of the segment's alignment A (header field
 * payload_alignment: a power of two, at least 4096 and at least the writer's page size,
 * so that readers can map the regions on their own even with 16 or 64 KiB pages):
 *
 *   0              header (struct vshm_shm_header), one region of A bytes
 *   A              reader table: reader_capacity entries of 64 bytes, rounded up to A
 *   slot_table     slot descriptors: slot_count entries of 256 bytes, rounded up to A
 *   payload        slot_count payloads of slot_payload_size bytes (a multiple of A)
 */
#ifndef VSHM_LAYOUT_H
#define VSHM_LAYOUT_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define VSHM_MAGIC        0x4d485356u /* the bytes 'V' 'S' 'H' 'M' */
#define VSHM_LAYOUT_MAJOR 2
#define VSHM_LAYOUT_MINOR 2
#define VSHM_CACHE_LINE   64
/* The smallest alignment of the regions, and the most a header can take. */
#define VSHM_ALIGNMENT_MIN 4096u
/* The largest alignment a writer may ask for: far past any page size Linux has. */
#define VSHM_ALIGNMENT_MAX  (UINT32_C(1) << 24)
#define VSHM_SLOTS_MIN      3
#define VSHM_SLOTS_MAX      64
#define VSHM_READERS_MAX    1024
#define VSHM_PLANES_MAX     4
#define VSHM_SLOT_BYTES_MAX (UINT64_C(1) << 32) /* 4 GiB a slot is far past 8K RGBA */

/*
 * The latest word packs the slot index (bits 0..7), the publish number (bits 8..47,
 * starting at 1; 0 means "nothing yet") and the number of readers that entered this
 * frame (bits 48..63). The writer publishes with one exchange, which also collects the
 * count of readers that entered the frame it replaces; a reader enters with one
 * fetch_add, which also tells it the latest frame: one cache line, one atomic operation
 * each way (see writer.c).
 */
#define VSHM_LATEST_SLOT_BITS     8
#define VSHM_LATEST_SLOT_MASK     ((UINT64_C(1) << VSHM_LATEST_SLOT_BITS) - 1)
#define VSHM_LATEST_NUMBER_BITS   40
#define VSHM_LATEST_NUMBER_MASK   ((UINT64_C(1) << VSHM_LATEST_NUMBER_BITS) - 1)
#define VSHM_LATEST_ENTERED_SHIFT (VSHM_LATEST_SLOT_BITS + VSHM_LATEST_NUMBER_BITS)
#define VSHM_LATEST_ENTERED_ONE   (UINT64_C(1) << VSHM_LATEST_ENTERED_SHIFT)

/* header.state_flags */
#define VSHM_STATE_CLOSED     (1u << 0) /* the writer destroyed the stream cleanly */
#define VSHM_STATE_SUPERSEDED (1u << 1) /* a newer segment has taken (or will take) the name */

/* reader_entry.state */
#define VSHM_READER_FREE   0u
#define VSHM_READER_ACTIVE 1u

/* reader_entry.flags */
#define VSHM_READER_LOSSLESS (1u << 0) /* the writer keeps every frame until it is consumed */
#define VSHM_READER_DEMOTED  (1u << 1) /* was lossless, stalled or died, is lossy now */

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

	/* Cache line 1: written by the writer on every publish; the latest word also by
	 * every reader that enters a frame (and leaves it while it is still the latest). */
	alignas(VSHM_CACHE_LINE) _Atomic uint64_t latest; /* 64: see VSHM_LATEST_* */
	_Atomic uint32_t publish_futex;    /* 72: changes on every publish and state change */
	_Atomic uint32_t state_flags;      /* 76: VSHM_STATE_* */
	_Atomic uint64_t frames_published; /* 80 */
	_Atomic uint64_t overwrites;       /* 88: slots taken while a reader held them */
	_Atomic uint64_t frames_dropped;   /* 96: reported by the source (camera gaps ...) */
	_Atomic uint32_t sleepers;         /* 104: readers that may sleep on publish_futex */
	_Atomic uint32_t lossless_readers; /* 108: attached readers that take every frame */

	/* Cache line 2: written by readers when they come and go, and by the writer's scan;
	 * and, with lossless readers only, by them and by the writer on every frame. */
	alignas(VSHM_CACHE_LINE) _Atomic uint32_t readers_attached; /* 128 */
	/* 132: one past the highest reader entry ever claimed; the writer scans below it. */
	_Atomic uint32_t reader_high_water;
	_Atomic uint32_t consumed_futex; /* 136: changes when a lossless reader consumes */
	_Atomic uint32_t writer_waiting; /* 140: 1 while the writer may sleep on it */
	_Atomic uint64_t demotions;      /* 144: lossless readers made lossy by a timeout */

	/* Cache line 3: written once at creation. */
	alignas(VSHM_CACHE_LINE) uint64_t created_realtime_ns; /* 192: CLOCK_REALTIME */
	uint64_t nominal_frame_interval_ns;                    /* 200: 0 if unknown */
	char name[64]; /* 208: the stream name, NUL padded (none at 64), for listing tools */
	uint32_t payload_alignment;   /* 272: A, the alignment of every region (see top) */
	uint32_t lossless_timeout_ms; /* 276: how long the writer waits for a lossless reader */

	/*
	 * 320: for each slot, how many readers hold its frame (the readers that entered it
	 * while it was the latest, counted by the writer when it published the next one,
	 * minus those that have left it). Written by readers when they leave a frame, and
	 * by the writer when it publishes. A signed count: see writer.c.
	 */
	alignas(VSHM_CACHE_LINE) _Atomic int64_t slot_holders[VSHM_SLOTS_MAX];
};

struct vshm_shm_reader {
	_Atomic uint32_t state;           /* 0: VSHM_READER_* */
	_Atomic uint32_t held_slot;       /* 4: slot index + 1 while a frame is held, else 0 */
	_Atomic uint32_t waiting;         /* 8: 1 while the reader counts among the sleepers */
	uint32_t pid;                     /* 12: informational */
	_Atomic uint64_t frames_acquired; /* 16 */
	_Atomic uint64_t frames_torn;     /* 24 */
	uint64_t attached_monotonic_ns;   /* 32 */
	_Atomic uint64_t consumed;        /* 40: lossless: the last publish number consumed */
	_Atomic uint32_t flags;           /* 48: VSHM_READER_LOSSLESS, _DEMOTED */
	_Atomic uint32_t held_number_low; /* 52: low 32 bits of the held frame's number */
	/* 56 (layout 2.2): 1 once the reader is done attaching, counted in readers_attached
	 * after its last look at latest; 0 from its claim until then, and once it leaves. */
	_Atomic uint32_t attached;
	uint8_t reserved[4]; /* 60 */
};

/*
 * What a slot's frame says about itself. It lives next to the slot's sequence counter
 * and is protected by it, so a format change travels with the frame that has it.
 * Layout 2.1 added the fields from offset 126 on, in bytes that 2.0 reserved (zero, and
 * ignored by its readers): a 2.0 reader reads 2.1 frames as they were, without them,
 * and a 2.1 reader finds them zero, "unspecified", in a 2.0 writer's frames.
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
	uint8_t color_primaries;                /* 126: enum vshm_color_primaries (2.1) */
	uint8_t color_transfer;                 /* 127: enum vshm_color_transfer (2.1) */
	uint32_t sample_aspect_numerator;       /* 128: 0 if unknown (2.1) */
	uint32_t sample_aspect_denominator;     /* 132: 0 if unknown (2.1) */
};

struct vshm_shm_slot {
	/* Odd while the writer fills the slot, 2 * publish number once it is stable. */
	_Atomic uint64_t sequence;       /* 0 */
	struct vshm_shm_frame_info info; /* 8 */
	uint8_t reserved[256 - 8 - sizeof(struct vshm_shm_frame_info)];
};

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
_Static_assert(offsetof(struct vshm_shm_header, sleepers) == 104, "header layout");
_Static_assert(offsetof(struct vshm_shm_header, lossless_readers) == 108, "header layout");
_Static_assert(offsetof(struct vshm_shm_header, consumed_futex) == 136, "header layout");
_Static_assert(offsetof(struct vshm_shm_header, writer_waiting) == 140, "header layout");
_Static_assert(offsetof(struct vshm_shm_header, demotions) == 144, "header layout");
_Static_assert(offsetof(struct vshm_shm_header, payload_alignment) == 272, "header layout");
_Static_assert(offsetof(struct vshm_shm_header, lossless_timeout_ms) == 276, "header layout");
_Static_assert(offsetof(struct vshm_shm_header, slot_holders) == 320, "header layout");
_Static_assert(sizeof(struct vshm_shm_header) == 320 + 8 * VSHM_SLOTS_MAX, "header layout");
_Static_assert(sizeof(struct vshm_shm_header) <= VSHM_ALIGNMENT_MIN, "header fits a region");
_Static_assert(sizeof(_Atomic int64_t) == 8 && ATOMIC_LLONG_LOCK_FREE == 2,
               "holder counts are plain lock-free 64-bit words");
_Static_assert(VSHM_LATEST_ENTERED_SHIFT + 16 == 64, "the entered count has 16 bits");
_Static_assert(sizeof(struct vshm_shm_reader) == VSHM_CACHE_LINE, "one reader per cache line");
_Static_assert(offsetof(struct vshm_shm_reader, frames_acquired) == 16, "reader layout");
_Static_assert(offsetof(struct vshm_shm_reader, attached_monotonic_ns) == 32, "reader layout");
_Static_assert(offsetof(struct vshm_shm_reader, consumed) == 40, "reader layout");
_Static_assert(offsetof(struct vshm_shm_reader, flags) == 48, "reader layout");
_Static_assert(offsetof(struct vshm_shm_reader, attached) == 56, "reader layout");
_Static_assert(sizeof(struct vshm_shm_frame_info) == 136, "frame info layout");
_Static_assert(sizeof(struct vshm_shm_frame_info) % 8 == 0 &&
                   offsetof(struct vshm_shm_slot, info) % 8 == 0,
               "frame info is copied as aligned 64-bit words");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the segment is little-endian; a big-endian port needs byte swapping");
_Static_assert(offsetof(struct vshm_shm_frame_info, plane_offset) == 32, "frame info layout");
_Static_assert(offsetof(struct vshm_shm_frame_info, frame_number) == 96, "frame info layout");
_Static_assert(offsetof(struct vshm_shm_frame_info, flags) == 120, "frame info layout");
_Static_assert(offsetof(struct vshm_shm_frame_info, color_matrix) == 124, "frame info layout");
_Static_assert(offsetof(struct vshm_shm_frame_info, color_primaries) == 126, "frame info layout");
_Static_assert(offsetof(struct vshm_shm_frame_info, sample_aspect_numerator) == 128,
               "frame info layout");
_Static_assert(offsetof(struct vshm_shm_slot, info) == 8, "slot layout");
_Static_assert(sizeof(struct vshm_shm_slot) == 256, "slot descriptor is four cache lines");

/* The rest of the fields, so that every offset docs/protocol.md gives is checked here. */
_Static_assert(offsetof(struct vshm_shm_header, layout_major) == 4 &&
                   offsetof(struct vshm_shm_header, layout_minor) == 6 &&
                   offsetof(struct vshm_shm_header, header_size) == 8 &&
                   offsetof(struct vshm_shm_header, reader_capacity) == 16 &&
                   offsetof(struct vshm_shm_header, writer_pid) == 20 &&
                   offsetof(struct vshm_shm_header, reader_table_offset) == 32 &&
                   offsetof(struct vshm_shm_header, slot_table_offset) == 40 &&
                   offsetof(struct vshm_shm_header, payload_offset) == 48,
               "header layout");
_Static_assert(offsetof(struct vshm_shm_reader, state) == 0 &&
                   offsetof(struct vshm_shm_reader, held_slot) == 4 &&
                   offsetof(struct vshm_shm_reader, waiting) == 8 &&
                   offsetof(struct vshm_shm_reader, pid) == 12 &&
                   offsetof(struct vshm_shm_reader, frames_torn) == 24 &&
                   offsetof(struct vshm_shm_reader, held_number_low) == 52,
               "reader layout");
_Static_assert(offsetof(struct vshm_shm_frame_info, width) == 4 &&
                   offsetof(struct vshm_shm_frame_info, height) == 8 &&
                   offsetof(struct vshm_shm_frame_info, plane_count) == 12 &&
                   offsetof(struct vshm_shm_frame_info, stride) == 16 &&
                   offsetof(struct vshm_shm_frame_info, plane_size) == 64 &&
                   offsetof(struct vshm_shm_frame_info, capture_ns) == 104 &&
                   offsetof(struct vshm_shm_frame_info, publish_ns) == 112 &&
                   offsetof(struct vshm_shm_frame_info, color_matrix) == 124 &&
                   offsetof(struct vshm_shm_frame_info, color_range) == 125,
               "frame info layout");

#endif
