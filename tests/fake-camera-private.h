/*
 * The fake camera's parts, private to them (fake-camera.h says what it offers):
 *   fake-camera-config.c    the FAKE_CAMERA_* environment, and the device's state
 *   fake-camera-pictures.c  what its frames hold (fake_camera_fill(), fake_camera_jpeg())
 *   fake-camera-device.c    the driver: formats, the buffer queue, frames, its ioctls
 *   fake-camera.c           file handles: libv4l2's entry points, and open(), close(),
 *                           ioctl(), mmap(), stat() of the device node for programs that
 *                           use the kernel's calls (v4l2-compliance)
 *
 * One device, any number of file handles. As in videobuf2, the device holds one buffer
 * queue, and the first handle that allocates buffers owns it until it frees them or
 * closes; the format is the device's, not the handle's. Not thread-safe.
 */
#ifndef VSHM_TEST_FAKE_CAMERA_PRIVATE_H
#define VSHM_TEST_FAKE_CAMERA_PRIVATE_H

#include <libavcodec/avcodec.h>
#include <linux/videodev2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fake-camera.h"

#define FAKE_HIDDEN __attribute__((visibility("hidden")))

#define MAX_FORMATS  16
#define MAX_SIZES    16
#define MAX_RATES    8
#define MAX_HANDLES  128
#define MAX_BUFFERS  64
#define MIN_BUFFERS  2
#define MAX_MAPPINGS 64
#define PAGE         4096u

enum fake_timestamps {
	TIMESTAMPS_MONOTONIC, /* the end of frame on CLOCK_MONOTONIC, flagged so */
	TIMESTAMPS_REALTIME,  /* CLOCK_REALTIME, flagged unknown, as drivers before Linux 3.10 */
	TIMESTAMPS_BACKWARDS, /* flagged monotonic, but every 4th is 50 ms early: backwards */
};

enum buffer_state { BUFFER_DEQUEUED, BUFFER_QUEUED, BUFFER_DONE };

struct buffer {
	enum buffer_state state;
	uint8_t *memory;   /* MMAP: the fake's own mapping; USERPTR: the program's */
	uint32_t length;   /* MMAP: page-rounded size; USERPTR: what QBUF said */
	uint32_t offset;   /* MMAP: the mmap offset */
	uint32_t mappings; /* live v4l2_mmap()s of it */
	uint32_t bytesused;
	uint32_t flags; /* V4L2_BUF_FLAG_ERROR when done with an error */
	uint32_t sequence;
	uint64_t timestamp_ns;
};

struct queue {
	int owner; /* handle index, -1 none */
	uint32_t memory;
	uint32_t count;
	struct buffer buffers[MAX_BUFFERS];
	uint32_t order[MAX_BUFFERS]; /* queued buffers, oldest first */
	uint32_t queued;
	uint32_t done_order[MAX_BUFFERS]; /* done buffers, oldest first */
	uint32_t done;
	int memfd;
	uint8_t *pool; /* MMAP buffers, count * buffer length */
	size_t pool_size;
	uint32_t allocation;
	bool streaming;
	uint64_t start_ns;
	uint64_t next_frame; /* first frame not yet produced or lost */
	uint64_t ticks_seen; /* next_frame when queued buffers were last poisoned */
};

struct config {
	char device[256];
	char real_device[4096]; /* its real path, if it exists as a file (for links to it) */
	uint32_t formats[MAX_FORMATS];
	uint32_t format_count;
	uint32_t widths[MAX_SIZES], heights[MAX_SIZES];
	uint32_t size_count;
	uint32_t rates[MAX_RATES];
	uint32_t rate_count;
	bool userptr;
	uint32_t caps; /* V4L2_CAP_VIDEO_CAPTURE, _OUTPUT or _META_CAPTURE */
	int open_error;
	bool busy;
	uint64_t eagain_every, eintr_every, error_every, drop_every;
	uint64_t unplug_after;
	int64_t replug_ms;                    /* -1: never */
	uint32_t replug_formats[MAX_FORMATS]; /* offered after a replug, if any */
	uint32_t replug_format_count;
	uint32_t min_buffers;     /* REQBUFS grants at least this many */
	uint32_t max_buffers;     /* and at most this many */
	int userptr_refused_at;   /* VIDIOC_QBUF or VIDIOC_STREAMON refuse user memory there */
	int streamon_error;       /* STREAMON fails with this errno */
	uint32_t sizeimage_extra; /* bytes a raw frame's sizeimage is padded by */
	bool mjpeg_whole_buffer;  /* MJPEG bytesused is the whole buffer, zeros after the JPEG */
	uint64_t mjpeg_cut_every; /* every Nth JPEG is cut short, with no error flag */
	uint32_t format_rates[MAX_FORMATS]; /* the one rate formats[i] has; 0: every rate */
	uint32_t size_type; /* V4L2_FRMSIZE_TYPE_DISCRETE (the list), _STEPWISE, _CONTINUOUS */
	struct v4l2_frmsize_stepwise steps; /* the range of a stepwise or continuous size */
	uint32_t bytesperline_align;        /* rows padded to a multiple of this; 0: packed */
	bool emulate;   /* converting handles offer libv4l2's emulated formats too */
	int timestamps; /* enum fake_timestamps */
	uint64_t stall_after, stall_ns; /* after this many frames, none for this long */
	bool fill;
};

