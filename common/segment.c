/*
 * Creating, locking and removing the shared-memory segment; segment-open.c opens,
 * validates and maps one for a reader.
 *
 * Liveness needs no daemon: the writer holds an OFD write lock on byte 0 of the
 * segment for its whole life, each reader one on the byte where its reader table entry
 * starts. The kernel drops a lock when the last descriptor of its open file description
 * closes, which includes the holder dying, so F_OFD_GETLK answers "is it alive?" without
 * trusting pids, which get reused.
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

static uint64_t round_up(uint64_t value, uint64_t alignment)
{
	return (value + alignment - 1) / alignment * alignment;
}

uint32_t vshm_segment_default_alignment(void)
{
	long page = sysconf(_SC_PAGESIZE);
	return page > (long)VSHM_ALIGNMENT_MIN && page <= (long)VSHM_ALIGNMENT_MAX
	           ? (uint32_t)page
	           : VSHM_ALIGNMENT_MIN;
}

bool vshm_segment_alignment_is_valid(uint64_t alignment)
{
	return alignment >= VSHM_ALIGNMENT_MIN && alignment <= VSHM_ALIGNMENT_MAX &&
	       (alignment & (alignment - 1)) == 0;
}

void vshm_segment_sleep_ms(long milliseconds)
{
	struct timespec duration = { milliseconds / 1000, (milliseconds % 1000) * 1000000 };
	nanosleep(&duration, NULL);
}

static const char *file_kind(mode_t mode)
{
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISLNK(mode))
		return "a symbolic link";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	return "a regular file";
}

int vshm_segment_open_file(const char *shm_name, int access, struct stat *status)
{
	char path[sizeof(VSHM_SHM_DIR) + VSHM_SHM_NAME_MAX];
	snprintf(path, sizeof(path), "%s%s", VSHM_SHM_DIR, shm_name);
	/* Look before opening: a FIFO or device is never opened at all. */
	if (lstat(path, status) < 0)
		return errno == ENOENT
		           ? -ENOENT
		           : vshm_fail(errno, "cannot look at %s: %s", path, strerror(errno));
	if (!S_ISREG(status->st_mode))
		return vshm_fail(EPROTO,
		                 "%s is %s owned by uid %u, not a vshm stream; vshm does not open, "
		                 "follow or remove it: its owner or root can",
		                 path, file_kind(status->st_mode), (unsigned)status->st_uid);
	/* O_NOFOLLOW and O_NONBLOCK for what may be put there between the look and the
	 * open: a symbolic link fails, a FIFO cannot block; fstat() then tells. */
	int fd = open(path, access | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP)
			return vshm_fail(EPROTO, "%s is a symbolic link, not a vshm stream", path);
		return -errno; /* the caller words it, knowing the owner from *status */
	}
	struct stat opened;
	if (fstat(fd, &opened) < 0 || !S_ISREG(opened.st_mode) || opened.st_ino != status->st_ino ||
	    opened.st_dev != status->st_dev) {
		close(fd);
		return vshm_fail(EAGAIN, "%s changed while it was being opened; try again", path);
	}
	*status = opened;
	return fd;
}

int vshm_segment_geometry(uint32_t slot_count, uint32_t reader_capacity, uint64_t min_payload,
                          uint32_t alignment, struct vshm_segment_geometry *geometry)
{
	if (slot_count < VSHM_SLOTS_MIN || slot_count > VSHM_SLOTS_MAX)
		return vshm_fail(EINVAL, "slot count %u is outside %d..%d", slot_count,
		                 VSHM_SLOTS_MIN, VSHM_SLOTS_MAX);
	if (reader_capacity < 1 || reader_capacity > VSHM_READERS_MAX)
		return vshm_fail(EINVAL, "reader capacity %u is outside 1..%d", reader_capacity,
		                 VSHM_READERS_MAX);
	if (min_payload == 0 || min_payload > VSHM_SLOT_BYTES_MAX)
		return vshm_fail(EINVAL, "slot size %llu is outside 1..%llu bytes",
		                 (unsigned long long)min_payload,
		                 (unsigned long long)VSHM_SLOT_BYTES_MAX);
	if (!vshm_segment_alignment_is_valid(alignment))
		return vshm_fail(EINVAL, "alignment %u is not a power of two within %u..%u",
		                 alignment, VSHM_ALIGNMENT_MIN, VSHM_ALIGNMENT_MAX);

	struct vshm_segment_geometry result = {
		.slot_count = slot_count,
		.reader_capacity = reader_capacity,
		.alignment = alignment,
		.slot_payload_size = round_up(min_payload, alignment),
		.reader_table_offset = alignment,
	};
	/* With the limits above the sums stay far below 2^64: 64 slots of 4 GiB is 2^38. */
	result.slot_table_offset =
	    result.reader_table_offset +
	    round_up((uint64_t)reader_capacity * sizeof(struct vshm_shm_reader), alignment);
	result.payload_offset =
	    result.slot_table_offset +
	    round_up((uint64_t)slot_count * sizeof(struct vshm_shm_slot), alignment);
	result.segment_size =
	    result.payload_offset + (uint64_t)slot_count * result.slot_payload_size;
	*geometry = result;
	return 0;
}

