#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "test-util.h"

void test_unique_name(char *out, size_t size, const char *tag)
{
	static unsigned counter;
	snprintf(out, size, "test-%s-%d-%u", tag, (int)getpid(), counter++);
}

void test_segment_path(const char *name, char *out, size_t size)
{
	snprintf(out, size, VSHM_SHM_DIR "/" VSHM_SHM_PREFIX "%s", name);
}

bool test_segment_exists(const char *name)
{
	char path[256];
	test_segment_path(name, path, sizeof(path));
	struct stat status;
	return stat(path, &status) == 0;
}

void test_segment_remove(const char *name)
{
	char path[256];
	test_segment_path(name, path, sizeof(path));
	unlink(path);
}

struct vshm_writer *test_writer_create(const char *name, uint32_t format, uint32_t width,
                                       uint32_t height, uint32_t slot_count)
{
	struct vshm_writer_options options = {
		.slot_count = slot_count,
		.max_format = format,
		.max_width = width,
		.max_height = height,
	};
	struct vshm_writer *writer = vshm_writer_create(name, &options);
	if (!writer)
		print_error("vshm_writer_create(%s): %s: %s\n", name, strerror(errno),
		            vshm_error());
	assert_non_null(writer);
	return writer;
}

void *test_shared_alloc(size_t size)
{
	void *memory = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(memory != MAP_FAILED);
	return memory;
}

pid_t test_fork(int (*function)(void *argument), void *argument)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(function(argument));
	return pid;
}

int test_wait(pid_t pid, int timeout_ms)
{
	for (int waited = 0;; waited++) {
		int status;
		pid_t result = waitpid(pid, &status, WNOHANG);
		if (result == pid) {
			if (WIFEXITED(status))
				return WEXITSTATUS(status);
			return 128 + WTERMSIG(status);
		}
		if (result < 0 && errno != EINTR)
			return -1;
		if (waited >= timeout_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		test_sleep_us(1000);
	}
}

void test_sleep_us(long microseconds)
{
	struct timespec duration = { microseconds / 1000000, (microseconds % 1000000) * 1000 };
	while (nanosleep(&duration, &duration) < 0 && errno == EINTR) {
	}
}

uint64_t test_random(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9e3779b97f4a7c15u;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1du;
}
