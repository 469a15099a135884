/*
 * The fake camera refuses what the kernel refuses, so that the capture cannot pass
 * against it while misusing V4L2: each case below is an answer of videobuf2 or of a
 * driver (EINVAL, EBUSY, ENODEV), and the frames it delivers are numbered, stamped and
 * filled as documented in fake-camera.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake-camera.h"
#include "test-util.h"

#include <libv4l2.h>

#define DEVICE "/dev/video-fake-test"
#define TYPE   V4L2_BUF_TYPE_VIDEO_CAPTURE

static int setup(void **state)
{
	(void)state;
	setenv("FAKE_CAMERA_DEVICE", DEVICE, 1);
	setenv("FAKE_CAMERA_FORMATS", "YUYV,MJPG", 1);
	setenv("FAKE_CAMERA_SIZES", "640x480,320x240", 1);
	setenv("FAKE_CAMERA_FPS", "100,30", 1);
	unsetenv("FAKE_CAMERA_UNPLUG_AFTER");
	unsetenv("FAKE_CAMERA_REPLUG_MS");
	unsetenv("FAKE_CAMERA_DROP_EVERY");
	unsetenv("FAKE_CAMERA_ERROR_EVERY");
	fake_camera_reset();
	return 0;
}

/* errno of a failing call, or 0 if it succeeded. */
static int error_of(int result)
{
	return result < 0 ? errno : 0;
}

static int open_camera(void)
{
	int fd = v4l2_open(DEVICE, O_RDWR | O_NONBLOCK);
	assert_true(fd >= 0);
	return fd;
}

