/*
 * Looking at streams from outside: listing the segments on the machine, inspecting one
 * without attaching to it (no reader entry is taken, nothing is written), and removing
 * a stale one. For tools such as vshm-ls and vshm-run.
 */
#ifndef VSHM_STREAM_H
#define VSHM_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include <vshm/export.h>
#include <vshm/frame.h>
#include <vshm/util.h>

enum vshm_stream_status {
	VSHM_STREAM_LIVE,       /* a writer holds it */
	VSHM_STREAM_STALE,      /* no writer: left by one that died (removable) */
	VSHM_STREAM_CREATING,   /* a writer is creating it right now */
	VSHM_STREAM_FOREIGN,    /* not a vshm stream, or another layout version */
	VSHM_STREAM_DAMAGED,    /* a vshm header that fails its checks */
	VSHM_STREAM_UNREADABLE, /* we may not open it (another user's) */
};

struct vshm_stream_info {
	char name[VSHM_NAME_MAX + 1];
	enum vshm_stream_status status;
	char problem[256]; /* why, for FOREIGN, DAMAGED and UNREADABLE */
	uint32_t owner_uid;
	uint32_t mode;
	uint64_t file_size;
	/* The rest is filled for LIVE and STALE streams only. */
	uint32_t writer_pid;
	uint16_t layout_major, layout_minor; /* the layout version its writer follows */
	bool closed;     /* its writer removed it cleanly (seen only while mapped) */
	bool superseded; /* a newer segment took or is taking the name */
	uint32_t slot_count;
	uint64_t slot_size;
	uint32_t reader_capacity;
	uint32_t readers_alive; /* entries held by live readers, asked of the kernel */
	uint64_t frames_published;
	uint64_t overwrites;
	uint64_t frames_dropped;
	uint64_t frame_interval_ns; /* nominal, 0 if unknown */
	uint64_t created_realtime_ns;
	/* The latest frame, if one was published and could be read whole. */
	bool has_frame;
	uint32_t format, width, height, flags;
	uint64_t frame_number, publish_ns;
	uint8_t color_matrix, color_range;       /* enum vshm_color_matrix, _range */
	uint8_t color_primaries, color_transfer; /* enum vshm_color_primaries, _transfer */
	struct vshm_ratio sample_aspect;         /* 0/0 if unknown */
};

/*
 * Inspects the stream name. Returns 0 with *info filled (any status), -ENOENT if there
 * is no such stream, or -EINVAL for a bad name.
 */
VSHM_EXPORT int vshm_stream_inspect(const char *name, struct vshm_stream_info *info);

/*
 * Inspects every vshm segment in /dev/shm, in name order, calling visit for each; stops
 * early and returns visit's value if it is not 0. Returns 0 or a negative errno.
 */
VSHM_EXPORT int vshm_stream_list(int (*visit)(const struct vshm_stream_info *info, void *data),
                                 void *data);

/*
 * Removes a stale stream (no live writer): 0, -EBUSY if a writer holds it, -EEXIST if
 * it is not a vshm stream (left alone), -ENOENT if there is none. vshm_error() says why.
 */
VSHM_EXPORT int vshm_stream_remove_stale(const char *name);

#endif
