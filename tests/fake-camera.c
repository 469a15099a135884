/*
 * The fake camera (see fake-camera.h for what it offers and how to configure it).
 *
 * One device, any number of file handles. As in videobuf2, the device holds one buffer
 * queue, and the first handle that allocates buffers owns it until it frees them or
 * closes; the format is the device's, not the handle's. Frames are produced lazily:
 * frame k of a stream completes at streamon + (k + 1) * interval, and whenever DQBUF or
 * QBUF runs, every frame completed since the last look is put into the oldest queued
 * buffer (or lost when none is queued). Queued buffers are "being written": the fake
 * fills each one with garbage, whole, when it is queued and again at every frame period,
 * so a program that reads or publishes any buffer it has queued sees garbage, as it would
 * with a real DMA engine.
 */
#include <errno.h>
#include <fcntl.h>
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/imgutils.h>
#include <libv4l2.h>
#include <linux/videodev2.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "fake-camera.h"

/*
 * open() and open64() of the fake's device path are the fake's, so that a program can
 * open the device itself and hand the fd to v4l2_fd_open(), as with libv4l2 on a real
 * device; every other path goes to the kernel. They are defined under their symbol names
 * with asm labels because <fcntl.h> may rename open to open64 (_FILE_OFFSET_BITS=64).
 */
int fake_open(const char *file, int oflag, ...) __asm__("open");
int fake_open64(const char *file, int oflag, ...) __asm__("open64");

#define MAX_FORMATS  16
#define MAX_SIZES    16
#define MAX_RATES    8
#define MAX_HANDLES  128
#define MAX_BUFFERS  64
#define MIN_BUFFERS  2
#define MAX_MAPPINGS 64
#define PAGE         4096u

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
};

struct mapping {
	uint8_t *address;
	size_t length;
	uint32_t allocation; /* which REQBUFS allocation the buffer came from */
	uint32_t buffer;
	bool used;
};

static struct {
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
} fake = { .configured = false };