/* As a program asking for raw access: open(), then libv4l2 without its converter. */
static int open_camera_direct(void)
{
	int fd = open(DEVICE, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(v4l2_fd_open(fd, V4L2_DISABLE_CONVERSION), fd);
	return fd;
}

static int request(int fd, uint32_t memory, uint32_t count)
{
	struct v4l2_requestbuffers r = { .count = count, .type = TYPE, .memory = memory };
	int result = v4l2_ioctl(fd, VIDIOC_REQBUFS, &r);
	return result < 0 ? -errno : (int)r.count;
}

static int qbuf(int fd, uint32_t index)
{
	struct v4l2_buffer b = { .index = index, .type = TYPE, .memory = V4L2_MEMORY_MMAP };
	return error_of(v4l2_ioctl(fd, VIDIOC_QBUF, &b));
}

static void queue_misuse_is_refused(void **state)
{
	(void)state;
	int fd = open_camera();
	/* QBUF before REQBUFS. */
	assert_int_equal(qbuf(fd, 0), EINVAL);
	/* STREAMON without buffers, DQBUF without streaming. */
	int type = TYPE;
	assert_int_equal(error_of(v4l2_ioctl(fd, VIDIOC_STREAMON, &type)), EINVAL);
	/* Unsupported memory and buffer types. */
	assert_int_equal(request(fd, V4L2_MEMORY_DMABUF, 4), -EINVAL);
	struct v4l2_requestbuffers r = { .count = 4,
		                         .type = V4L2_BUF_TYPE_VIDEO_OUTPUT,
		                         .memory = V4L2_MEMORY_MMAP };
	assert_int_equal(error_of(v4l2_ioctl(fd, VIDIOC_REQBUFS, &r)), EINVAL);

	assert_int_equal(request(fd, V4L2_MEMORY_MMAP, 3), 3);
	struct v4l2_buffer b = { .type = TYPE, .memory = V4L2_MEMORY_MMAP };
	assert_int_equal(error_of(v4l2_ioctl(fd, VIDIOC_DQBUF, &b)), EINVAL); /* not streaming */
	assert_int_equal(qbuf(fd, 3), EINVAL);                                /* unknown index */
	assert_int_equal(qbuf(fd, 0), 0);
	assert_int_equal(qbuf(fd, 0), EINVAL); /* queued twice */
	/* The wrong memory type for this queue. */
	b = (struct v4l2_buffer){ .index = 1, .type = TYPE, .memory = V4L2_MEMORY_USERPTR };
	assert_int_equal(error_of(v4l2_ioctl(fd, VIDIOC_QBUF, &b)), EINVAL);

	/* Format and buffer changes while buffers exist or stream. */
	struct v4l2_format format = { .type = TYPE };
	assert_int_equal(v4l2_ioctl(fd, VIDIOC_G_FMT, &format), 0);
	assert_int_equal(error_of(v4l2_ioctl(fd, VIDIOC_S_FMT, &format)), EBUSY);
	assert_int_equal(error_of(v4l2_ioctl(fd, VIDIOC_TRY_FMT, &format)), 0);
	assert_int_equal(v4l2_ioctl(fd, VIDIOC_STREAMON, &type), 0);
	assert_int_equal(request(fd, V4L2_MEMORY_MMAP, 2), -EBUSY);
	struct v4l2_streamparm parm = { .type = TYPE };
	assert_int_equal(error_of(v4l2_ioctl(fd, VIDIOC_S_PARM, &parm)), EBUSY);

	/* A second handle may look but not touch the queue. */
	int other = open_camera();
	assert_int_equal(qbuf(other, 1), EBUSY);
	assert_int_equal(request(other, V4L2_MEMORY_MMAP, 2), -EBUSY);
	assert_int_equal(error_of(v4l2_ioctl(other, VIDIOC_G_FMT, &format)), 0);
	assert_int_equal(v4l2_close(other), 0);

	assert_int_equal(v4l2_ioctl(fd, VIDIOC_STREAMOFF, &type), 0);
	/* STREAMOFF took every buffer back: queueing them again is fine. */
	assert_int_equal(qbuf(fd, 0), 0);
	assert_int_equal(request(fd, V4L2_MEMORY_MMAP, 0), 0);
	assert_int_equal(error_of(v4l2_ioctl(fd, VIDIOC_S_FMT, &format)), 0);
	assert_int_equal(error_of(v4l2_ioctl(fd, 0xdeadbeef, &format)), ENOTTY);
	assert_int_equal(v4l2_close(fd), 0);
}

static void mappings_follow_the_rules(void **state)
{
	(void)state;
	int fd = open_camera();
	assert_int_equal(request(fd, V4L2_MEMORY_MMAP, 2), 2);
	struct v4l2_buffer b = { .index = 1, .type = TYPE, .memory = V4L2_MEMORY_MMAP };
	assert_int_equal(v4l2_ioctl(fd, VIDIOC_QUERYBUF, &b), 0);
	assert_int_equal(
	    v4l2_mmap(NULL, b.length, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, b.m.offset),
	    MAP_FAILED); /* MAP_SHARED only */
	assert_int_equal(errno, EINVAL);
	assert_int_equal(v4l2_mmap(NULL, b.length, PROT_READ, MAP_SHARED, fd, b.m.offset + 4096),
	                 MAP_FAILED); /* not a buffer's offset */
	assert_int_equal(v4l2_mmap(NULL, b.length * 2, PROT_READ, MAP_SHARED, fd, b.m.offset),
	                 MAP_FAILED); /* longer than the buffer */
	void *start = v4l2_mmap(NULL, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, b.m.offset);
	assert_true(start != MAP_FAILED);
	assert_int_equal(v4l2_ioctl(fd, VIDIOC_QUERYBUF, &b), 0);
	assert_true(b.flags & V4L2_BUF_FLAG_MAPPED);
	/* Buffers still mapped cannot be freed. */
	assert_int_equal(request(fd, V4L2_MEMORY_MMAP, 0), -EBUSY);
	assert_int_equal(v4l2_munmap(start, b.length), 0);
	assert_int_equal(request(fd, V4L2_MEMORY_MMAP, 0), 0);

	/* USERPTR (on an fd libv4l2 does not convert for): too short or unmapped memory is
	 * refused. */
	assert_int_equal(v4l2_close(fd), 0);
	fd = open_camera_direct();
	assert_int_equal(request(fd, V4L2_MEMORY_USERPTR, 2), 2);
	uint32_t size = fake_camera_sizeimage(V4L2_PIX_FMT_YUYV, 640, 480);
	uint8_t *memory =
	    mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(memory != MAP_FAILED);
	struct v4l2_buffer u = { .index = 0,
		                 .type = TYPE,
		                 .memory = V4L2_MEMORY_USERPTR,
		                 .m.userptr = (unsigned long)memory,
		                 .length = size - 1 };
	assert_int_equal(error_of(v4l2_ioctl(fd, VIDIOC_QBUF, &u)), EINVAL);
	u.length = size;
	u.m.userptr = 0;
	assert_int_equal(error_of(v4l2_ioctl(fd, VIDIOC_QBUF, &u)), EINVAL);
	munmap(memory + 4096, 4096);
	u.m.userptr = (unsigned long)memory;
	assert_int_equal(error_of(v4l2_ioctl(fd, VIDIOC_QBUF, &u)), EFAULT);
	munmap(memory, size);
	assert_int_equal(v4l2_close(fd), 0);
}

static void formats_sizes_rates(void **state)
{
	(void)state;
	int fd = open_camera();
	struct v4l2_capability cap;
	assert_int_equal(v4l2_ioctl(fd, VIDIOC_QUERYCAP, &cap), 0);
	assert_true(cap.device_caps & V4L2_CAP_VIDEO_CAPTURE);
	assert_true(cap.device_caps & V4L2_CAP_STREAMING);
	struct v4l2_fmtdesc desc = { .index = 1, .type = TYPE };
	assert_int_equal(v4l2_ioctl(fd, VIDIOC_ENUM_FMT, &desc), 0);
	assert_int_equal(desc.pixelformat, V4L2_PIX_FMT_MJPEG);
	assert_true(desc.flags & V4L2_FMT_FLAG_COMPRESSED);
	desc.index = 2;
	assert_int_equal(error_of(v4l2_ioctl(fd, VIDIOC_ENUM_FMT, &desc)), EINVAL);
	struct v4l2_frmsizeenum size = { .index = 1, .pixel_format = V4L2_PIX_FMT_YUYV };
	assert_int_equal(v4l2_ioctl(fd, VIDIOC_ENUM_FRAMESIZES, &size), 0);
	assert_int_equal(size.discrete.width, 320);
	size.pixel_format = V4L2_PIX_FMT_NV12;
	assert_int_equal(error_of(v4l2_ioctl(fd, VIDIOC_ENUM_FRAMESIZES, &size)), EINVAL);
	struct v4l2_frmivalenum ival = {
		.index = 0, .pixel_format = V4L2_PIX_FMT_YUYV, .width = 320, .height = 240
	};
	assert_int_equal(v4l2_ioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, &ival), 0);
	assert_int_equal(ival.discrete.denominator, 100);
	ival.width = 333;
	assert_int_equal(error_of(v4l2_ioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, &ival)), EINVAL);

	/* Unknown format and size: the driver substitutes, as the spec says. */
	struct v4l2_format format = { .type = TYPE };
	format.fmt.pix.pixelformat = V4L2_PIX_FMT_NV12;
	format.fmt.pix.width = 300;
	format.fmt.pix.height = 200;
	assert_int_equal(v4l2_ioctl(fd, VIDIOC_S_FMT, &format), 0);
	assert_int_equal(format.fmt.pix.pixelformat, V4L2_PIX_FMT_YUYV);
	assert_int_equal(format.fmt.pix.width, 320);
	assert_int_equal(format.fmt.pix.bytesperline, 640);
	assert_int_equal(format.fmt.pix.sizeimage, 640 * 240);
	struct v4l2_streamparm parm = { .type = TYPE };
	parm.parm.capture.timeperframe = (struct v4l2_fract){ 1, 40 };
	assert_int_equal(v4l2_ioctl(fd, VIDIOC_S_PARM, &parm), 0);
	assert_int_equal(parm.parm.capture.timeperframe.denominator, 30);
	assert_int_equal(v4l2_close(fd), 0);
}

