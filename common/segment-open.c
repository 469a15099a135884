/*
 * Opening a stream's segment for a reader: the file looked at before it is opened, its
 * header validated against the canonical geometry, and the regions mapped (the header
 * read-write, the slots and payload read-only). segment.c creates the segment.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "futex.h"
#include "log.h"
#include "segment.h"
#include "sigbus-guard.h"

/*
 * A writer creates the file and locks it just after, so an empty file without a lock
 * may belong to a live writer between those two steps rather than to one that died
 * while creating it. For a file changed within VSHM_CREATION_GRACE_MS (its ctime is
 * CLOCK_REALTIME), give the creator a few milliseconds to take its lock. Found by
 * test-writer-crash: readers following a restarted writer sometimes got EPROTO ("too
 * small ... died while creating it?") for the live writer's brand-new segment.
 */
#define CREATOR_LOCK_WAIT_MS 20

static bool creator_shows_up(const struct vshm_segment *segment, const struct stat *status)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t age_ms = ((int64_t)now.tv_sec - (int64_t)status->st_ctim.tv_sec) * 1000 +
	                 ((int64_t)now.tv_nsec - (int64_t)status->st_ctim.tv_nsec) / 1000000;
	if (age_ms < 0 || age_ms >= VSHM_CREATION_GRACE_MS)
		return false;
	for (int waited = 0; waited < CREATOR_LOCK_WAIT_MS; waited++) {
		vshm_segment_sleep_ms(1);
		if (vshm_segment_writer_alive(segment))
			return true;
	}
	return false;
}

/* Field by field: the struct has padding, which memcmp() would compare too. */
static bool same_geometry(const struct vshm_segment_geometry *a,
                          const struct vshm_segment_geometry *b)
{
	return a->slot_count == b->slot_count && a->reader_capacity == b->reader_capacity &&
	       a->alignment == b->alignment && a->slot_payload_size == b->slot_payload_size &&
	       a->reader_table_offset == b->reader_table_offset &&
	       a->slot_table_offset == b->slot_table_offset &&
	       a->payload_offset == b->payload_offset && a->segment_size == b->segment_size;
}

/*
 * Checks the header of a segment we did not create. Everything is read once into
 * local variables; the geometry must be exactly what vshm_segment_geometry() computes
 * for its counts, which rules out overlapping or out-of-file regions in one comparison.
 */
