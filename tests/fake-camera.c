/*
 * The fake camera's file handles: libv4l2's entry points (v4l2_open, v4l2_fd_open,
 * v4l2_ioctl, v4l2_mmap, v4l2_munmap, v4l2_close) and open() of the device path.
 */
#include <errno.h>
#include <fcntl.h>
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/imgutils.h>
#include <libv4l2.h>
#include <limits.h>
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

#include "fake-camera-private.h"

/*
 * open() and open64() of the fake's device path are the fake's, so that a program can
 * open the device itself and hand the fd to v4l2_fd_open(), as with libv4l2 on a real
 * device; every other path goes to the kernel. They are defined under their symbol names
 * with asm labels because <fcntl.h> may rename open to open64 (_FILE_OFFSET_BITS=64).
 */
int fake_open(const char *file, int oflag, ...) __asm__("open");
int fake_open64(const char *file, int oflag, ...) __asm__("open64");

/*
 * The kernel's calls, for the fake's own memory and for every fd that is not the fake's.
 * They are system calls, not libc's functions: the preloaded fake puts its own in front
 * of libc's close(), ioctl(), mmap() and munmap() (fake-camera-kernel.c).
 */
int fake_real_close(int fd)
{
	return (int)syscall(SYS_close, fd);
}

int fake_real_ioctl(int fd, unsigned long request, void *argument)
{
	return (int)syscall(SYS_ioctl, fd, request, argument);
}

void *fake_real_mmap(void *start, size_t length, int prot, int flags, int fd, off_t offset)
{
	return (void *)syscall(SYS_mmap, start, length, prot, flags, fd, offset);
}

int fake_real_munmap(void *start, size_t length)
{
	return (int)syscall(SYS_munmap, start, length);
}

struct handle *fake_handle_of(int fd)
{
	if (fd < 0)
		return NULL;
	for (int i = 0; i < MAX_HANDLES; i++)
		if (fake.handles[i].used && fake.handles[i].fd == fd)
			return &fake.handles[i];
	return NULL;
}

int fake_handle_index(const struct handle *handle)
{
	return (int)(handle - fake.handles);
}

/* The device vanishes after unplug_after dequeued frames, and returns replug_ms later. */
void fake_update_plug_state(void)
{
	struct config *c = &fake.config;
	if (!fake.unplugged && !fake.unplug_done && c->unplug_after &&
	    fake.frames_dequeued >= c->unplug_after) {
		fake.unplugged = true;
		fake.unplug_done = true;
		fake.unplugged_ns = fake_now_ns();
	}
	if (fake.unplugged && c->replug_ms >= 0 &&
	    fake_now_ns() >= fake.unplugged_ns + (uint64_t)c->replug_ms * 1000000u) {
		/* A new device: the old queue, its buffers and handles are gone with the
		 * old one. Memory still mapped by the program stays valid, as in the kernel. */
		if (fake.queue.memfd >= 0)
			fake_real_close(fake.queue.memfd);
		if (fake.queue.pool)
			fake_real_munmap(fake.queue.pool, fake.queue.pool_size);
		fake.unplugged = false;
		fake.generation++;
		if (c->replug_format_count) {
			/* Another camera (or another mode of it) came back. */
			memcpy(c->formats, c->replug_formats, sizeof(c->formats));
			c->format_count = c->replug_format_count;
		}
		fake_reset_device();
	}
}

bool fake_gone(const struct handle *handle)
{
	fake_update_plug_state();
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
	fake_update_plug_state();
	if (fake.unplugged)
		return fake_fail(ENOENT);
	if (fake.config.open_error)
		return fake_fail(fake.config.open_error);
	struct handle *handle = NULL;
	for (int i = 0; i < MAX_HANDLES && !handle; i++)
		if (!fake.handles[i].used)
			handle = &fake.handles[i];
	if (!handle)
		return fake_fail(EMFILE);
	int fd =
	    timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | ((oflag & O_CLOEXEC) ? TFD_CLOEXEC : 0));
	if (fd < 0)
		return -1;
	*handle = (struct handle){ .used = true,
		                   .fd = fd,
		                   .nonblocking = (oflag & O_NONBLOCK) != 0,
		                   .priority = V4L2_PRIORITY_DEFAULT,
		                   .generation = fake.generation };
	return fd;
}