static uint64_t now_ns(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static int fail(int error)
{
	errno = error;
	return -1;
}

static uint64_t env_number(const char *name, uint64_t fallback)
{
	const char *text = getenv(name);
	return text && *text ? strtoull(text, NULL, 10) : fallback;
}

static const struct {
	const char *name;
	int value;
} errno_names[] = {
	{ "EACCES", EACCES }, { "EPERM", EPERM },   { "EBUSY", EBUSY },
	{ "ENOENT", ENOENT }, { "ENXIO", ENXIO },   { "ENODEV", ENODEV },
	{ "EIO", EIO },       { "ENOMEM", ENOMEM }, { "EINVAL", EINVAL },
};

/* An errno by its name ("EBUSY"), 0 for none or an unknown name. */
static int errno_value(const char *name)
{
	for (size_t i = 0; name && i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
		if (strcmp(name, errno_names[i].name) == 0)
			return errno_names[i].value;
	return 0;
}

/* "YUYV,MJPG" into fourccs. */
static void parse_formats(const char *text, uint32_t *formats, uint32_t *count)
{
	*count = 0;
	for (const char *p = text; *p && *count < MAX_FORMATS;) {
		if (strlen(p) >= 4)
			formats[(*count)++] = v4l2_fourcc(p[0], p[1], p[2], p[3]);
		p = strchr(p, ',');
		if (!p)
			break;
		p++;
	}
}

static void configure(void)
{
	struct config *c = &fake.config;
	memset(c, 0, sizeof(*c));
	const char *device = getenv("FAKE_CAMERA_DEVICE");
	snprintf(c->device, sizeof(c->device), "%s", device && *device ? device : "/dev/video0");

	const char *formats = getenv("FAKE_CAMERA_FORMATS");
	if (!formats || !*formats)
		formats = "YUYV,UYVY,NV12,YU12,RGB3,BGR3,GREY,MJPG";
	parse_formats(formats, c->formats, &c->format_count);
	const char *replug_formats = getenv("FAKE_CAMERA_REPLUG_FORMATS");
	if (replug_formats && *replug_formats)
		parse_formats(replug_formats, c->replug_formats, &c->replug_format_count);
	c->min_buffers = (uint32_t)env_number("FAKE_CAMERA_MIN_BUFFERS", MIN_BUFFERS);
	if (c->min_buffers < 1)
		c->min_buffers = 1;
	if (c->min_buffers > MAX_BUFFERS)
		c->min_buffers = MAX_BUFFERS;
	c->max_buffers = (uint32_t)env_number("FAKE_CAMERA_MAX_BUFFERS", MAX_BUFFERS);
	if (c->max_buffers < c->min_buffers || c->max_buffers > MAX_BUFFERS)
		c->max_buffers = MAX_BUFFERS;
	const char *refused_at = getenv("FAKE_CAMERA_USERPTR_REFUSED_AT");
	if (refused_at && strcmp(refused_at, "qbuf") == 0)
		c->userptr_refused_at = (int)VIDIOC_QBUF;
	else if (refused_at && strcmp(refused_at, "streamon") == 0)
		c->userptr_refused_at = (int)VIDIOC_STREAMON;
	c->streamon_error = errno_value(getenv("FAKE_CAMERA_STREAMON_ERROR"));
	c->sizeimage_extra = (uint32_t)env_number("FAKE_CAMERA_SIZEIMAGE_EXTRA", 0);
	c->mjpeg_whole_buffer = env_number("FAKE_CAMERA_MJPEG_WHOLE_BUFFER", 0) != 0;
	const char *sizes = getenv("FAKE_CAMERA_SIZES");
	if (!sizes || !*sizes)
		sizes = "640x480,320x240,1280x720,1920x1080";
	for (const char *p = sizes; *p && c->size_count < MAX_SIZES;) {
		unsigned w, h;
		if (sscanf(p, "%ux%u", &w, &h) == 2 && w >= 2 && h >= 2) {
			c->widths[c->size_count] = w & ~1u;
			c->heights[c->size_count++] = h & ~1u;
		}
		p = strchr(p, ',');
		if (!p)
			break;
		p++;
	}
	const char *rates = getenv("FAKE_CAMERA_FPS");
	if (!rates || !*rates)
		rates = "30,15";
	for (const char *p = rates; *p && c->rate_count < MAX_RATES;) {
		unsigned rate = (unsigned)strtoul(p, NULL, 10);
		if (rate >= 1 && rate <= 1000)
			c->rates[c->rate_count++] = rate;
		p = strchr(p, ',');
		if (!p)
			break;
		p++;
	}
	c->userptr = env_number("FAKE_CAMERA_USERPTR", 1) != 0;
	const char *caps = getenv("FAKE_CAMERA_CAPS");
	c->caps = V4L2_CAP_VIDEO_CAPTURE;
	if (caps && strcmp(caps, "output") == 0)
		c->caps = V4L2_CAP_VIDEO_OUTPUT;
	else if (caps && strcmp(caps, "metadata") == 0)
		c->caps = V4L2_CAP_META_CAPTURE;
	c->open_error = errno_value(getenv("FAKE_CAMERA_OPEN_ERROR"));
	c->busy = env_number("FAKE_CAMERA_BUSY", 0) != 0;
	c->eagain_every = env_number("FAKE_CAMERA_EAGAIN_EVERY", 0);
	c->eintr_every = env_number("FAKE_CAMERA_EINTR_EVERY", 0);
	c->error_every = env_number("FAKE_CAMERA_ERROR_EVERY", 0);
	c->drop_every = env_number("FAKE_CAMERA_DROP_EVERY", 0);
	c->unplug_after = env_number("FAKE_CAMERA_UNPLUG_AFTER", 0);
	const char *replug = getenv("FAKE_CAMERA_REPLUG_MS");
	c->replug_ms = replug && *replug ? (int64_t)strtoll(replug, NULL, 10) : -1;
	const char *fill = getenv("FAKE_CAMERA_FILL");
	c->fill = !(fill && strcmp(fill, "none") == 0);
	fake.configured = true;
}

/* The state a freshly plugged device starts in. */
static void reset_device(void)
{
	fake.pixelformat = fake.config.format_count ? fake.config.formats[0] : V4L2_PIX_FMT_YUYV;
	fake.width = fake.config.size_count ? fake.config.widths[0] : 640;
	fake.height = fake.config.size_count ? fake.config.heights[0] : 480;
	fake.rate = fake.config.rate_count ? fake.config.rates[0] : 30;
	memset(&fake.queue, 0, sizeof(fake.queue));
	fake.queue.owner = fake.config.busy ? MAX_HANDLES : -1;
	fake.queue.memfd = -1;
}

static void free_encoder(void)
{
	avcodec_free_context(&fake.encoder);
	av_frame_free(&fake.picture);
	av_packet_free(&fake.packet);
}

void fake_camera_reset(void)
{
	free_encoder();
	memset(&fake, 0, sizeof(fake));
	configure();
	reset_device();
}

uint64_t fake_camera_frames_dequeued(void)
{
	return fake.frames_dequeued;
}

/* ---- pictures ---- */

static uint8_t luma(uint32_t x, uint32_t y, uint64_t s)
{
	return (uint8_t)(16 + (x + y + 3 * s) % 220);
}

static uint8_t chroma_u(uint32_t x, uint32_t y, uint64_t s)
{
	(void)y;
	return (uint8_t)(64 + (x / 4 + 2 * s) % 128);
}

static uint8_t chroma_v(uint32_t x, uint32_t y, uint64_t s)
{
	(void)x;
	return (uint8_t)(64 + (y / 4 + s) % 128);
}

uint32_t fake_camera_bytesperline(uint32_t pixelformat, uint32_t width)
{
	switch (pixelformat) {
	case V4L2_PIX_FMT_YUYV:
	case V4L2_PIX_FMT_UYVY:
		return width * 2;
	case V4L2_PIX_FMT_RGB24:
	case V4L2_PIX_FMT_BGR24:
		return width * 3;
	case V4L2_PIX_FMT_MJPEG:
		return 0;
	default: /* NV12, YU12, GREY */
		return width;
	}
}

uint32_t fake_camera_sizeimage(uint32_t pixelformat, uint32_t width, uint32_t height)
{
	switch (pixelformat) {
	case V4L2_PIX_FMT_NV12:
	case V4L2_PIX_FMT_YUV420:
		return width * height * 3 / 2;
	case V4L2_PIX_FMT_MJPEG:
		return width * height * 2 + 4096;
	default:
		return fake_camera_bytesperline(pixelformat, width) * height;
	}
}

void fake_camera_fill(uint32_t pixelformat, uint32_t width, uint32_t height, uint64_t s,
                      uint8_t *buffer)
{
	uint32_t bpl = fake_camera_bytesperline(pixelformat, width);
	for (uint32_t y = 0; y < height; y++) {
		uint8_t *row = buffer + (size_t)y * bpl;
		for (uint32_t x = 0; x < width; x++) {
			switch (pixelformat) {
			case V4L2_PIX_FMT_YUYV:
				row[2 * x] = luma(x, y, s);
				row[2 * x + 1] = x % 2 ? chroma_v(x - 1, y, s) : chroma_u(x, y, s);
				break;
			case V4L2_PIX_FMT_UYVY:
				row[2 * x + 1] = luma(x, y, s);
				row[2 * x] = x % 2 ? chroma_v(x - 1, y, s) : chroma_u(x, y, s);
				break;
			case V4L2_PIX_FMT_RGB24:
			case V4L2_PIX_FMT_BGR24: {
				uint8_t r = (uint8_t)(2 * x + s), g = (uint8_t)(2 * y + 2 * s),
				        b = (uint8_t)(x + y);
				row[3 * x] = pixelformat == V4L2_PIX_FMT_RGB24 ? r : b;
				row[3 * x + 1] = g;
				row[3 * x + 2] = pixelformat == V4L2_PIX_FMT_RGB24 ? b : r;
				break;
			}
			default: /* the luma plane of NV12 and YU12, GREY */
				row[x] = luma(x, y, s);
				break;
			}
		}
	}
	uint8_t *chroma = buffer + (size_t)bpl * height;
	if (pixelformat == V4L2_PIX_FMT_NV12) {
		for (uint32_t y = 0; y < height / 2; y++)
			for (uint32_t x = 0; x < width / 2; x++) {
				chroma[(size_t)y * bpl + 2 * x] = chroma_u(2 * x, 2 * y, s);
				chroma[(size_t)y * bpl + 2 * x + 1] = chroma_v(2 * x, 2 * y, s);
			}
	} else if (pixelformat == V4L2_PIX_FMT_YUV420) {
		uint8_t *v = chroma + (size_t)(bpl / 2) * (height / 2);
		for (uint32_t y = 0; y < height / 2; y++)
			for (uint32_t x = 0; x < width / 2; x++) {
				chroma[(size_t)y * (bpl / 2) + x] = chroma_u(2 * x, 2 * y, s);
				v[(size_t)y * (bpl / 2) + x] = chroma_v(2 * x, 2 * y, s);
			}
	}
	for (int i = 0; i < 8; i++)
		buffer[i] = (uint8_t)(s >> (8 * i));
}

static int open_encoder(uint32_t width, uint32_t height)
{
	if (fake.encoder && (uint32_t)fake.encoder->width == width &&
	    (uint32_t)fake.encoder->height == height)
		return 0;
	free_encoder();
	const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
	if (!codec)
		return -1;
	fake.encoder = avcodec_alloc_context3(codec);
	fake.picture = av_frame_alloc();
	fake.packet = av_packet_alloc();
	if (!fake.encoder || !fake.picture || !fake.packet)
		goto error;
	fake.encoder->width = (int)width;
	fake.encoder->height = (int)height;
	fake.encoder->pix_fmt = AV_PIX_FMT_YUVJ422P;
	fake.encoder->color_range = AVCOL_RANGE_JPEG;
	fake.encoder->time_base = (AVRational){ 1, 30 };
	fake.encoder->thread_count = 1;
	fake.encoder->flags |= AV_CODEC_FLAG_QSCALE;
	fake.encoder->global_quality = FF_QP2LAMBDA * 3;
	if (avcodec_open2(fake.encoder, codec, NULL) < 0)
		goto error;
	fake.picture->format = AV_PIX_FMT_YUVJ422P;
	fake.picture->width = (int)width;
	fake.picture->height = (int)height;
	if (av_frame_get_buffer(fake.picture, 0) < 0)
		goto error;
	return 0;
error:
	free_encoder();
	return -1;
}

size_t fake_camera_jpeg(uint32_t width, uint32_t height, uint64_t s, uint8_t *buffer,
                        size_t capacity)
{
	if (open_encoder(width, height) < 0 || av_frame_make_writable(fake.picture) < 0)
		return 0;
	AVFrame *picture = fake.picture;
	for (uint32_t y = 0; y < height; y++) {
		/* Full-range samples: the same picture, spread as JPEG's YUV is. */
		for (uint32_t x = 0; x < width; x++)
			picture->data[0][(size_t)y * (size_t)picture->linesize[0] + x] =
			    luma(x, y, s);
		for (uint32_t x = 0; x < width / 2; x++) {
			picture->data[1][(size_t)y * (size_t)picture->linesize[1] + x] =
			    chroma_u(2 * x, y, s);
			picture->data[2][(size_t)y * (size_t)picture->linesize[2] + x] =
			    chroma_v(2 * x, y, s);
		}
	}
	picture->quality = fake.encoder->global_quality;
	/* Encoders want growing timestamps; the picture itself depends on s only. */
	picture->pts = fake.encoded++;
	size_t size = 0;
	if (avcodec_send_frame(fake.encoder, picture) < 0)
		return 0;
	if (avcodec_receive_packet(fake.encoder, fake.packet) == 0) {
		if ((size_t)fake.packet->size <= capacity) {
			memcpy(buffer, fake.packet->data, (size_t)fake.packet->size);
			size = (size_t)fake.packet->size;
		}
		av_packet_unref(fake.packet);
	}
	return size;
}

/* ---- handles ---- */

static struct handle *handle_of(int fd)
{
	if (fd < 0)
		return NULL;
	for (int i = 0; i < MAX_HANDLES; i++)
		if (fake.handles[i].used && fake.handles[i].fd == fd)
			return &fake.handles[i];
	return NULL;
}

static int handle_index(const struct handle *handle)
{
	return (int)(handle - fake.handles);
}

/* The device vanishes after unplug_after dequeued frames, and returns replug_ms later. */
static void update_plug_state(void)
{
	struct config *c = &fake.config;
	if (!fake.unplugged && !fake.unplug_done && c->unplug_after &&
	    fake.frames_dequeued >= c->unplug_after) {
		fake.unplugged = true;
		fake.unplug_done = true;
		fake.unplugged_ns = now_ns();
	}
	if (fake.unplugged && c->replug_ms >= 0 &&
	    now_ns() >= fake.unplugged_ns + (uint64_t)c->replug_ms * 1000000u) {
		/* A new device: the old queue, its buffers and handles are gone with the
		 * old one. Memory still mapped by the program stays valid, as in the kernel. */
		if (fake.queue.memfd >= 0)
			close(fake.queue.memfd);
		if (fake.queue.pool)
			munmap(fake.queue.pool, fake.queue.pool_size);
		fake.unplugged = false;
		fake.generation++;
		if (c->replug_format_count) {
			/* Another camera (or another mode of it) came back. */
			memcpy(c->formats, c->replug_formats, sizeof(c->formats));
			c->format_count = c->replug_format_count;
		}
		reset_device();
	}
}

static bool gone(const struct handle *handle)
{
	update_plug_state();
	return fake.unplugged || handle->generation != fake.generation;
}

/* The kernel's open(), for every path but the fake device's. */
static int real_open(const char *file, int oflag, va_list arguments)
{
	mode_t mode = 0;
	if (oflag & (O_CREAT | O_TMPFILE))
		mode = (mode_t)va_arg(arguments, int);
	return (int)syscall(SYS_openat, AT_FDCWD, file, oflag, mode);
}

/* open() of the device node: a new file handle talking to the driver, as in the kernel. */
static int open_device(int oflag)
{
	update_plug_state();
	if (fake.unplugged)
		return fail(ENOENT);
	if (fake.config.open_error)
		return fail(fake.config.open_error);
	struct handle *handle = NULL;
	for (int i = 0; i < MAX_HANDLES && !handle; i++)
		if (!fake.handles[i].used)
			handle = &fake.handles[i];
	if (!handle)
		return fail(EMFILE);
	int fd =
	    timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | ((oflag & O_CLOEXEC) ? TFD_CLOEXEC : 0));
	if (fd < 0)
		return -1;
	*handle = (struct handle){ .used = true,
		                   .fd = fd,
		                   .nonblocking = (oflag & O_NONBLOCK) != 0,
		                   .generation = fake.generation };
	return fd;
}

static bool is_device(const char *file)
{
	if (!fake.configured) {
		configure();
		reset_device();
	}
	return file && strcmp(file, fake.config.device) == 0;
}

int fake_open(const char *file, int oflag, ...)
{
	if (is_device(file))
		return open_device(oflag);
	va_list arguments;
	va_start(arguments, oflag);
	int fd = real_open(file, oflag, arguments);
	va_end(arguments);
	return fd;
}

int fake_open64(const char *file, int oflag, ...)
{
	if (is_device(file))
		return open_device(oflag);
	va_list arguments;
	va_start(arguments, oflag);
	int fd = real_open(file, oflag | O_LARGEFILE, arguments);
	va_end(arguments);
	return fd;
}

/*
 * As libv4l2: an fd of the device is taken over, with its format conversion unless
 * V4L2_DISABLE_CONVERSION (then v4l2_ioctl() goes straight to the driver). Returns fd,
 * or -1 for an fd that is not a V4L2 device (left open).
 */
int v4l2_fd_open(int fd, int v4l2_flags)
{
	struct handle *handle = handle_of(fd);
	if (!handle) {
		struct v4l2_capability cap;
		return ioctl(fd, VIDIOC_QUERYCAP, &cap) < 0 ? -1 : fd;
	}
	if (gone(handle))
		return fail(ENODEV);
	handle->converting = !(v4l2_flags & V4L2_DISABLE_CONVERSION);
	return fd;
}

/* As libv4l2: open() and v4l2_fd_open() with conversion, closing the fd if that fails. */
int v4l2_open(const char *file, int oflag, ...)
{
	int fd;
	if (is_device(file)) {
		fd = open_device(oflag);
	} else {
		va_list arguments;
		va_start(arguments, oflag);
		fd = real_open(file, oflag, arguments);
		va_end(arguments);
		return fd; /* a file or another device: the fake does not know it */
	}
	if (fd < 0)
		return -1;
	if (v4l2_fd_open(fd, 0) < 0) {
		int error = errno;
		v4l2_close(fd);
		return fail(error);
	}
	return fd;
}

static bool any_mapped(void)
{
	for (uint32_t i = 0; i < fake.queue.count; i++)
		if (fake.queue.buffers[i].mappings)
			return true;
	return false;
}

static void free_buffers(void)
{
	struct queue *q = &fake.queue;
	if (q->pool)
		munmap(q->pool, q->pool_size);
	if (q->memfd >= 0)
		close(q->memfd);
	q->pool = NULL;
	q->pool_size = 0;
	q->memfd = -1;
	q->count = 0;
	q->queued = 0;
	q->done = 0;
	q->streaming = false;
	memset(q->buffers, 0, sizeof(q->buffers));
}

static void stop_streaming(struct handle *handle)
{
	struct queue *q = &fake.queue;
	q->streaming = false;
	for (uint32_t i = 0; i < q->count; i++)
		q->buffers[i].state = BUFFER_DEQUEUED;
	q->queued = 0;
	q->done = 0;
	struct itimerspec off = { 0 };
	timerfd_settime(handle->fd, 0, &off, NULL);
}

int v4l2_close(int fd)
{
	struct handle *handle = handle_of(fd);
	if (!handle)
		return close(fd);
	if (handle->generation == fake.generation && fake.queue.owner == handle_index(handle)) {
		stop_streaming(handle);
		/* The kernel frees the buffers when the last user lets go; mappings the
		 * program still has keep their memory (our memfd mapping does it for us). */
		free_buffers();
		fake.queue.owner = -1;
	}
	handle->used = false;
	return close(fd);
}

/* ---- formats ---- */

static bool offers(uint32_t pixelformat)
{
	for (uint32_t i = 0; i < fake.config.format_count; i++)
		if (fake.config.formats[i] == pixelformat)
			return true;
	return false;
}

static bool offers_size(uint32_t width, uint32_t height)
{
	for (uint32_t i = 0; i < fake.config.size_count; i++)
		if (fake.config.widths[i] == width && fake.config.heights[i] == height)
			return true;
	return false;
}

static const char *description_of(uint32_t pixelformat)
{
	switch (pixelformat) {
	case V4L2_PIX_FMT_YUYV:
		return "YUYV 4:2:2";
	case V4L2_PIX_FMT_UYVY:
		return "UYVY 4:2:2";
	case V4L2_PIX_FMT_NV12:
		return "Y/UV 4:2:0";
	case V4L2_PIX_FMT_YUV420:
		return "Planar YUV 4:2:0";
	case V4L2_PIX_FMT_RGB24:
		return "24-bit RGB 8-8-8";
	case V4L2_PIX_FMT_BGR24:
		return "24-bit BGR 8-8-8";
	case V4L2_PIX_FMT_GREY:
		return "8-bit Greyscale";
	case V4L2_PIX_FMT_MJPEG:
		return "Motion-JPEG";
	default:
		return "Unknown";
	}
}

/* As drivers do: an unknown format becomes the first offered, a size the nearest. */
static void adjust_format(struct v4l2_pix_format *pix)
{
	if (!offers(pix->pixelformat))
		pix->pixelformat = fake.config.formats[0];
	uint32_t best = 0;
	uint64_t best_distance = UINT64_MAX;
	for (uint32_t i = 0; i < fake.config.size_count; i++) {
		int64_t dw = (int64_t)fake.config.widths[i] - pix->width;
		int64_t dh = (int64_t)fake.config.heights[i] - pix->height;
		uint64_t distance = (uint64_t)(dw < 0 ? -dw : dw) + (uint64_t)(dh < 0 ? -dh : dh);
		if (distance < best_distance) {
			best_distance = distance;
			best = i;
		}
	}
	pix->width = fake.config.widths[best];
	pix->height = fake.config.heights[best];
	pix->field = V4L2_FIELD_NONE;
	pix->bytesperline = fake_camera_bytesperline(pix->pixelformat, pix->width);
	pix->sizeimage = fake_camera_sizeimage(pix->pixelformat, pix->width, pix->height);
	if (pix->pixelformat != V4L2_PIX_FMT_MJPEG)
		pix->sizeimage += fake.config.sizeimage_extra;
	pix->colorspace =
	    pix->pixelformat == V4L2_PIX_FMT_MJPEG ? V4L2_COLORSPACE_JPEG : V4L2_COLORSPACE_SRGB;
	pix->priv = 0;
	pix->flags = 0;
	pix->ycbcr_enc = V4L2_YCBCR_ENC_DEFAULT;
	pix->quantization = V4L2_QUANTIZATION_DEFAULT;
	pix->xfer_func = V4L2_XFER_FUNC_DEFAULT;
}

static void current_format(struct v4l2_format *format)
{
	memset(&format->fmt, 0, sizeof(format->fmt));
	format->fmt.pix.pixelformat = fake.pixelformat;
	format->fmt.pix.width = fake.width;
	format->fmt.pix.height = fake.height;
	adjust_format(&format->fmt.pix);
}

static bool capture_type(uint32_t type)
{
	return type == V4L2_BUF_TYPE_VIDEO_CAPTURE && (fake.config.caps & V4L2_CAP_VIDEO_CAPTURE);
}

/* Another handle owns the queue (or another process, with FAKE_CAMERA_BUSY). */
static bool owned_by_other(const struct handle *handle)
{
	return fake.queue.owner >= 0 && fake.queue.owner != handle_index(handle);
}

/* ---- frames ---- */

/* sizeimage of the current format as the driver says it: raw frames maybe padded. */
static uint32_t driver_sizeimage(void)
{
	uint32_t size = fake_camera_sizeimage(fake.pixelformat, fake.width, fake.height);
	return fake.pixelformat == V4L2_PIX_FMT_MJPEG ? size : size + fake.config.sizeimage_extra;
}

static uint64_t interval_ns(void)
{
	return 1000000000u / fake.rate;
}

static void produce(struct buffer *buffer, uint64_t k)
{
	struct config *c = &fake.config;
	buffer->sequence = (uint32_t)k;
	/* The end-of-frame time, rounded to microseconds as a timeval carries it. */
	buffer->timestamp_ns = (fake.queue.start_ns + (k + 1) * interval_ns()) / 1000u * 1000u;
	buffer->flags = 0;
	uint32_t size = driver_sizeimage();
	if (c->error_every && (k + 1) % c->error_every == 0) {
		/* A transfer error: half a frame, then garbage. */
		memset(buffer->memory, 0xEE, buffer->length);
		buffer->flags = V4L2_BUF_FLAG_ERROR;
		buffer->bytesused = size / 2;
		return;
	}
	if (fake.pixelformat == V4L2_PIX_FMT_MJPEG) {
		size_t written =
		    fake_camera_jpeg(fake.width, fake.height, k, buffer->memory, buffer->length);
		buffer->bytesused = (uint32_t)written;
		if (!written)
			buffer->flags = V4L2_BUF_FLAG_ERROR;
		if (written && c->mjpeg_whole_buffer) {
			memset(buffer->memory + written, 0, buffer->length - written);
			buffer->bytesused = buffer->length;
		}
		return;
	}
	if (c->fill)
		fake_camera_fill(fake.pixelformat, fake.width, fake.height, k, buffer->memory);
	else
		for (int i = 0; i < 8; i++)
			buffer->memory[i] = (uint8_t)(k >> (8 * i));
	buffer->bytesused = size;
}

/*
 * Garbage over a whole buffer the driver owns: a program that reads or publishes a
 * queued buffer (one it gave to the driver and did not dequeue) sees wrong pixels.
 */
static void poison(struct buffer *buffer)
{
	if (fake.config.fill && buffer->memory)
		memset(buffer->memory, 0x5A, buffer->length);
}

/* Puts every frame completed by now into queued buffers, oldest first. */
static void run_camera(void)
{
	struct queue *q = &fake.queue;
	if (!q->streaming)
		return;
	uint64_t elapsed = now_ns() - q->start_ns;
	uint64_t completed = elapsed / interval_ns();
	uint64_t ticks_seen = q->ticks_seen;
	while (q->next_frame < completed) {
		if (q->queued == 0) {
			/* No buffer to put them in: these frames are lost. */
			q->next_frame = completed;
			break;
		}
		uint64_t k = q->next_frame++;
		if (fake.config.drop_every && (k + 1) % fake.config.drop_every == 0)
			continue;
		uint32_t index = q->order[0];
		memmove(q->order, q->order + 1, --q->queued * sizeof(q->order[0]));
		struct buffer *buffer = &q->buffers[index];
		produce(buffer, k);
		buffer->state = BUFFER_DONE;
		q->done_order[q->done++] = index;
	}
	if (q->next_frame != ticks_seen) {
		/* A frame period went by: the DMA engine is writing queued buffers. */
		q->ticks_seen = q->next_frame;
		for (uint32_t i = 0; i < q->queued; i++)
			poison(&q->buffers[q->order[i]]);
	}
}

/* Makes the handle's fd readable when DQBUF has something to say. */
static void schedule_wakeup(struct handle *handle)
{
	struct queue *q = &fake.queue;
	struct itimerspec when = { 0 };
	int flags = 0;
	if (gone(handle) || q->done > 0) {
		when.it_value.tv_nsec = 1;
	} else if (q->streaming) {
		uint64_t due = q->start_ns + (q->next_frame + 1) * interval_ns();
		when.it_value.tv_sec = (time_t)(due / 1000000000u);
		when.it_value.tv_nsec = (long)(due % 1000000000u);
		flags = TFD_TIMER_ABSTIME;
	}
	timerfd_settime(handle->fd, flags, &when, NULL);
}

static void describe_buffer(uint32_t index, struct v4l2_buffer *out)
{
	struct queue *q = &fake.queue;
	struct buffer *buffer = &q->buffers[index];
	uint32_t type = out->type;
	memset(out, 0, sizeof(*out));
	out->index = index;
	out->type = type;
	out->memory = q->memory;
	out->field = V4L2_FIELD_NONE;
	out->length = buffer->length;
	out->flags = V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC | V4L2_BUF_FLAG_TSTAMP_SRC_EOF;
	if (buffer->mappings)
		out->flags |= V4L2_BUF_FLAG_MAPPED;
	if (buffer->state == BUFFER_QUEUED)
		out->flags |= V4L2_BUF_FLAG_QUEUED;
	if (buffer->state == BUFFER_DONE)
		out->flags |= V4L2_BUF_FLAG_DONE;
	if (q->memory == V4L2_MEMORY_MMAP)
		out->m.offset = buffer->offset;
	else
		out->m.userptr = (unsigned long)buffer->memory;
}

static int request_buffers(struct handle *handle, struct v4l2_requestbuffers *request)
{
	struct queue *q = &fake.queue;
	if (!capture_type(request->type))
		return fail(EINVAL);
	/* libv4l2.c, VIDIOC_REQBUFS with a converter: "IMPROVEME (maybe?) add support
	 * for userptr's?" - anything but MMAP is EINVAL before the driver sees it. */
	if (handle->converting && request->memory != V4L2_MEMORY_MMAP)
		return fail(EINVAL);
	if (request->memory != V4L2_MEMORY_MMAP &&
	    !(request->memory == V4L2_MEMORY_USERPTR && fake.config.userptr))
		return fail(EINVAL);
	if (owned_by_other(handle) || q->streaming)
		return fail(EBUSY);
	/* Older kernels refuse to free buffers the program still has mapped. */
	if (q->count && any_mapped())
		return fail(EBUSY);
	free_buffers();
	memset(request->reserved, 0, sizeof(request->reserved));
	request->capabilities =
	    V4L2_BUF_CAP_SUPPORTS_MMAP | (fake.config.userptr ? V4L2_BUF_CAP_SUPPORTS_USERPTR : 0);
	if (request->count == 0) {
		q->owner = -1;
		return 0;
	}
	uint32_t count = request->count;
	if (count < fake.config.min_buffers)
		count = fake.config.min_buffers; /* drivers raise the count to what they need */
	if (count > fake.config.max_buffers)
		count = fake.config.max_buffers; /* or lower it to what they can give */
	uint32_t size = driver_sizeimage();
	uint32_t length = (size + PAGE - 1) / PAGE * PAGE;
	if (request->memory == V4L2_MEMORY_MMAP) {
		q->pool_size = (size_t)length * count;
		q->memfd = memfd_create("fake-camera", MFD_CLOEXEC);
		if (q->memfd < 0 || ftruncate(q->memfd, (off_t)q->pool_size) < 0)
			goto error;
		q->pool = mmap(NULL, q->pool_size, PROT_READ | PROT_WRITE, MAP_SHARED, q->memfd, 0);
		if (q->pool == MAP_FAILED) {
			q->pool = NULL;
			goto error;
		}
		for (uint32_t i = 0; i < count; i++) {
			q->buffers[i].memory = q->pool + (size_t)i * length;
			q->buffers[i].length = length;
			q->buffers[i].offset = i * length;
		}
	}
	q->memory = request->memory;
	q->count = count;
	q->allocation = ++fake.allocations;
	q->owner = handle_index(handle);
	request->count = count;
	return 0;
error:
	free_buffers();
	return fail(ENOMEM);
}

static int check_buffer(struct handle *handle, const struct v4l2_buffer *buffer)
{
	struct queue *q = &fake.queue;
	if (!capture_type(buffer->type))
		return fail(EINVAL);
	if (owned_by_other(handle))
		return fail(EBUSY);
	if (q->count == 0 || buffer->index >= q->count || buffer->memory != q->memory)
		return fail(EINVAL);
	return 0;
}

static int queue_buffer(struct handle *handle, struct v4l2_buffer *request)
{
	struct queue *q = &fake.queue;
	if (check_buffer(handle, request) < 0)
		return -1;
	struct buffer *buffer = &q->buffers[request->index];
	if (buffer->state != BUFFER_DEQUEUED)
		return fail(EINVAL);
	if (q->memory == V4L2_MEMORY_USERPTR) {
		uint32_t size = driver_sizeimage();
		if (request->m.userptr == 0 || request->length < size)
			return fail(EINVAL);
		/* The kernel pins the pages: they must be mapped. */
		uintptr_t start = request->m.userptr & ~(uintptr_t)(PAGE - 1);
		size_t span = request->m.userptr + request->length - start;
		unsigned char *vector = malloc((span + PAGE - 1) / PAGE);
		if (!vector)
			return fail(ENOMEM);
		int mapped = mincore((void *)start, span, vector); /* ENOMEM for any hole */
		free(vector);
		if (mapped < 0)
			return fail(EFAULT);
		/* vb2-dma-contig drivers take only memory that is contiguous in physical
		 * memory, which no process's pages are: they refuse it here. */
		if (fake.config.userptr_refused_at == (int)VIDIOC_QBUF)
			return fail(EFAULT);
		buffer->memory = (uint8_t *)request->m.userptr;
		buffer->length = request->length;
	}
	run_camera(); /* frames that completed before this buffer was queued are not its */
	poison(buffer);
	buffer->state = BUFFER_QUEUED;
	q->order[q->queued++] = request->index;
	describe_buffer(request->index, request);
	if (q->streaming)
		schedule_wakeup(handle);
	return 0;
}

static int dequeue_buffer(struct handle *handle, struct v4l2_buffer *request)
{
	struct queue *q = &fake.queue;
	if (!capture_type(request->type))
		return fail(EINVAL);
	if (owned_by_other(handle))
		return fail(EBUSY);
	if (q->count == 0 || request->memory != q->memory || !q->streaming)
		return fail(EINVAL);
	fake.dqbuf_calls++;
	struct config *c = &fake.config;
	if (c->eintr_every && fake.dqbuf_calls % c->eintr_every == 0)
		return fail(EINTR);
	run_camera();
	if (c->eagain_every && fake.dqbuf_calls % c->eagain_every == 0) {
		schedule_wakeup(handle);
		return fail(EAGAIN);
	}
	while (q->done == 0) {
		if (handle->nonblocking) {
			schedule_wakeup(handle);
			return fail(EAGAIN);
		}
		uint64_t due = q->start_ns + (q->next_frame + 1) * interval_ns();
		struct timespec until = { (time_t)(due / 1000000000u), (long)(due % 1000000000u) };
		int result = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
		if (result == EINTR)
			return fail(EINTR);
		run_camera();
	}
	uint32_t index = q->done_order[0];
	memmove(q->done_order, q->done_order + 1, --q->done * sizeof(q->done_order[0]));
	struct buffer *buffer = &q->buffers[index];
	buffer->state = BUFFER_DEQUEUED;
	describe_buffer(index, request);
	request->flags |= buffer->flags;
	request->bytesused = buffer->bytesused;
	request->sequence = buffer->sequence;
	request->timestamp.tv_sec = (time_t)(buffer->timestamp_ns / 1000000000u);
	request->timestamp.tv_usec = (suseconds_t)(buffer->timestamp_ns % 1000000000u / 1000u);
	fake.frames_dequeued++;
	update_plug_state();
	schedule_wakeup(handle);
	return 0;
}

static int stream_on(struct handle *handle, const int *type)
{
	struct queue *q = &fake.queue;
	if (!capture_type((uint32_t)*type))
		return fail(EINVAL);
	if (owned_by_other(handle))
		return fail(EBUSY);
	if (q->count == 0)
		return fail(EINVAL);
	if (q->streaming)
		return 0;
	if (fake.config.streamon_error)
		return fail(fake.config.streamon_error);
	if (q->memory == V4L2_MEMORY_USERPTR &&
	    fake.config.userptr_refused_at == (int)VIDIOC_STREAMON)
		return fail(EINVAL); /* as drivers that check the memory only when they start */
	q->streaming = true;
	q->start_ns = now_ns();
	q->next_frame = 0;
	schedule_wakeup(handle);
	return 0;
}

static int enum_frame_sizes(struct v4l2_frmsizeenum *sizes)
{
	if (!offers(sizes->pixel_format) || sizes->index >= fake.config.size_count)
		return fail(EINVAL);
	sizes->type = V4L2_FRMSIZE_TYPE_DISCRETE;
	sizes->discrete.width = fake.config.widths[sizes->index];
	sizes->discrete.height = fake.config.heights[sizes->index];
	memset(sizes->reserved, 0, sizeof(sizes->reserved));
	return 0;
}

static int enum_frame_intervals(struct v4l2_frmivalenum *intervals)
{
	if (!offers(intervals->pixel_format) || !offers_size(intervals->width, intervals->height) ||
	    intervals->index >= fake.config.rate_count)
		return fail(EINVAL);
	intervals->type = V4L2_FRMIVAL_TYPE_DISCRETE;
	intervals->discrete.numerator = 1;
	intervals->discrete.denominator = fake.config.rates[intervals->index];
	memset(intervals->reserved, 0, sizeof(intervals->reserved));
	return 0;
}

static void describe_parm(struct v4l2_streamparm *parm)
{
	uint32_t type = parm->type;
	memset(parm, 0, sizeof(*parm));
	parm->type = type;
	parm->parm.capture.capability = V4L2_CAP_TIMEPERFRAME;
	parm->parm.capture.timeperframe.numerator = 1;
	parm->parm.capture.timeperframe.denominator = fake.rate;
	parm->parm.capture.readbuffers = 0;
}

static int set_parm(struct handle *handle, struct v4l2_streamparm *parm)
{
	if (!capture_type(parm->type))
		return fail(EINVAL);
	if (owned_by_other(handle) || fake.queue.streaming)
		return fail(EBUSY);
	struct v4l2_fract asked = parm->parm.capture.timeperframe;
	if (asked.numerator && asked.denominator) {
		/* The offered rate nearest to the asked one. */
		double want = (double)asked.denominator / asked.numerator;
		uint32_t best = fake.config.rates[0];
		for (uint32_t i = 0; i < fake.config.rate_count; i++) {
			double d = fake.config.rates[i] - want, b = best - want;
			if ((d < 0 ? -d : d) < (b < 0 ? -b : b))
				best = fake.config.rates[i];
		}
		fake.rate = best;
	}
	describe_parm(parm);
	return 0;
}

static int device_ioctl(struct handle *handle, unsigned long request, void *argument)
{
	if (gone(handle))
		return fail(ENODEV);
	if (!argument)
		return fail(EFAULT);
	switch (request) {
	case VIDIOC_QUERYCAP: {
		struct v4l2_capability *cap = argument;
		memset(cap, 0, sizeof(*cap));
		snprintf((char *)cap->driver, sizeof(cap->driver), "fake-camera");
		snprintf((char *)cap->card, sizeof(cap->card), "vshm Fake Camera");
		snprintf((char *)cap->bus_info, sizeof(cap->bus_info), "platform:fake-camera");
		cap->version = 0x060100;
		cap->device_caps = fake.config.caps | V4L2_CAP_STREAMING;
		cap->capabilities = cap->device_caps | V4L2_CAP_DEVICE_CAPS;
		return 0;
	}
	case VIDIOC_ENUM_FMT: {
		struct v4l2_fmtdesc *desc = argument;
		if (!capture_type(desc->type) || desc->index >= fake.config.format_count)
			return fail(EINVAL);
		uint32_t index = desc->index, type = desc->type;
		memset(desc, 0, sizeof(*desc));
		desc->index = index;
		desc->type = type;
		desc->pixelformat = fake.config.formats[index];
		desc->flags =
		    desc->pixelformat == V4L2_PIX_FMT_MJPEG ? V4L2_FMT_FLAG_COMPRESSED : 0;
		snprintf((char *)desc->description, sizeof(desc->description), "%s",
		         description_of(desc->pixelformat));
		return 0;
	}
	case VIDIOC_ENUM_FRAMESIZES:
		return enum_frame_sizes(argument);
	case VIDIOC_ENUM_FRAMEINTERVALS:
		return enum_frame_intervals(argument);
	case VIDIOC_G_FMT: {
		struct v4l2_format *format = argument;
		if (!capture_type(format->type))
			return fail(EINVAL);
		current_format(format);
		return 0;
	}
	case VIDIOC_TRY_FMT:
	case VIDIOC_S_FMT: {
		struct v4l2_format *format = argument;
		if (!capture_type(format->type))
			return fail(EINVAL);
		if (request == VIDIOC_S_FMT &&
		    (owned_by_other(handle) || fake.queue.count || fake.queue.streaming))
			return fail(EBUSY);
		adjust_format(&format->fmt.pix);
		if (request == VIDIOC_S_FMT) {
			fake.pixelformat = format->fmt.pix.pixelformat;
			fake.width = format->fmt.pix.width;
			fake.height = format->fmt.pix.height;
		}
		return 0;
	}
	case VIDIOC_G_PARM: {
		struct v4l2_streamparm *parm = argument;
		if (!capture_type(parm->type))
			return fail(EINVAL);
		describe_parm(parm);
		return 0;
	}
	case VIDIOC_S_PARM:
		return set_parm(handle, argument);
	case VIDIOC_REQBUFS:
		return request_buffers(handle, argument);
	case VIDIOC_QUERYBUF: {
		struct v4l2_buffer *buffer = argument;
		if (!capture_type(buffer->type) || buffer->index >= fake.queue.count)
			return fail(EINVAL);
		describe_buffer(buffer->index, buffer);
		return 0;
	}
	case VIDIOC_QBUF:
		return queue_buffer(handle, argument);
	case VIDIOC_DQBUF:
		return dequeue_buffer(handle, argument);
	case VIDIOC_STREAMON:
		return stream_on(handle, argument);
	case VIDIOC_STREAMOFF: {
		const int *type = argument;
		if (!capture_type((uint32_t)*type))
			return fail(EINVAL);
		if (owned_by_other(handle))
			return fail(EBUSY);
		stop_streaming(handle);
		return 0;
	}
	default:
		return fail(ENOTTY);
	}
}

int v4l2_ioctl(int fd, unsigned long int request, ...)
{
	va_list arguments;
	va_start(arguments, request);
	void *argument = va_arg(arguments, void *);
	va_end(arguments);
	struct handle *handle = handle_of(fd);
	if (!handle)
		return ioctl(fd, request, argument);
	return device_ioctl(handle, request, argument);
}

void *v4l2_mmap(void *start, size_t length, int prot, int flags, int fd, int64_t offset)
{
	struct handle *handle = handle_of(fd);
	if (!handle)
		return mmap(start, length, prot, flags, fd, (off_t)offset);
	struct queue *q = &fake.queue;
	if (gone(handle)) {
		errno = ENODEV;
		return MAP_FAILED;
	}
	if (!(flags & MAP_SHARED) || q->memory != V4L2_MEMORY_MMAP || owned_by_other(handle)) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	for (uint32_t i = 0; i < q->count; i++) {
		struct buffer *buffer = &q->buffers[i];
		if ((int64_t)buffer->offset != offset)
			continue;
		if (length == 0 || length > buffer->length)
			break;
		struct mapping *slot = NULL;
		for (int m = 0; m < MAX_MAPPINGS && !slot; m++)
			if (!fake.mappings[m].used)
				slot = &fake.mappings[m];
		if (!slot) {
			errno = ENOMEM;
			return MAP_FAILED;
		}
		/* An inaccessible page right after the buffer, so that a program reading
		 * past the end of a buffer (past bytesused = length) faults at once. */
		size_t rounded = (length + PAGE - 1) / PAGE * PAGE;
		uint8_t *area = mmap(start, rounded + PAGE, PROT_NONE,
		                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (area == MAP_FAILED)
			return MAP_FAILED;
		void *address =
		    mmap(area, length, prot, flags | MAP_FIXED, q->memfd, (off_t)offset);
		if (address == MAP_FAILED) {
			munmap(area, rounded + PAGE);
			return MAP_FAILED;
		}
		*slot = (struct mapping){ .address = address,
			                  .length = length,
			                  .allocation = q->allocation,
			                  .buffer = i,
			                  .used = true };
		buffer->mappings++;
		return address;
	}
	errno = EINVAL;
	return MAP_FAILED;
}

int v4l2_munmap(void *start, size_t length)
{
	for (int m = 0; m < MAX_MAPPINGS; m++) {
		struct mapping *mapping = &fake.mappings[m];
		if (!mapping->used || mapping->address != start)
			continue;
		if (mapping->allocation == fake.queue.allocation &&
		    mapping->buffer < fake.queue.count &&
		    fake.queue.buffers[mapping->buffer].mappings)
			fake.queue.buffers[mapping->buffer].mappings--;
		mapping->used = false;
		if (length == mapping->length) /* the guard page goes with it */
			length = (length + PAGE - 1) / PAGE * PAGE + PAGE;
		break;
	}
	return munmap(start, length);
}