static int validate_header(struct vshm_segment *segment, const struct stat *status)
{
	const char *name = segment->name;
	if (status->st_size < (off_t)VSHM_ALIGNMENT_MIN) {
		if (vshm_segment_writer_alive(segment) || creator_shows_up(segment, status))
			return vshm_fail(EAGAIN, "stream '%s' is still being created; try again",
			                 name);
		uint32_t magic = 0;
		if (pread(segment->fd, &magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) &&
		    magic != 0 && magic != VSHM_MAGIC)
			return vshm_fail(EPROTO,
			                 "%s%s is not a vshm stream (%lld bytes, magic 0x%08x): a "
			                 "file owned by uid %u",
			                 VSHM_SHM_DIR, segment->shm_name,
			                 (long long)status->st_size, magic,
			                 (unsigned)status->st_uid);
		/* ENODATA, not EPROTO: a leftover that the next writer of the name replaces. */
		return vshm_fail(ENODATA,
		                 "segment of stream '%s' is %lld bytes, too small to be a vshm "
		                 "stream (its writer died while creating it); the next writer "
		                 "replaces it",
		                 name, (long long)status->st_size);
	}
	const struct vshm_shm_header *header =
	    mmap(NULL, VSHM_ALIGNMENT_MIN, PROT_READ, MAP_SHARED, segment->fd, 0);
	if (header == MAP_FAILED)
		return vshm_fail(errno, "cannot map the header of stream '%s': %s", name,
		                 strerror(errno));

	int result = 0;
	/* Pairs with the release store of magic in initialise(). */
	uint32_t magic = atomic_load_explicit(&header->magic, memory_order_acquire);
	uint32_t major = header->layout_major, minor = header->layout_minor;
	uint32_t header_size = header->header_size;
	uint32_t slot_count = header->slot_count, capacity = header->reader_capacity;
	uint64_t segment_size = header->segment_size;
	struct vshm_segment_geometry claimed = {
		.slot_count = slot_count,
		.reader_capacity = capacity,
		.slot_payload_size = header->slot_payload_size,
		.reader_table_offset = header->reader_table_offset,
		.slot_table_offset = header->slot_table_offset,
		.payload_offset = header->payload_offset,
		.segment_size = segment_size,
		.alignment = header->payload_alignment,
	};
	uint32_t alignment = claimed.alignment;
	uint32_t lossless_timeout_ms = header->lossless_timeout_ms;
	munmap((void *)header, VSHM_ALIGNMENT_MIN);

	struct vshm_segment_geometry expected;
	if (magic == 0) {
		if (vshm_segment_writer_alive(segment))
			result = vshm_fail(EAGAIN, "stream '%s' is still being created; try again",
			                   name);
		else
			result = vshm_fail(ENODATA,
			                   "segment of stream '%s' was never finished (its writer "
			                   "died while creating it); the next writer replaces it",
			                   name);
	} else if (magic != VSHM_MAGIC) {
		result = vshm_fail(EPROTO,
		                   "%s%s is not a vshm stream (magic 0x%08x, expected 0x%08x): a "
		                   "file owned by uid %u",
		                   VSHM_SHM_DIR, segment->shm_name, magic, VSHM_MAGIC,
		                   (unsigned)status->st_uid);
	} else if (major != VSHM_LAYOUT_MAJOR) {
		result = vshm_fail(EPROTO,
		                   "stream '%s' uses layout version %u.%u; this library reads "
		                   "%u.x: use matching vshm versions",
		                   name, major, minor, VSHM_LAYOUT_MAJOR);
	} else if (header_size < sizeof(struct vshm_shm_header) ||
	           header_size > VSHM_ALIGNMENT_MIN) {
		result =
		    vshm_fail(EPROTO, "stream '%s' has a header size of %u bytes, expected %zu",
		              name, header_size, sizeof(struct vshm_shm_header));
	} else if (slot_count < VSHM_SLOTS_MIN || slot_count > VSHM_SLOTS_MAX) {
		result =
		    vshm_fail(EPROTO, "stream '%s' has %u slots, outside %d..%d: damaged segment",
		              name, slot_count, VSHM_SLOTS_MIN, VSHM_SLOTS_MAX);
	} else if (capacity < 1 || capacity > VSHM_READERS_MAX) {
		result = vshm_fail(EPROTO,
		                   "stream '%s' has room for %u readers, outside 1..%d: damaged "
		                   "segment",
		                   name, capacity, VSHM_READERS_MAX);
	} else if (segment_size != (uint64_t)status->st_size) {
		result =
		    vshm_fail(EPROTO,
		              "stream '%s' claims %llu bytes but its file has %lld: damaged or "
		              "truncated segment",
		              name, (unsigned long long)segment_size, (long long)status->st_size);
	} else if (!vshm_segment_alignment_is_valid(alignment)) {
		result = vshm_fail(EPROTO,
		                   "stream '%s' has an alignment of %u bytes, not a power of two "
		                   "within %u..%u: damaged segment",
		                   name, alignment, VSHM_ALIGNMENT_MIN, VSHM_ALIGNMENT_MAX);
	} else if (alignment % (uint32_t)sysconf(_SC_PAGESIZE) != 0) {
		result = vshm_fail(EPROTO,
		                   "stream '%s' aligns its regions to %u bytes, but this machine's "
		                   "pages are %ld bytes, so they cannot be mapped: its writer must "
		                   "align them to the page size (a vshm library older than 2.0?)",
		                   name, alignment, sysconf(_SC_PAGESIZE));
	} else if (claimed.slot_payload_size == 0 || claimed.slot_payload_size % alignment ||
	           vshm_segment_geometry(slot_count, capacity, claimed.slot_payload_size, alignment,
	                                 &expected) < 0 ||
	           !same_geometry(&expected, &claimed)) {
		vshm_clear_error();
		result = vshm_fail(EPROTO,
		                   "stream '%s' has slot offsets or sizes that do not fit its "
		                   "layout: damaged segment",
		                   name);
	}
	if (result == 0) {
		segment->geometry = claimed;
		segment->lossless_timeout_ms = lossless_timeout_ms;
		segment->layout_minor = minor;
	}
	return result;
}

