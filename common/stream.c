/*
 * Streams seen from outside (vshm/stream.h): inspection maps the segment the way a
 * reader does but claims no reader entry and writes nothing, so listing tools never
 * disturb the streams they look at.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "racy-copy.h"
#include "segment.h"
#include "seqcount.h"
#include "vshm/stream.h"

/* Reads the latest frame's metadata as a reader would, without holding the slot. */
static void read_latest_frame(const struct vshm_segment *segment, struct vshm_stream_info *info)
{
	for (int attempt = 0; attempt < 8; attempt++) {
		/* Pairs with the writer's release store of latest. */
		uint64_t latest =
		    atomic_load_explicit(&segment->header->latest, memory_order_acquire);
		uint32_t slot = (uint32_t)(latest & VSHM_LATEST_SLOT_MASK);
		uint64_t n = (latest >> VSHM_LATEST_SLOT_BITS) & VSHM_LATEST_NUMBER_MASK;
		if (n == 0 || slot >= segment->geometry.slot_count)
			return;
		_Atomic uint64_t *sequence = &segment->slots[slot].sequence;
		uint64_t before = seqcount_read_begin(sequence);
		if (before != 2 * n)
			continue;
		struct vshm_shm_frame_info frame;
		vshm_racy_copy(&frame, &segment->slots[slot].info, sizeof(frame));
		if (seqcount_read_retry(sequence, before))
			continue;
		info->has_frame = true;
		info->format = frame.format;
		info->width = frame.width;
		info->height = frame.height;
		info->flags = frame.flags;
		info->frame_number = frame.frame_number;
		info->publish_ns = frame.publish_ns;
		info->color_matrix = frame.color_matrix;
		info->color_range = frame.color_range;
		info->color_primaries = frame.color_primaries;
		info->color_transfer = frame.color_transfer;
		if (frame.sample_aspect_numerator && frame.sample_aspect_denominator) {
			info->sample_aspect.numerator = frame.sample_aspect_numerator;
			info->sample_aspect.denominator = frame.sample_aspect_denominator;
		}
		return;
	}
}

static void fill_from_segment(const struct vshm_segment *segment, struct vshm_stream_info *info)
{
	const struct vshm_shm_header *header = segment->header;
	const struct vshm_segment_geometry *geometry = &segment->geometry;
	uint32_t flags = atomic_load_explicit(&header->state_flags, memory_order_acquire);
	bool alive = vshm_segment_writer_alive(segment);
	info->status = alive && !(flags & VSHM_STATE_CLOSED) ? VSHM_STREAM_LIVE : VSHM_STREAM_STALE;
	info->writer_pid = header->writer_pid;
	info->layout_major = header->layout_major;
	info->layout_minor = header->layout_minor;
	info->closed = flags & VSHM_STATE_CLOSED;
	info->superseded = flags & VSHM_STATE_SUPERSEDED;
	info->slot_count = geometry->slot_count;
	info->slot_size = geometry->slot_payload_size;
	info->reader_capacity = geometry->reader_capacity;
	info->frames_published =
	    atomic_load_explicit(&header->frames_published, memory_order_relaxed);
	info->overwrites = atomic_load_explicit(&header->overwrites, memory_order_relaxed);
	info->frames_dropped = atomic_load_explicit(&header->frames_dropped, memory_order_relaxed);
	info->frame_interval_ns = header->nominal_frame_interval_ns;
	info->created_realtime_ns = header->created_realtime_ns;
	uint32_t limit = vshm_segment_reader_limit(segment, memory_order_acquire);
	for (uint32_t i = 0; i < limit; i++)
		info->readers_alive += vshm_segment_reader_alive(segment, i);
	read_latest_frame(segment, info);
}

/* True if the file begins with something other than our magic or zeros (which an
 * unfinished segment of ours would show). */
static bool starts_foreign(const char *shm_name)
{
	struct stat status;
	int fd = vshm_segment_open_file(shm_name, O_RDONLY, &status);
	if (fd < 0)
		return false;
	uint32_t magic = 0;
	ssize_t got = pread(fd, &magic, sizeof(magic), 0);
	close(fd);
	return got > 0 && magic != 0 && magic != VSHM_MAGIC;
}