struct handle {
	bool used;
	int fd; /* a timerfd: readable when a frame may be ready */
	bool nonblocking;
	/* Opened with v4l2_open(), or given to v4l2_fd_open() without
	 * V4L2_DISABLE_CONVERSION: libv4l2 then stands between the program and the
	 * driver, and refuses every memory type but MMAP. A bare open() or
	 * V4L2_DISABLE_CONVERSION leaves the program talking to the driver. */
	bool converting;
	uint32_t generation; /* the device's generation it was opened on */
	uint32_t priority;   /* enum v4l2_priority, V4L2_PRIORITY_DEFAULT when opened */
};

struct mapping {
	uint8_t *address;
	size_t length;
	uint32_t allocation; /* which REQBUFS allocation the buffer came from */
	uint32_t buffer;
	bool used;
};

struct fake_state {
	bool configured;
	struct config config;
	uint32_t generation; /* grows at every replug; old handles then see ENODEV */
	bool unplugged, unplug_done;
	uint64_t unplugged_ns;
	struct handle handles[MAX_HANDLES];
	struct mapping mappings[MAX_MAPPINGS];
	/* The device's state: format, rate and the buffer queue. */
	uint32_t pixelformat, width, height, rate;
	struct queue queue;
	uint32_t allocations; /* REQBUFS allocations so far, to tell mappings apart */
	uint64_t dqbuf_calls;
	uint64_t frames_dequeued;
	/* MJPEG encoder, kept for the current size. */
	AVCodecContext *encoder;
	AVFrame *picture;
	AVPacket *packet;
	int64_t encoded;
};

extern struct fake_state fake FAKE_HIDDEN;

/* fake-camera-config.c */
FAKE_HIDDEN uint64_t fake_now_ns(void);
/* Sets errno, returns -1. */
FAKE_HIDDEN int fake_fail(int error);
FAKE_HIDDEN void fake_configure(void);
/* The state a freshly plugged device starts in. */
FAKE_HIDDEN void fake_reset_device(void);

/* fake-camera-pictures.c */
FAKE_HIDDEN void fake_free_encoder(void);
/* MJPEG and JPEG: compressed frames, the fake's JPEG of each. */
FAKE_HIDDEN bool fake_is_jpeg(uint32_t pixelformat);

/* fake-camera-queue.c */
/* The buffer queue's ioctls, for fake_device_ioctl(): 0, or -1 with errno. */
FAKE_HIDDEN int fake_request_buffers(struct handle *handle, struct v4l2_requestbuffers *request);
FAKE_HIDDEN int fake_queue_buffer(struct handle *handle, struct v4l2_buffer *request);
FAKE_HIDDEN int fake_dequeue_buffer(struct handle *handle, struct v4l2_buffer *request);
FAKE_HIDDEN int fake_stream_on(struct handle *handle, const int *type);
/* QUERYBUF's answer for buffer index. */
FAKE_HIDDEN void fake_describe_buffer(uint32_t index, struct v4l2_buffer *out);
/* sizeimage of the current format as the driver says it: raw frames maybe padded. */
FAKE_HIDDEN uint32_t fake_driver_sizeimage(void);

/* fake-camera-device.c */
/* The driver's buffer type (capture), if it is a capture device at all. */
FAKE_HIDDEN bool fake_capture_type(uint32_t type);
/* The driver's answer to an ioctl on handle: 0, or -1 with errno. */
FAKE_HIDDEN int fake_device_ioctl(struct handle *handle, unsigned long request, void *argument);
FAKE_HIDDEN bool fake_any_mapped(void);
/* The rates a format is offered at (FAKE_CAMERA_FPS, or its FAKE_CAMERA_FORMAT_FPS). */
FAKE_HIDDEN uint32_t fake_rates_of(uint32_t pixelformat, uint32_t rates[MAX_RATES]);
FAKE_HIDDEN void fake_free_buffers(void);
FAKE_HIDDEN void fake_stop_streaming(struct handle *handle);
/* Another handle owns the queue (or another process, with FAKE_CAMERA_BUSY). */
FAKE_HIDDEN bool fake_owned_by_other(const struct handle *handle);

/* fake-camera.c */
FAKE_HIDDEN int fake_real_close(int fd);
FAKE_HIDDEN int fake_real_ioctl(int fd, unsigned long request, void *argument);
FAKE_HIDDEN void *fake_real_mmap(void *start, size_t length, int prot, int flags, int fd,
                                 off_t offset);
FAKE_HIDDEN int fake_real_munmap(void *start, size_t length);
FAKE_HIDDEN struct handle *fake_handle_of(int fd);
/* True for the fake's device path, or another name of it (a link). */
FAKE_HIDDEN bool fake_is_device_path(const char *file);
FAKE_HIDDEN int fake_handle_index(const struct handle *handle);
/* True if the device vanished since handle was opened (unplugged, or replugged since). */
FAKE_HIDDEN bool fake_gone(const struct handle *handle);
FAKE_HIDDEN void fake_update_plug_state(void);

#endif
