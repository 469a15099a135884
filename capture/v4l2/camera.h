/*
 * The camera source's parts, private to capture/v4l2/:
 *   device.c     opening a device node and saying why it cannot be used
 *   choose.c     which format, size and rate, among what the camera offers
 *   negotiate.c  asking the driver for them, and what it answers
 *   io-mmap.c    frames copied (or MJPEG decoded) from the driver's buffers
 *   io-userptr.c the ring's slots lent to the driver: frames with no copy
 *   mjpeg.c      MJPEG frames decoded into a slot (through capture/picture.c)
 *   list.c       --list-devices and --list-formats
 *   source.c     the source itself: open, next frame, reconnect, close
 *
 * Everything goes through libv4l2 (v4l2_open, v4l2_ioctl, v4l2_mmap, v4l2_munmap,
 * v4l2_close), so that libv4l2's format conversion is there for cameras that offer
 * nothing the ring carries. Not thread-safe: a camera belongs to one thread.
 */
#ifndef VSHM_CAPTURE_V4L2_CAMERA_H
#define VSHM_CAPTURE_V4L2_CAMERA_H

#include <linux/videodev2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "source.h"

/* Driver buffers asked for: mmap buffers, or slots lent with USERPTR. */
#define CAMERA_BUFFERS_ASKED 4
/*
 * Drivers raise the count to what they need, and it is taken: mmap uses up to
 * CAMERA_BUFFERS_MAX of them; USERPTR lends a slot to each, a frame in flight on the
 * writer, and the ring keeps three slots besides them, so it lends at most
 * CAMERA_LEND_MAX (more than V4L2 granted before Linux 6.8, VIDEO_MAX_FRAME).
 */
#define CAMERA_BUFFERS_MAX VSHM_SLOT_COUNT_MAX
#define CAMERA_LEND_MAX    (VSHM_SLOT_COUNT_MAX - 3)
_Static_assert(CAMERA_LEND_MAX >= VIDEO_MAX_FRAME, "any count V4L2 grants can be lent");
#define CAMERA_FORMATS_MAX 64

/* One entry of VIDIOC_ENUM_FMT. */
struct camera_format {
	uint32_t pixelformat;
	uint32_t flags; /* V4L2_FMT_FLAG_* */
	char description[32];
};

/* A driver buffer: where it is mapped (mmap), or the slot lent to it (USERPTR). */
struct camera_buffer {
	void *start;
	size_t length;
	struct vshm_frame lent; /* USERPTR: the begun frame whose slot the driver fills */
	bool is_lent;
};

struct camera_io;
struct camera_mjpeg;

struct capture_source {
	char path[4096];
	struct capture_settings settings;
	int fd;
	bool direct; /* fd given to v4l2_fd_open(V4L2_DISABLE_CONVERSION): no libv4l2 between */
	char card[32];

	/* What was negotiated; reconnecting asks for the same again. */
	uint32_t wanted_pixelformat; /* set when reconnecting: the camera format we had */
	uint32_t pixelformat, width, height, bytesperline, sizeimage;
	struct v4l2_fract interval;
	uint32_t ring_format; /* the slot format; for MJPEG the one it is decoded into */
	bool compressed;      /* MJPEG (or JPEG): decoded here */
	bool emulated;        /* converted by libv4l2 */

	/* How frames reach the ring, once decided; and the buffers. */
	const struct camera_io *io;
	uint32_t
	    lend_count; /* USERPTR: buffers the driver granted = the writer's frames in flight */
	uint32_t buffer_count;
	bool streaming;
	struct camera_buffer buffers[CAMERA_BUFFERS_MAX];
	struct vshm_writer *writer; /* the writer slots are lent from */

	/* What the status line and the frames' numbers and flags say. */
	bool have_sequence;
	uint32_t last_sequence;
	uint64_t next_frame_number;
	bool discontinuity;
	uint64_t frames_skipped;
	uint64_t last_frame_ns;   /* when a frame last came (for "no frame for 5 s") */
	uint64_t last_capture_ns; /* the previous frame's capture_ns */
	bool quiet_warned;

	struct camera_mjpeg *mjpeg;
};

/*
 * How frames reach the ring: one per way of sharing memory with the driver. Each
 * returns 0 or a negative errno, and leaves the device as it found it on failure
 * unless it says otherwise.
 */
struct camera_io {
	const char *summary; /* for the user: "mmap + one copy", "USERPTR: no copy" */
	uint32_t memory;     /* V4L2_MEMORY_* */
	/* Allocates (or lends) the buffers and queues every one, before VIDIOC_STREAMON. */
	int (*start)(struct capture_source *camera);
	/* Before each wait for a frame: USERPTR lends slots in place of those handed over. */
	int (*refill)(struct capture_source *camera);
	/*
	 * The driver returned buffer (bytesused checked): puts its frame into a slot begun
	 * on the writer, and gives the buffer back to the driver if it is done with it.
	 * Returns 1 with the frame begun and filled, 0 if the buffer held no frame worth
	 * publishing (skipped: the caller counts it), or a negative errno (after saying
	 * why, unless the device is gone).
	 */
	int (*deliver)(struct capture_source *camera, const struct v4l2_buffer *buffer,
	               struct vshm_frame *frame);
	/* Gives a buffer back to the driver unused (an error buffer, a skipped frame). */
	int (*skip)(struct capture_source *camera, uint32_t index);
	/* After VIDIOC_STREAMOFF: unmaps or takes back what start() set up. */
	void (*stop)(struct capture_source *camera);
};

extern const struct camera_io camera_io_mmap;
extern const struct camera_io camera_io_userptr;

/* device.c */