int vshm_segment_lock(int fd, uint64_t offset)
{
	struct flock lock = {
		.l_type = F_WRLCK,
		.l_whence = SEEK_SET,
		.l_start = (off_t)offset,
		.l_len = 1,
	};
	if (fcntl(fd, F_OFD_SETLK, &lock) < 0)
		return errno == EACCES ? -EAGAIN : -errno;
	return 0;
}

void vshm_segment_unlock(int fd, uint64_t offset)
{
	struct flock lock = {
		.l_type = F_UNLCK,
		.l_whence = SEEK_SET,
		.l_start = (off_t)offset,
		.l_len = 1,
	};
	fcntl(fd, F_OFD_SETLK, &lock);
}

static bool range_is_locked(int fd, uint64_t offset)
{
	struct flock lock = {
		.l_type = F_WRLCK,
		.l_whence = SEEK_SET,
		.l_start = (off_t)offset,
		.l_len = 1,
	};
	/* F_OFD_GETLK reports locks of other open file descriptions only; ours never. */
	if (fcntl(fd, F_OFD_GETLK, &lock) < 0)
		return false;
	return lock.l_type != F_UNLCK;
}

bool vshm_segment_writer_alive(const struct vshm_segment *segment)
{
	return range_is_locked(segment->fd, VSHM_WRITER_LOCK_OFFSET);
}

bool vshm_segment_name_replaced(const struct vshm_segment *segment)
{
	/* lstat(), never open(): whatever someone put under the name, this cannot block. */
	char path[sizeof(VSHM_SHM_DIR) + VSHM_SHM_NAME_MAX];
	snprintf(path, sizeof(path), "%s%s", VSHM_SHM_DIR, segment->shm_name);
	struct stat status;
	return lstat(path, &status) == 0 &&
	       (status.st_ino != segment->inode || status.st_dev != segment->device);
}

/* Reads the pid a live writer wrote into its header, or 0 if it cannot be read. */
static uint32_t read_writer_pid(int fd)
{
	struct stat status;
	if (fstat(fd, &status) < 0 || status.st_size < (off_t)sizeof(struct vshm_shm_header))
		return 0;
	struct vshm_shm_header *header = mmap(NULL, sizeof(*header), PROT_READ, MAP_SHARED, fd, 0);
	if (header == MAP_FAILED)
		return 0;
	uint32_t pid = 0;
	/* Pairs with the writer's release store of magic: the pid was written before. */
	if (atomic_load_explicit(&header->magic, memory_order_acquire) == VSHM_MAGIC)
		pid = header->writer_pid;
	munmap(header, sizeof(*header));
	return pid;
}

/*
 * Marks an old segment superseded and wakes its sleeping readers, so that they look
 * for the new one at once. Only done to a segment that is recognisably ours.
 */