bool fake_is_device_path(const char *file)
{
	if (!fake.configured) {
		fake_configure();
		fake_reset_device();
	}
	if (!file)
		return false;
	if (strcmp(file, fake.config.device) == 0)
		return true;
	/* Another name of it: a symbolic link, as udev makes under /dev/v4l/by-id. */
	char real[PATH_MAX];
	return fake.config.real_device[0] && strncmp(file, "/proc/", 6) != 0 &&
	       realpath(file, real) && strcmp(real, fake.config.real_device) == 0;
}

/*
 * open() and open64() of the fake's device path are the fake's, so that a program can
 * open the device itself and hand the fd to v4l2_fd_open(), as with libv4l2 on a real
 * device; every other path goes to the kernel. They are defined under their symbol names
 * with asm labels because <fcntl.h> may rename open to open64 (_FILE_OFFSET_BITS=64).
 */
int fake_open(const char *file, int oflag, ...)
{
	if (fake_is_device_path(file))
		return open_device(oflag);
	va_list arguments;
	va_start(arguments, oflag);
	int fd = real_open(file, oflag, arguments);
	va_end(arguments);
	return fd;
}

int fake_open64(const char *file, int oflag, ...)
{
	if (fake_is_device_path(file))
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
	struct handle *handle = fake_handle_of(fd);
	if (!handle) {
		struct v4l2_capability cap;
		return fake_real_ioctl(fd, VIDIOC_QUERYCAP, &cap) < 0 ? -1 : fd;
	}
	if (fake_gone(handle))
		return fake_fail(ENODEV);
	handle->converting = !(v4l2_flags & V4L2_DISABLE_CONVERSION);
	return fd;
}

/* As libv4l2: open() and v4l2_fd_open() with conversion, closing the fd if that fails. */
int v4l2_open(const char *file, int oflag, ...)
{
	int fd;
	if (fake_is_device_path(file)) {
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
		return fake_fail(error);
	}
	return fd;
}

int v4l2_close(int fd)
{
	struct handle *handle = fake_handle_of(fd);
	if (!handle)
		return fake_real_close(fd);
	if (handle->generation == fake.generation &&
	    fake.queue.owner == fake_handle_index(handle)) {
		fake_stop_streaming(handle);
		/* The kernel frees the buffers when the last user lets go; mappings the
		 * program still has keep their memory (our memfd mapping does it for us). */
		fake_free_buffers();
		fake.queue.owner = -1;
	}
	handle->used = false;
	return fake_real_close(fd);
}

int v4l2_ioctl(int fd, unsigned long int request, ...)
{
	va_list arguments;
	va_start(arguments, request);
	void *argument = va_arg(arguments, void *);
	va_end(arguments);
	struct handle *handle = fake_handle_of(fd);
	if (!handle)
		return fake_real_ioctl(fd, request, argument);
	return fake_device_ioctl(handle, request, argument);
}

void *v4l2_mmap(void *start, size_t length, int prot, int flags, int fd, int64_t offset)
{
	struct handle *handle = fake_handle_of(fd);
	if (!handle)
		return fake_real_mmap(start, length, prot, flags, fd, (off_t)offset);
	struct queue *q = &fake.queue;
	if (fake_gone(handle)) {
		errno = ENODEV;
		return MAP_FAILED;
	}
	if (!(flags & MAP_SHARED) || q->memory != V4L2_MEMORY_MMAP || fake_owned_by_other(handle)) {
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
		uint8_t *area = fake_real_mmap(start, rounded + PAGE, PROT_NONE,
		                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (area == MAP_FAILED)
			return MAP_FAILED;
		void *address =
		    fake_real_mmap(area, length, prot, flags | MAP_FIXED, q->memfd, (off_t)offset);
		if (address == MAP_FAILED) {
			fake_real_munmap(area, rounded + PAGE);
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
	return fake_real_munmap(start, length);
}