static int map_for_reader(struct vshm_segment *segment, bool guard)
{
	const struct vshm_segment_geometry *geometry = &segment->geometry;
	/* A reader writes only its reader table entry and two header counters, so those
	 * pages are mapped read-write and the slot descriptors and pixels read-only: a
	 * reader bug cannot damage a frame or its metadata. */
	segment->control = mmap(NULL, geometry->slot_table_offset, PROT_READ | PROT_WRITE,
	                        MAP_SHARED, segment->fd, 0);
	if (segment->control == MAP_FAILED) {
		segment->control = NULL;
		return vshm_fail(errno, "cannot map stream '%s': %s", segment->name,
		                 strerror(errno));
	}
	/* MAP_POPULATE: the pages exist already (the writer allocated them); mapping them
	 * all now spares the first frames a page fault per 4 KiB. */
	segment->read_only =
	    mmap(NULL, geometry->segment_size - geometry->slot_table_offset, PROT_READ,
	         MAP_SHARED | MAP_POPULATE, segment->fd, (off_t)geometry->slot_table_offset);
	if (segment->read_only == MAP_FAILED) {
		int error = errno;
		munmap(segment->control, geometry->slot_table_offset);
		segment->control = NULL;
		segment->read_only = NULL;
		return vshm_fail(error, "cannot map the slots of stream '%s': %s", segment->name,
		                 strerror(error));
	}
	if (guard) {
		/* Best effort: without a free guard the reader works, unguarded. */
		segment->guard_control =
		    vshm_sigbus_guard_add(segment->control, geometry->slot_table_offset, true);
		segment->guard_slots = vshm_sigbus_guard_add(
		    segment->read_only, geometry->segment_size - geometry->slot_table_offset,
		    false);
	}
	segment->header = (struct vshm_shm_header *)segment->control;
	segment->readers =
	    (struct vshm_shm_reader *)(segment->control + geometry->reader_table_offset);
	segment->slots = (struct vshm_shm_slot *)segment->read_only;
	segment->payload =
	    segment->read_only + (geometry->payload_offset - geometry->slot_table_offset);
	return 0;
}

int vshm_segment_open(struct vshm_segment *segment, const char *name,
                      const struct vshm_reader_options *options)
{
	int result = vshm_name_check(name);
	if (result < 0)
		return result;
	vshm_segment_reset(segment, name);

	struct stat status;
	segment->fd = vshm_segment_open_file(segment->shm_name, O_RDWR, &status);
	if (segment->fd < 0) {
		result = segment->fd;
		segment->fd = -1;
		if (result == -ENOENT)
			return vshm_fail(ENOENT,
			                 "no stream '%s' (%s%s does not exist): is its "
			                 "writer running?",
			                 name, VSHM_SHM_DIR, segment->shm_name);
		if (result == -EACCES)
			return vshm_fail(EPERM,
			                 "cannot open stream '%s': %s%s belongs to uid %u, who did "
			                 "not let you (uid %u) read it",
			                 name, VSHM_SHM_DIR, segment->shm_name,
			                 (unsigned)status.st_uid, (unsigned)geteuid());
		if (result == -EPROTO || result == -EAGAIN)
			return result; /* vshm_error() says what is there */
		return vshm_fail(-result, "cannot open stream '%s': %s", name, strerror(-result));
	}
	segment->device = status.st_dev;
	segment->inode = status.st_ino;
	bool allow_foreign = options && options->allow_foreign_owner;
	bool allow_world_writable = options && options->allow_world_writable;
	if (!allow_foreign && status.st_uid != geteuid()) {
		result = vshm_fail(EPERM,
		                   "stream '%s' belongs to uid %u, not to you (uid %u): refusing "
		                   "a segment someone else controls",
		                   name, (unsigned)status.st_uid, (unsigned)geteuid());
		goto error_close;
	}
	if (!allow_world_writable && (status.st_mode & S_IWOTH)) {
		result =
		    vshm_fail(EPERM,
		              "stream '%s' is writable by every user (mode %04o): refusing it; "
		              "its writer should not create it so",
		              name, (unsigned)(status.st_mode & 07777));
		goto error_close;
	}
	result = validate_header(segment, &status);
	if (result < 0)
		goto error_close;
	result = map_for_reader(segment, options && options->guard_truncation);
	if (result < 0)
		goto error_close;
	return 0;

error_close:
	close(segment->fd);
	segment->fd = -1;
	return result;
}