static void mark_superseded(int fd)
{
	struct stat status;
	if (fstat(fd, &status) < 0 || status.st_size < (off_t)sizeof(struct vshm_shm_header))
		return;
	struct vshm_shm_header *header =
	    mmap(NULL, sizeof(*header), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (header == MAP_FAILED)
		return;
	/* Only a segment of our layout version: another version's flags may lie elsewhere. */
	if (atomic_load_explicit(&header->magic, memory_order_acquire) == VSHM_MAGIC &&
	    header->layout_major == VSHM_LAYOUT_MAJOR) {
		/* Pairs with the acquire load of state_flags in vshm_reader_wait(). */
		atomic_fetch_or_explicit(&header->state_flags, VSHM_STATE_SUPERSEDED,
		                         memory_order_release);
		atomic_fetch_add_explicit(&header->publish_futex, 1, memory_order_seq_cst);
		vshm_futex_wake_all(&header->publish_futex);
	}
	munmap(header, sizeof(*header));
}

enum existing_verdict {
	EXISTING_VANISHED, /* gone or already replaced: try creating again */
	EXISTING_REMOVED,  /* it was stale and we removed it: try creating again */
};

/*
 * Deals with a file that already has the stream's name. Returns an
 * enum existing_verdict, or a negative errno when the name must not be taken.
 */
static int handle_existing(const char *name, const char *shm_name)
{
	struct stat file;
	int fd = vshm_segment_open_file(shm_name, O_RDWR, &file);
	if (fd == -ENOENT)
		return EXISTING_VANISHED;
	if (fd == -EPROTO) {
		char what[256]; /* vshm_fail() rewrites the text vshm_error() returns */
		snprintf(what, sizeof(what), "%s", vshm_error());
		return vshm_fail(EEXIST, "%s", what);
	}
	/*
	 * Another user's file: in the sticky /dev/shm only its owner (or root) may remove
	 * it, and nothing in it can be trusted, not even a pid. Said at once, naming the
	 * owner, whether or not we could open it.
	 */
	bool ours = file.st_uid == geteuid() || geteuid() == 0;
	if (fd == -EACCES || (fd >= 0 && !ours)) {
		bool alive = fd >= 0 && range_is_locked(fd, VSHM_WRITER_LOCK_OFFSET);
		if (fd >= 0)
			close(fd);
		return vshm_fail(
		    alive ? EBUSY : EPERM,
		    "stream '%s' is taken: %s%s belongs to uid %u, not to you (uid %u)%s; "
		    "it can only be removed by its owner or root: choose another name",
		    name, VSHM_SHM_DIR, shm_name, (unsigned)file.st_uid, (unsigned)geteuid(),
		    alive ? ", and a writer holds it" : "");
	}
	if (fd < 0)
		return vshm_fail(-fd, "cannot open the existing segment %s%s of stream '%s': %s",
		                 VSHM_SHM_DIR, shm_name, name, strerror(-fd));

	/* A creator locks right after creating; give one that is mid-way a moment. */
	int result;
	for (int waited = 0;; waited += 10) {
		result = vshm_segment_lock(fd, VSHM_WRITER_LOCK_OFFSET);
		if (result < 0) {
			uint32_t pid = read_writer_pid(fd);
			close(fd);
			if (result != -EAGAIN)
				return vshm_fail(-result, "cannot lock segment of stream '%s': %s",
				                 name, strerror(-result));
			/* The pid in the header is only believed in a file of our own. */
			if (pid && file.st_uid == geteuid())
				return vshm_fail(EBUSY,
				                 "stream '%s' already has a live writer (pid %u); "
				                 "stop it or choose another name",
				                 name, pid);
			return vshm_fail(EBUSY,
			                 "stream '%s' already has a live writer (its file belongs "
			                 "to uid %u); stop it or choose another name",
			                 name, (unsigned)file.st_uid);
		}
		struct stat status;
		if (fstat(fd, &status) < 0 || status.st_nlink == 0) {
			close(fd); /* Someone replaced it while we looked. */
			return EXISTING_VANISHED;
		}
		uint32_t magic = 0;
		if (status.st_size >= (off_t)sizeof(uint32_t) &&
		    pread(fd, &magic, sizeof(magic), 0) != (ssize_t)sizeof(magic))
			magic = 0;
		if (magic == VSHM_MAGIC)
			break; /* A finished segment whose writer is gone: stale. */
		if (magic != 0) {
			close(fd);
			return vshm_fail(
			    EEXIST,
			    "%s%s is not a vshm stream (magic 0x%08x): a file owned by "
			    "uid %u; remove it by hand if it is not needed",
			    VSHM_SHM_DIR, shm_name, magic, (unsigned)file.st_uid);
		}
		if (waited >= VSHM_CREATION_GRACE_MS)
			break; /* Unfinished for too long: its creator died. */
		vshm_segment_unlock(fd, VSHM_WRITER_LOCK_OFFSET);
		vshm_segment_sleep_ms(10);
	}

	vshm_log(VSHM_LOG_INFO, "replacing stale segment of stream '%s' (its writer is gone)",
	         name);
	mark_superseded(fd);
	/* We hold the lock and the file is still linked, so the name is this file's. */
	shm_unlink(shm_name);
	close(fd);
	return EXISTING_REMOVED;
}

static int initialise(struct vshm_segment *segment, mode_t mode, uint64_t frame_interval_ns,
                      uint32_t lossless_timeout_ms)
{
	const struct vshm_segment_geometry *geometry = &segment->geometry;
	/* shm_open() applied the umask; the mode must be exactly what was asked for. */
	if (fchmod(segment->fd, mode) < 0)
		return vshm_fail(errno, "cannot set the mode of %s%s: %s", VSHM_SHM_DIR,
		                 segment->shm_name, strerror(errno));
	if (ftruncate(segment->fd, (off_t)geometry->segment_size) < 0)
		return vshm_fail(errno, "cannot size %s%s to %llu bytes: %s", VSHM_SHM_DIR,
		                 segment->shm_name, (unsigned long long)geometry->segment_size,
		                 strerror(errno));
	/*
	 * Allocate every page now: a full /dev/shm is then a clear error here, not a
	 * SIGBUS in the middle of a frame, and no first frame pays for page faults.
	 */
	int result;
	do
		result = posix_fallocate(segment->fd, 0, (off_t)geometry->segment_size);
	while (result == EINTR);
	if (result == ENOSPC)
		return vshm_fail(ENOSPC,
		                 "not enough room in %s for stream '%s' (%llu MiB needed); free "
		                 "some or use fewer or smaller slots",
		                 VSHM_SHM_DIR, segment->name,
		                 (unsigned long long)(geometry->segment_size >> 20));
	uint8_t *base = mmap(NULL, geometry->segment_size, PROT_READ | PROT_WRITE,
	                     MAP_SHARED | MAP_POPULATE, segment->fd, 0);
	if (base == MAP_FAILED)
		return vshm_fail(errno, "cannot map %s%s: %s", VSHM_SHM_DIR, segment->shm_name,
		                 strerror(errno));
	segment->control = base;
	segment->payload = base + geometry->payload_offset;

	struct vshm_shm_header *header = (struct vshm_shm_header *)base;
	segment->header = header;
	segment->readers = (struct vshm_shm_reader *)(base + geometry->reader_table_offset);
	segment->slots = (struct vshm_shm_slot *)(base + geometry->slot_table_offset);

	/* The file is new and zero-filled; only non-zero fields need writing. */
	header->layout_major = VSHM_LAYOUT_MAJOR;
	header->layout_minor = VSHM_LAYOUT_MINOR;
	header->header_size = sizeof(*header);
	header->slot_count = geometry->slot_count;
	header->reader_capacity = geometry->reader_capacity;
	header->writer_pid = (uint32_t)getpid();
	header->segment_size = geometry->segment_size;
	header->reader_table_offset = geometry->reader_table_offset;
	header->slot_table_offset = geometry->slot_table_offset;
	header->payload_offset = geometry->payload_offset;
	header->slot_payload_size = geometry->slot_payload_size;
	header->payload_alignment = geometry->alignment;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	header->created_realtime_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	header->nominal_frame_interval_ns = frame_interval_ns;
	header->lossless_timeout_ms = lossless_timeout_ms;
	/* NUL padded; a 64-character name fills the field with no terminator. */
	memcpy(header->name, segment->name, strnlen(segment->name, sizeof(header->name)));
	/* Pairs with the acquire load of magic in validate_header(): a reader that sees
	 * the magic sees every field above. */
	atomic_store_explicit(&header->magic, VSHM_MAGIC, memory_order_release);
	return 0;
}

static int remember_identity(struct vshm_segment *segment)
{
	struct stat status;
	if (fstat(segment->fd, &status) < 0)
		return vshm_fail(errno, "cannot stat %s%s: %s", VSHM_SHM_DIR, segment->shm_name,
		                 strerror(errno));
	segment->device = status.st_dev;
	segment->inode = status.st_ino;
	return 0;
}

void vshm_segment_reset(struct vshm_segment *segment, const char *name)
{
	memset(segment, 0, sizeof(*segment));
	segment->fd = -1;
	segment->guard_control = -1;
	segment->guard_slots = -1;
	snprintf(segment->name, sizeof(segment->name), "%s", name);
	vshm_shm_name(name, segment->shm_name);
}

/*
 * Creates the file with O_EXCL and takes its writer lock. Returns 0 with segment->fd
 * open and locked, 1 when the new file was removed by someone else before we locked it
 * (they believed it stale: start over), or a negative errno.
 */
static int create_locked_file(struct vshm_segment *segment, mode_t mode)
{
	segment->fd = shm_open(segment->shm_name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, mode);
	if (segment->fd < 0) {
		if (errno != EEXIST)
			return vshm_fail(errno, "cannot create %s%s for stream '%s': %s",
			                 VSHM_SHM_DIR, segment->shm_name, segment->name,
			                 strerror(errno));
		int result = handle_existing(segment->name, segment->shm_name);
		return result < 0 ? result : 1;
	}
	/* A writer that is looking at the file it found may hold the lock for a moment. */
	int result;
	for (int waited = 0;; waited++) {
		result = vshm_segment_lock(segment->fd, VSHM_WRITER_LOCK_OFFSET);
		if (result == 0)
			break;
		if (result != -EAGAIN || waited >= VSHM_CREATION_GRACE_MS) {
			/* Not ours to remove: whoever holds the lock owns the name now. */
			close(segment->fd);
			segment->fd = -1;
			return vshm_fail(
			    result == -EAGAIN ? EBUSY : -result,
			    "cannot lock the new segment of stream '%s': %s", segment->name,
			    result == -EAGAIN ? "another writer holds it" : strerror(-result));
		}
		vshm_segment_sleep_ms(1);
	}
	result = remember_identity(segment);
	if (result < 0) {
		close(segment->fd);
		segment->fd = -1;
		return result;
	}
	struct stat status;
	if (fstat(segment->fd, &status) < 0 || status.st_nlink == 0 ||
	    vshm_segment_name_replaced(segment)) {
		close(segment->fd); /* removed while we were locking it: start over */
		segment->fd = -1;
		return 1;
	}
	return 0;
}

int vshm_segment_create(struct vshm_segment *segment, const char *name,
                        const struct vshm_segment_geometry *geometry, mode_t mode,
                        uint64_t frame_interval_ns, uint32_t lossless_timeout_ms)
{
	int result = vshm_name_check(name);
	if (result < 0)
		return result;
	vshm_segment_reset(segment, name);
	segment->geometry = *geometry;

	/* Bounded: each round creates, fails, or found a file in the way and dealt with it. */
	result = 1;
	for (int attempt = 0; attempt < 16 && result == 1; attempt++)
		result = create_locked_file(segment, mode);
	if (result == 1)
		return vshm_fail(EBUSY, "stream '%s' keeps being recreated by someone else", name);
	if (result < 0)
		return result;

	result = initialise(segment, mode, frame_interval_ns, lossless_timeout_ms);
	if (result < 0) {
		/* We hold the lock on a file we just made: removing its name is ours to do. */
		if (segment->control)
			munmap(segment->control, geometry->segment_size);
		vshm_segment_unlink(segment);
		close(segment->fd);
		segment->fd = -1;
		segment->control = NULL;
		return result;
	}
	return 0;
}

bool vshm_segment_broken(const struct vshm_segment *segment)
{
	return vshm_sigbus_guard_broken(segment->guard_control) ||
	       vshm_sigbus_guard_broken(segment->guard_slots);
}

void vshm_segment_close(struct vshm_segment *segment)
{
	const struct vshm_segment_geometry *geometry = &segment->geometry;
	/* Before the unmapping: the addresses may be reused by anything after it. */
	vshm_sigbus_guard_remove(segment->guard_control);
	vshm_sigbus_guard_remove(segment->guard_slots);
	segment->guard_control = segment->guard_slots = -1;
	if (segment->read_only) {
		/* A reader's two mappings. */
		munmap(segment->read_only, geometry->segment_size - geometry->slot_table_offset);
		munmap(segment->control, geometry->slot_table_offset);
	} else if (segment->control) {
		munmap(segment->control, geometry->segment_size);
	}
	if (segment->fd >= 0)
		close(segment->fd);
	segment->control = NULL;
	segment->read_only = NULL;
	segment->payload = NULL;
	segment->fd = -1;
}

void vshm_segment_unlink(struct vshm_segment *segment)
{
	struct stat status;
	if (fstat(segment->fd, &status) < 0 || status.st_nlink == 0)
		return;
	if (vshm_segment_name_replaced(segment))
		return; /* Someone removed ours by hand and made another: not ours to remove. */
	shm_unlink(segment->shm_name);
}

bool vshm_segment_reader_alive(const struct vshm_segment *segment, uint32_t index)
{
	return range_is_locked(segment->fd, vshm_segment_reader_lock_offset(segment, index));
}

int vshm_segment_remove_stale(const char *name)
{
	char shm_name[VSHM_SHM_NAME_MAX];
	int result = vshm_shm_name(name, shm_name);
	if (result < 0)
		return result;
	/* The same rules as a writer taking a stale name over: lock, check, remove. */
	result = handle_existing(name, shm_name);
	if (result == EXISTING_REMOVED)
		return 0;
	if (result == EXISTING_VANISHED)
		return vshm_fail(ENOENT, "no stream '%s'", name);
	return result;
}