/* Streams at 100 fps; returns frames dequeued, checking what each holds. */
static void frames_are_numbered_stamped_and_filled(void **state)
{
	(void)state;
	setenv("FAKE_CAMERA_DROP_EVERY", "5", 1);
	setenv("FAKE_CAMERA_ERROR_EVERY", "7", 1);
	fake_camera_reset();
	int fd = open_camera();
	struct v4l2_format format = { .type = TYPE };
	format.fmt.pix.pixelformat = V4L2_PIX_FMT_YUYV;
	format.fmt.pix.width = 320;
	format.fmt.pix.height = 240;
	assert_int_equal(v4l2_ioctl(fd, VIDIOC_S_FMT, &format), 0);
	assert_int_equal(request(fd, V4L2_MEMORY_MMAP, 4), 4);
	uint8_t *maps[4];
	size_t length = 0;
	for (uint32_t i = 0; i < 4; i++) {
		struct v4l2_buffer b = { .index = i, .type = TYPE, .memory = V4L2_MEMORY_MMAP };
		assert_int_equal(v4l2_ioctl(fd, VIDIOC_QUERYBUF, &b), 0);
		length = b.length;
		maps[i] =
		    v4l2_mmap(NULL, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, b.m.offset);
		assert_true(maps[i] != MAP_FAILED);
		assert_int_equal(qbuf(fd, i), 0);
	}
	int type = TYPE;
	assert_int_equal(v4l2_ioctl(fd, VIDIOC_STREAMON, &type), 0);
	uint32_t size = fake_camera_sizeimage(V4L2_PIX_FMT_YUYV, 320, 240);
	uint8_t *expected = malloc(size);
	uint64_t start = vshm_now_ns();
	uint32_t frames = 0, errors = 0, last = UINT32_MAX, gaps = 0;
	while (frames + errors < 30) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		assert_int_equal(poll(&p, 1, 1000), 1); /* a frame never takes a second */
		struct v4l2_buffer b = { .type = TYPE, .memory = V4L2_MEMORY_MMAP };
		if (v4l2_ioctl(fd, VIDIOC_DQBUF, &b) < 0) {
			assert_int_equal(errno, EAGAIN);
			continue;
		}
		assert_true(b.flags & V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC);
		uint64_t stamp = (uint64_t)b.timestamp.tv_sec * 1000000000u +
		                 (uint64_t)b.timestamp.tv_usec * 1000u;
		assert_true(stamp >= start && stamp <= vshm_now_ns());
		if (last != UINT32_MAX && b.sequence != last + 1)
			gaps += b.sequence - last - 1;
		last = b.sequence;
		if ((b.sequence + 1) % 7 == 0) {
			assert_true(b.flags & V4L2_BUF_FLAG_ERROR);
			errors++;
		} else {
			assert_false(b.flags & V4L2_BUF_FLAG_ERROR);
			assert_int_equal(b.bytesused, size);
			fake_camera_fill(V4L2_PIX_FMT_YUYV, 320, 240, b.sequence, expected);
			assert_memory_equal(maps[b.index], expected, size);
			frames++;
		}
		assert_int_not_equal((b.sequence + 1) % 5, 0); /* dropped ones never come */
		assert_int_equal(qbuf(fd, b.index), 0);
	}
	assert_true(gaps >= 5);
	/* Closing with mappings is allowed; the memory stays until unmapped: a frame
	 * dequeued and kept is still there, whole, after close. */
	struct v4l2_buffer kept = { .type = TYPE, .memory = V4L2_MEMORY_MMAP };
	do {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		assert_int_equal(poll(&p, 1, 1000), 1);
		if (v4l2_ioctl(fd, VIDIOC_DQBUF, &kept) < 0) {
			assert_int_equal(errno, EAGAIN);
			continue;
		}
		if (kept.flags & V4L2_BUF_FLAG_ERROR)
			assert_int_equal(qbuf(fd, kept.index), 0);
	} while (kept.bytesused != size || (kept.flags & V4L2_BUF_FLAG_ERROR));
	assert_int_equal(v4l2_close(fd), 0);
	fake_camera_fill(V4L2_PIX_FMT_YUYV, 320, 240, kept.sequence, expected);
	assert_memory_equal(maps[kept.index], expected, size);
	free(expected);
	for (int i = 0; i < 4; i++)
		assert_int_equal(v4l2_munmap(maps[i], length), 0);
	unsetenv("FAKE_CAMERA_DROP_EVERY");
	unsetenv("FAKE_CAMERA_ERROR_EVERY");
}

