/*
 * What vshm-capture needs from a source of frames: one small ops struct, one file per
 * source (source-test.c, source-file.c, source-network.c, the camera in v4l2/).
 *
 * A source writes each frame straight into a ring slot: next() begins the frame on
 * the writer, fills its pixels and metadata, and leaves it for the caller to publish
 * when it is due. That fill is the one copy (or conversion) that brings pixels in.
 */
#ifndef VSHM_CAPTURE_SOURCE_H
#define VSHM_CAPTURE_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include <vshm/vshm.h>

/* How a camera's frames reach the ring (see v4l2/io-userptr.c and v4l2/io-mmap.c). */
enum capture_io {
	CAPTURE_IO_AUTO = 0, /* USERPTR where the driver and the layout allow it, else mmap */
	CAPTURE_IO_MMAP,     /* driver buffers, one copy each into the slot */
	CAPTURE_IO_USERPTR,  /* the ring's slots lent to the driver: no copy */
};

/* What the user asked for; 0 / INVALID / NULL mean "the source's own". */
struct capture_settings {
	uint32_t format;
	uint32_t width;
	uint32_t height;
	double fps;
	bool loop;
	bool skip_damaged;  /* files: drop pictures decoded with errors instead of flagging them */
	bool no_autorotate; /* files: keep pictures as stored, whatever the display matrix says */
	bool square_pixels; /* files: scale anamorphic pictures to square pixels */
	bool quiet;         /* say nothing but errors and events (the network source's waiting) */
	/* Cameras only: */
	uint32_t input_format; /* the camera's format (a V4L2 fourcc) to take, 0: the best */
	enum capture_io io;
	bool no_reconnect; /* exit when the device vanishes instead of waiting for it */
};

/* What the source will produce first: sizes the ring before the first frame. */
struct capture_description {
	uint32_t format;
	uint32_t width;
	uint32_t height;
	uint64_t frame_interval_ns; /* nominal, 0 if unknown */
	/* One line for the user: codec, container, how pictures are turned, what the ring
	 * format loses of them. */
	char summary[400];
	/*
	 * A live source (a camera) delivers frames at its own pace and stamps them itself:
	 * next() blocks until a frame is there and sets frame->capture_ns; the caller
	 * publishes at once, without pacing or re-stamping.
	 */
	bool live;
	/*
	 * Frames the source keeps begun on the writer at once (a camera's driver filling
	 * slots lent to it); 0 or 1 for the usual one. The caller creates the writer with
	 * this many frames in flight and enough slots for them; next() then returns one of
	 * them, and frame->slot says which.
	 */
	uint32_t frames_in_flight;
	/*
	 * Bytes the largest frame may take in a slot when that is more than format, width
	 * and height need (a camera driver that pads its sizeimage, for slots lent to it);
	 * 0 if not.
	 */
	uint64_t max_frame_bytes;
};

struct capture_source_stats {
	uint64_t frames_skipped; /* corrupt or undecodable frames, skipped and counted */
	uint64_t frames_damaged; /* published flagged VSHM_FRAME_DAMAGED */
	uint64_t loops;          /* times a looping source started over */
};

enum capture_next_result {
	CAPTURE_FRAME = 1, /* a frame is begun on the writer and filled: publish it */
	CAPTURE_END = 0,   /* no more frames */
};

struct capture_source;

struct capture_source_ops {
	const char *name;
	/*
	 * Opens location (with settings), fills *description. Returns NULL on failure
	 * after printing one line on stderr naming location and the problem.
	 */
	struct capture_source *(*open)(const char *location,
	                               const struct capture_settings *settings,
	                               struct capture_description *description);
	/*
	 * Produces the next frame into a slot of writer (see the top of this file) and
	 * sets *media_ns, the time since the start of the stream at which it is due
	 * (increasing across loops). Returns an enum capture_next_result or a negative
	 * errno after printing one line on stderr; a frame begun on the writer is then
	 * cancelled by the source.
	 */
	int (*next)(struct capture_source *source, struct vshm_writer *writer,
	            struct vshm_frame *frame, uint64_t *media_ns);
	void (*get_stats)(const struct capture_source *source, struct capture_source_stats *stats);
	/* Accepts NULL. */
	void (*close)(struct capture_source *source);
};

extern const struct capture_source_ops capture_source_test;
#ifdef VSHM_HAVE_FFMPEG
extern const struct capture_source_ops capture_source_file;
/* Live streams a sender pushes (source-network.c): srt, udp, rtp (FILE.sdp), rtsp ... */
extern const struct capture_source_ops capture_source_network;

/* True for the locations the network source takes: those URLs, and .sdp files. */
bool capture_network_is_location(const char *location);
#endif
#ifdef VSHM_HAVE_V4L2
extern const struct capture_source_ops capture_source_v4l2;

/* True for the locations the camera source takes: /dev/video*, /dev/v4l/..., v4l2:PATH. */
bool capture_v4l2_is_location(const char *location);

/* Prints the video devices (--list-devices). Returns 0, or 1 if none was found. */
int capture_v4l2_list_devices(void);

/* Prints a device's formats, sizes and rates (--list-formats). Returns 0 or 1. */
int capture_v4l2_list_formats(const char *location);
#endif

#endif
