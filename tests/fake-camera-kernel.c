/*
 * The fake camera as the kernel's calls see it, for programs that do not go through
 * libv4l2: v4l2-compliance opens the device node with open(), asks it with ioctl(), maps
 * its buffers with mmap(), looks at the node with stat() and fstat() and at its sysfs
 * entry (/sys/dev/char/MAJOR:MINOR/uevent) to know what kind of device it is, and
 * closes it with close(). Each of these answers for the fake's device and fds, and
 * passes everything else to the kernel (or to libc). Only in the preloaded module
 * (libfake-camera.so): the camera tests link the fake into themselves and use libv4l2's
 * entry points.
 *
 * The device node is a character device of V4L2's major number (81) and a minor number
 * no real device here has; its uevent names it video<minor>.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libv4l2.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fake-camera-private.h"

/*
 * Defined under their symbol names with asm labels: with _FILE_OFFSET_BITS=64 the
 * headers rename stat to stat64, fopen to fopen64 and mmap to mmap64, and both names
 * must be the fake's.
 */
int fake_close(int fd) __asm__("close");
int fake_ioctl(int fd, unsigned long request, ...) __asm__("ioctl");
void *fake_mmap(void *start, size_t length, int prot, int flags, int fd,
                off_t offset) __asm__("mmap");
void *fake_mmap64(void *start, size_t length, int prot, int flags, int fd,
                  off_t offset) __asm__("mmap64");
int fake_munmap(void *start, size_t length) __asm__("munmap");
int fake_stat(const char *path, struct stat *out) __asm__("stat");
int fake_stat64(const char *path, struct stat *out) __asm__("stat64");
int fake_fstat(int fd, struct stat *out) __asm__("fstat");
int fake_fstat64(int fd, struct stat *out) __asm__("fstat64");
FILE *fake_fopen(const char *path, const char *mode) __asm__("fopen");
/* What open() is compiled into with _FORTIFY_SOURCE, when its flags are known. */
int fake_open_2(const char *path, int oflag) __asm__("__open_2");
int fake_open64_2(const char *path, int oflag) __asm__("__open64_2");
FILE *fake_fopen64(const char *path, const char *mode) __asm__("fopen64");

#define V4L2_MAJOR 81
#define FAKE_MINOR 237

/* The fake's node as stat() describes a character device. */
static void describe_node(struct stat *out)
{
	memset(out, 0, sizeof(*out));
	out->st_mode = S_IFCHR | 0660;
	out->st_rdev = makedev(V4L2_MAJOR, FAKE_MINOR);
	out->st_nlink = 1;
	out->st_blksize = 4096;
}

/* libc's own function of that name, for what is not the fake's (POSIX's way to turn
 * dlsym()'s answer into a function pointer). */
#define NEXT(function, name) (*(void **)(&(function)) = dlsym(RTLD_NEXT, name))

int fake_open_2(const char *path, int oflag)
{
	return open(path, oflag); /* the fake's (fake-camera.c), without O_CREAT */
}

int fake_open64_2(const char *path, int oflag)
{
	return open(path, oflag | O_LARGEFILE);
}

int fake_close(int fd)
{
	if (fake_handle_of(fd))
		return v4l2_close(fd);
	return fake_real_close(fd);
}

int fake_ioctl(int fd, unsigned long request, ...)
{
	va_list arguments;
	va_start(arguments, request);
	void *argument = va_arg(arguments, void *);
	va_end(arguments);
	struct handle *handle = fake_handle_of(fd);
	if (handle)
		return fake_device_ioctl(handle, request, argument);
	return fake_real_ioctl(fd, request, argument);
}

void *fake_mmap(void *start, size_t length, int prot, int flags, int fd, off_t offset)
{
	if (fd >= 0 && fake_handle_of(fd))
		return v4l2_mmap(start, length, prot, flags, fd, offset);
	return fake_real_mmap(start, length, prot, flags, fd, offset);
}

void *fake_mmap64(void *start, size_t length, int prot, int flags, int fd, off_t offset)
{
	return fake_mmap(start, length, prot, flags, fd, offset);
}

int fake_munmap(void *start, size_t length)
{
	return v4l2_munmap(start, length); /* the fake's mappings, or the kernel's */
}

int fake_stat(const char *path, struct stat *out)
{
	if (fake_is_device_path(path)) {
		describe_node(out);
		return 0;
	}
	int (*real)(const char *, struct stat *);
	NEXT(real, "stat");
	return real(path, out);
}

int fake_stat64(const char *path, struct stat *out)
{
	if (fake_is_device_path(path)) {
		describe_node(out);
		return 0;
	}
	int (*real)(const char *, struct stat *);
	NEXT(real, "stat64");
	return real(path, out);
}

int fake_fstat(int fd, struct stat *out)
{
	if (fake_handle_of(fd)) {
		describe_node(out);
		return 0;
	}
	int (*real)(int, struct stat *);
	NEXT(real, "fstat");
	return real(fd, out);
}

int fake_fstat64(int fd, struct stat *out)
{
	if (fake_handle_of(fd)) {
		describe_node(out);
		return 0;
	}
	int (*real)(int, struct stat *);
	NEXT(real, "fstat64");
	return real(fd, out);
}

/* The node's sysfs uevent, as the kernel writes it for a video node. */
static FILE *uevent(const char *path)
{
	char expected[64];
	snprintf(expected, sizeof(expected), "/sys/dev/char/%d:%d/uevent", V4L2_MAJOR, FAKE_MINOR);
	if (strcmp(path, expected) != 0)
		return NULL;
	char text[128];
	int length = snprintf(text, sizeof(text), "MAJOR=%d\nMINOR=%d\nDEVNAME=video%d\n",
	                      V4L2_MAJOR, FAKE_MINOR, FAKE_MINOR);
	/* A file with an fd, not fmemopen(): C++ streams read the FILE's fd. */
	int fd = memfd_create("uevent", MFD_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (write(fd, text, (size_t)length) != length || lseek(fd, 0, SEEK_SET) != 0) {
		fake_real_close(fd);
		return NULL;
	}
	return fdopen(fd, "r");
}

FILE *fake_fopen(const char *path, const char *mode)
{
	FILE *file = path ? uevent(path) : NULL;
	if (file)
		return file;
	FILE *(*real)(const char *, const char *);
	NEXT(real, "fopen");
	return real(path, mode);
}

FILE *fake_fopen64(const char *path, const char *mode)
{
	FILE *file = path ? uevent(path) : NULL;
	if (file)
		return file;
	FILE *(*real)(const char *, const char *);
	NEXT(real, "fopen64");
	return real(path, mode);
}