/* libv4l2 refuses USERPTR on the fds it converts for; the driver takes it on the others. */
static void only_unconverted_fds_take_userptr(void **state)
{
	(void)state;
	int fd = open_camera(); /* v4l2_open(): libv4l2's conversion on */
	assert_int_equal(request(fd, V4L2_MEMORY_USERPTR, 4), -EINVAL);
	assert_int_equal(request(fd, V4L2_MEMORY_MMAP, 4), 4);
	assert_int_equal(request(fd, V4L2_MEMORY_MMAP, 0), 0);
	assert_int_equal(v4l2_close(fd), 0);

	fd = open(DEVICE, O_RDWR | O_NONBLOCK);
	assert_true(fd >= 0);
	assert_int_equal(v4l2_fd_open(fd, 0), fd); /* conversion on, as v4l2_open() does */
	assert_int_equal(request(fd, V4L2_MEMORY_USERPTR, 4), -EINVAL);
	assert_int_equal(v4l2_close(fd), 0);

	fd = open_camera_direct();
	assert_int_equal(request(fd, V4L2_MEMORY_USERPTR, 4), 4);
	assert_int_equal(request(fd, V4L2_MEMORY_USERPTR, 0), 0);
	assert_int_equal(v4l2_close(fd), 0);

	/* The driver itself may still refuse it. */
	setenv("FAKE_CAMERA_USERPTR", "0", 1);
	fake_camera_reset();
	fd = open_camera_direct();
	assert_int_equal(request(fd, V4L2_MEMORY_USERPTR, 4), -EINVAL);
	assert_int_equal(v4l2_close(fd), 0);
	unsetenv("FAKE_CAMERA_USERPTR");

	/* Not the fake's path: a real file, which libv4l2 does not take. */
	fd = open("/dev/null", O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(v4l2_fd_open(fd, V4L2_DISABLE_CONVERSION), -1);
	assert_int_equal(close(fd), 0);
}

/* Drivers raise the buffer count to their minimum. */
static void minimum_buffer_count(void **state)
{
	(void)state;
	setenv("FAKE_CAMERA_MIN_BUFFERS", "6", 1);
	fake_camera_reset();
	int fd = open_camera_direct();
	assert_int_equal(request(fd, V4L2_MEMORY_USERPTR, 4), 6);
	assert_int_equal(request(fd, V4L2_MEMORY_USERPTR, 0), 0);
	assert_int_equal(request(fd, V4L2_MEMORY_MMAP, 8), 8);
	assert_int_equal(request(fd, V4L2_MEMORY_MMAP, 0), 0);
	assert_int_equal(v4l2_close(fd), 0);
	unsetenv("FAKE_CAMERA_MIN_BUFFERS");
}

/* Every buffer the driver holds is garbage, whole, not only the one being written. */
static void queued_buffers_are_garbage(void **state)
{
	(void)state;
	int fd = open_camera();
	assert_int_equal(request(fd, V4L2_MEMORY_MMAP, 4), 4);
	uint8_t *maps[4];
	size_t length = 0;
	for (uint32_t i = 0; i < 4; i++) {
		struct v4l2_buffer b = { .index = i, .type = TYPE, .memory = V4L2_MEMORY_MMAP };
		assert_int_equal(v4l2_ioctl(fd, VIDIOC_QUERYBUF, &b), 0);
		length = b.length;
		maps[i] =
		    v4l2_mmap(NULL, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, b.m.offset);
		assert_true(maps[i] != MAP_FAILED);
		memset(maps[i], 0x11, length); /* what a program might think is its data */
		assert_int_equal(qbuf(fd, i), 0);
	}
	int type = TYPE;
	assert_int_equal(v4l2_ioctl(fd, VIDIOC_STREAMON, &type), 0);
	uint32_t size = fake_camera_sizeimage(V4L2_PIX_FMT_YUYV, 640, 480);
	uint8_t *expected = malloc(size);
	assert_non_null(expected);
	for (int round = 0; round < 6; round++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		assert_int_equal(poll(&p, 1, 1000), 1);
		struct v4l2_buffer b = { .type = TYPE, .memory = V4L2_MEMORY_MMAP };
		if (v4l2_ioctl(fd, VIDIOC_DQBUF, &b) < 0) {
			assert_int_equal(errno, EAGAIN);
			continue;
		}
		/* Every other buffer is queued: none holds a frame or what was left in it. */
		for (uint32_t i = 0; i < 4; i++) {
			struct v4l2_buffer q = { .index = i,
				                 .type = TYPE,
				                 .memory = V4L2_MEMORY_MMAP };
			assert_int_equal(v4l2_ioctl(fd, VIDIOC_QUERYBUF, &q), 0);
			if (!(q.flags & V4L2_BUF_FLAG_QUEUED))
				continue;
			for (size_t at = 0; at < size; at += 997)
				assert_int_equal(maps[i][at], 0x5A);
			assert_int_equal(maps[i][size - 1], 0x5A);
		}
		/* The one dequeued holds its frame, and a program may write it... */
		fake_camera_fill(V4L2_PIX_FMT_YUYV, 640, 480, b.sequence, expected);
		assert_memory_equal(maps[b.index], expected, size);
		memset(maps[b.index], 0x22, size);
		/* ...but once queued again it is the driver's. */
		assert_int_equal(qbuf(fd, b.index), 0);
		assert_int_equal(maps[b.index][size - 1], 0x5A);
	}
	free(expected);
	assert_int_equal(v4l2_close(fd), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(v4l2_munmap(maps[i], length), 0);
}

static void unplug_and_replug(void **state)
{
	(void)state;
	setenv("FAKE_CAMERA_UNPLUG_AFTER", "3", 1);
	setenv("FAKE_CAMERA_REPLUG_MS", "200", 1);
	fake_camera_reset();
	int fd = open_camera();
	assert_int_equal(request(fd, V4L2_MEMORY_MMAP, 2), 2);
	assert_int_equal(qbuf(fd, 0), 0);
	assert_int_equal(qbuf(fd, 1), 0);
	int type = TYPE;
	assert_int_equal(v4l2_ioctl(fd, VIDIOC_STREAMON, &type), 0);
	int dequeued = 0, error = 0;
	while (!error) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		assert_int_equal(poll(&p, 1, 1000), 1);
		struct v4l2_buffer b = { .type = TYPE, .memory = V4L2_MEMORY_MMAP };
		if (v4l2_ioctl(fd, VIDIOC_DQBUF, &b) == 0) {
			dequeued++;
			if (qbuf(fd, b.index) != 0)
				error = errno;
		} else if (errno != EAGAIN) {
			error = errno;
		}
	}
	assert_int_equal(dequeued, 3);
	assert_int_equal(error, ENODEV);
	struct v4l2_format format = { .type = TYPE };
	assert_int_equal(error_of(v4l2_ioctl(fd, VIDIOC_G_FMT, &format)), ENODEV);
	assert_int_equal(v4l2_open(DEVICE, O_RDWR), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(v4l2_close(fd), 0);
	test_sleep_us(250000);
	fd = open_camera();
	assert_int_equal(v4l2_ioctl(fd, VIDIOC_G_FMT, &format), 0);
	assert_int_equal(v4l2_close(fd), 0);
	unsetenv("FAKE_CAMERA_UNPLUG_AFTER");
	unsetenv("FAKE_CAMERA_REPLUG_MS");
}

static void other_paths_are_real_files(void **state)
{
	(void)state;
	assert_int_equal(v4l2_open("/dev/video-that-does-not-exist", O_RDWR), -1);
	assert_int_equal(errno, ENOENT);
	int fd = v4l2_open("/dev/null", O_RDWR);
	assert_true(fd >= 0);
	struct v4l2_capability cap;
	assert_int_equal(error_of(v4l2_ioctl(fd, VIDIOC_QUERYCAP, &cap)), ENOTTY);
	assert_int_equal(v4l2_close(fd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(queue_misuse_is_refused, setup),
		cmocka_unit_test_setup(mappings_follow_the_rules, setup),
		cmocka_unit_test_setup(formats_sizes_rates, setup),
		cmocka_unit_test_setup(frames_are_numbered_stamped_and_filled, setup),
		cmocka_unit_test_setup(only_unconverted_fds_take_userptr, setup),
		cmocka_unit_test_setup(minimum_buffer_count, setup),
		cmocka_unit_test_setup(queued_buffers_are_garbage, setup),
		cmocka_unit_test_setup(unplug_and_replug, setup),
		cmocka_unit_test_setup(other_paths_are_real_files, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