int vshm_stream_inspect(const char *name, struct vshm_stream_info *info)
{
	vshm_clear_error();
	int result = vshm_name_check(name);
	if (result < 0)
		return result;
	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "%s", name);

	char shm_name[VSHM_SHM_NAME_MAX], path[sizeof(VSHM_SHM_DIR) + VSHM_SHM_NAME_MAX];
	vshm_shm_name(name, shm_name);
	snprintf(path, sizeof(path), "%s%s", VSHM_SHM_DIR, shm_name);
	/* lstat(): what is under the name is described, never followed or opened. */
	struct stat status;
	if (lstat(path, &status) < 0)
		return vshm_fail(errno, "no stream '%s'", name);
	info->owner_uid = status.st_uid;
	info->mode = status.st_mode & 07777;
	info->file_size = (uint64_t)status.st_size;
	if (!S_ISREG(status.st_mode)) {
		int fd = vshm_segment_open_file(shm_name, O_RDONLY, &status);
		if (fd >= 0)
			close(fd); /* replaced by a regular file since: listed next time */
		info->status = VSHM_STREAM_FOREIGN;
		snprintf(info->problem, sizeof(info->problem), "%s", vshm_error());
		return 0;
	}

	/* Inspection trusts nothing it reads, so it may look at any owner's segment. */
	struct vshm_reader_options options = { .allow_foreign_owner = true,
		                               .allow_world_writable = true };
	struct vshm_segment segment;
	result = vshm_segment_open(&segment, name, &options);
	if (result == -ENOENT)
		return result;
	if (result < 0) {
		snprintf(info->problem, sizeof(info->problem), "%s", vshm_error());
		if (result == -EAGAIN)
			info->status = VSHM_STREAM_CREATING;
		else if (result == -EPERM || result == -EACCES)
			info->status = VSHM_STREAM_UNREADABLE;
		else if (strstr(vshm_error(), "not a vshm stream") ||
		         strstr(vshm_error(), "layout version"))
			info->status = VSHM_STREAM_FOREIGN;
		else if (starts_foreign(shm_name)) {
			info->status = VSHM_STREAM_FOREIGN;
			snprintf(info->problem, sizeof(info->problem),
			         "not a vshm stream (%llu bytes, no vshm header): a file owned "
			         "by uid %u",
			         (unsigned long long)info->file_size, info->owner_uid);
		} else
			info->status = VSHM_STREAM_DAMAGED;
		return 0;
	}
	fill_from_segment(&segment, info);
	vshm_segment_close(&segment);
	return 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int vshm_stream_list(int (*visit)(const struct vshm_stream_info *info, void *data), void *data)
{
	vshm_clear_error();
	DIR *directory = opendir(VSHM_SHM_DIR);
	if (!directory)
		return vshm_fail(errno, "cannot read %s: %s", VSHM_SHM_DIR, strerror(errno));
	char **names = NULL;
	size_t count = 0, capacity = 0;
	struct dirent *entry;
	int result = 0;
	while ((entry = readdir(directory))) {
		const char *name = entry->d_name;
		if (strncmp(name, VSHM_SHM_PREFIX, strlen(VSHM_SHM_PREFIX)) != 0)
			continue;
		if (count == capacity) {
			capacity = capacity ? capacity * 2 : 32;
			char **larger = realloc(names, capacity * sizeof(*names));
			if (!larger) {
				result = -ENOMEM;
				break;
			}
			names = larger;
		}
		names[count] = strdup(name + strlen(VSHM_SHM_PREFIX));
		if (!names[count]) {
			result = -ENOMEM;
			break;
		}
		count++;
	}
	closedir(directory);
	if (count)
		qsort(names, count, sizeof(*names), compare_names);
	for (size_t i = 0; i < count && result == 0; i++) {
		struct vshm_stream_info info;
		int inspected = vshm_stream_inspect(names[i], &info);
		if (inspected == -ENOENT)
			continue; /* gone since we read the directory */
		if (inspected == -EINVAL) {
			/* A file under our prefix whose name we would never make. */
			memset(&info, 0, sizeof(info));
			snprintf(info.name, sizeof(info.name), "%.64s", names[i]);
			info.status = VSHM_STREAM_FOREIGN;
			snprintf(info.problem, sizeof(info.problem), "not a valid stream name");
		}
		result = visit(&info, data);
	}
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
	return result;
}

int vshm_stream_remove_stale(const char *name)
{
	vshm_clear_error();
	return vshm_segment_remove_stale(name);
}