/* ioctl through libv4l2, retried when a signal interrupts it (unless asked to stop). */
int camera_ioctl(int fd, unsigned long request, void *argument);
/* A fourcc as four printable characters. */
void camera_fourcc_text(uint32_t fourcc, char text[5]);
/* The device path of a location: "v4l2:PATH" is PATH. */
const char *camera_path_of(const char *location);
/* One line on stderr for a device that cannot be opened, from open()'s errno. */
void camera_explain_open_error(const char *path, int error);
/*
 * Opens path and checks that it is a streaming video capture device. direct: open() and
 * v4l2_fd_open(V4L2_DISABLE_CONVERSION), so that libv4l2 passes every ioctl to the
 * driver; otherwise v4l2_open(), with libv4l2's conversion. verbose: say why it cannot
 * be used. Returns the fd, or a negative errno (ENODEV, ENOENT or ENXIO: not there).
 */
int camera_open_device(const char *path, struct v4l2_capability *cap, bool verbose, bool direct);
/* True for an errno that says the device is not there, when opening or setting it up. */
bool camera_error_is_absence(int error);
/*
 * True for an errno that says a streaming device vanished (unplugged): ENODEV, ENXIO,
 * or EIO, which videobuf2 gives once the driver has marked its queue broken.
 */
bool camera_device_vanished(int error);

/* negotiate.c */

/* The device's formats (VIDIOC_ENUM_FMT), at most CAMERA_FORMATS_MAX. */
uint32_t camera_list_formats(int fd, struct camera_format *formats);
/* The ring format of a V4L2 pixel format with the same bytes, or VSHM_FORMAT_INVALID. */
uint32_t camera_ring_format_of(uint32_t pixelformat);
/* choose.c */

/* True for the formats the ring carries as they are (see native_formats). */
bool camera_is_native(uint32_t pixelformat);
/*
 * The size offered for pixelformat nearest to width x height (or the largest when none
 * is asked), and its distance from it (for the largest: UINT64_MAX - its area). Returns
 * false if the driver lists no sizes.
 */
bool camera_choose_size(int fd, uint32_t pixelformat, uint32_t width, uint32_t height,
                        uint32_t *best_width, uint32_t *best_height, uint64_t *best_distance);
/* The interval offered at that size nearest to fps (or the shortest when fps is 0). */
bool camera_choose_interval(int fd, uint32_t pixelformat, uint32_t width, uint32_t height,
                            double fps, struct v4l2_fract *best);
/*
 * The format to use, by the rules at the top of choose.c: wanted (reconnecting: the one
 * we had), else settings->input_format, else the best candidate. path: say on stderr
 * why, when the format chosen is not the one preferred because of its rate (NULL: say
 * nothing). Returns its index in formats, or UINT32_MAX when there is none.
 */
uint32_t camera_choose_format(int fd, const struct camera_format *formats, uint32_t count,
                              const struct capture_settings *settings, uint32_t wanted,
                              const char *path);
/* True for the compressed formats decoded here (MJPEG, JPEG). */
bool camera_is_jpeg(uint32_t pixelformat);
/*
 * Opens the device and negotiates format, size and rate into camera. verbose: say what
 * was adjusted and why things fail (the first open); reconnecting is quiet. Returns 0
 * with camera->fd open, or a negative errno with it closed.
 */
int camera_negotiate(struct capture_source *camera, bool verbose);
/* Makes the next negotiation ask for what this one gave, so a stream goes on as it was. */
void camera_ask_for_the_same(struct capture_source *camera);
/*
 * Where each plane of a V4L2 single-buffer frame of the negotiated format lies. Returns
 * the plane count.
 */
uint32_t camera_planes(const struct capture_source *camera,
                       uint64_t offsets[VSHM_FORMAT_PLANES_MAX],
                       uint32_t strides[VSHM_FORMAT_PLANES_MAX]);
/* True when the driver's layout of a frame is exactly the ring's: a slot can be lent. */
bool camera_layout_is_the_rings(const struct capture_source *camera, uint64_t slot_size);

/* io-userptr.c */

/*
 * Whether the driver takes USERPTR buffers for the negotiated format, asked on the
 * device opened again without libv4l2's converter. Returns 0 with the device open that
 * way and camera->lend_count set (nothing allocated); -EINVAL (not taken) or -ERANGE
 * (more buffers than can be lent) with the device open through libv4l2 again, for mmap;
 * or another negative errno with the device closed (camera->fd -1). The driver may still
 * refuse user memory when buffers are queued or streaming starts; io-userptr.c then
 * goes on with mmap.
 */
int camera_userptr_probe(struct capture_source *camera);

/* list.c */

/*
 * --list-devices with the device nodes under dev ("/dev"): each video node, and its
 * stable names under dev/v4l/by-id and dev/v4l/by-path. Returns 0, or 1 if none.
 */
int camera_list_devices_in(const char *dev);

/* mjpeg.c */

/* Opens libavcodec's MJPEG decoder (once). Returns 0, -ENOSYS or -ENOMEM. */
int camera_mjpeg_open(struct capture_source *camera);
void camera_mjpeg_close(struct capture_source *camera);
/*
 * Decodes one JPEG of size bytes at data (the driver's buffer, capacity bytes long, ours
 * until it is queued again) into a slot begun on camera->writer. Returns 1 with a frame
 * begun, 0 for a JPEG that is cut short or does not decode cleanly (skipped), or a
 * negative errno after saying why.
 */
int camera_mjpeg_decode(struct capture_source *camera, uint8_t *data, uint32_t size,
                        size_t capacity, struct vshm_frame *frame);

/* The colour matrix of raw camera frames: V4L2's YUV is BT.601 unless told otherwise. */
uint8_t camera_raw_matrix(uint32_t ring_format);

#endif
