#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
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

pid_t test_fork_tied(int (*function)(void *argument), void *argument)
{
	pid_t parent = getpid();
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* The parent may have died before the line above. */
		if (getppid() != parent)
			_exit(127);
		_exit(function(argument));
	}
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

/* splitmix64's finaliser: a cheap, well-mixed function of one word. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9u;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebu;
	x ^= x >> 31;
	return x;
}

#define PATTERN_WORDS (TEST_PATTERN_PAGE_SIZE / sizeof(uint64_t))

static uint64_t page_seed(uint64_t frame_number, uint64_t salt, uint64_t index)
{
	return mix64(frame_number * 0x9e3779b97f4a7c15u ^ mix64(salt << 32 | index));
}

/* What word `word` of page `index` holds; the frame's last word is the checksum. */
static uint64_t pattern_word(uint64_t frame_number, uint64_t salt, uint64_t index, uint64_t seed,
                             size_t word)
{
	if (word == 0)
		return frame_number;
	if (word == 1)
		return salt << 32 | index;
	if (word == PATTERN_WORDS - 1)
		return ~frame_number;
	return mix64(seed + word * 0x9e3779b97f4a7c15u);
}

/* Position-dependent, so that swapped or shifted words change the sum. */
static uint64_t checksum_term(uint64_t value, uint64_t position)
{
	return (value ^ position * 0xd6e8feb86659fd93u) * 0xff51afd7ed558ccdu;
}

void test_pattern_begin(struct test_pattern *pattern, uint64_t frame_number, uint64_t salt)
{
	pattern->frame_number = frame_number;
	pattern->salt = salt;
	pattern->checksum = 0;
}

void test_pattern_fill_page(struct test_pattern *pattern, uint8_t *frame, size_t size, size_t index)
{
	uint64_t *words = (uint64_t *)(frame + index * TEST_PATTERN_PAGE_SIZE);
	uint64_t seed = page_seed(pattern->frame_number, pattern->salt, index);
	bool last_page = (index + 1) * TEST_PATTERN_PAGE_SIZE == size;
	size_t count = last_page ? PATTERN_WORDS - 1 : PATTERN_WORDS;
	uint64_t checksum = pattern->checksum;
	for (size_t i = 0; i < count; i++) {
		uint64_t value = pattern_word(pattern->frame_number, pattern->salt, index, seed, i);
		words[i] = value;
		checksum += checksum_term(value, index * PATTERN_WORDS + i);
	}
	pattern->checksum = checksum;
}

void test_pattern_seal(struct test_pattern *pattern, uint8_t *frame, size_t size)
{
	uint64_t *last = (uint64_t *)(frame + size) - 1;
	*last = pattern->checksum;
}

#if defined(__SANITIZE_THREAD__)
__attribute__((no_sanitize("thread")))
#endif
enum test_pattern_result
test_pattern_check(const uint8_t *frame, size_t size, uint64_t frame_number, uint64_t salt)
{
	size_t pages = size / TEST_PATTERN_PAGE_SIZE;
	if (pages == 0 || size % TEST_PATTERN_PAGE_SIZE)
		return TEST_PATTERN_BAD_PAGE;
	uint64_t checksum = 0;
	for (size_t index = 0; index < pages; index++) {
		const uint64_t *words = (const uint64_t *)(frame + index * TEST_PATTERN_PAGE_SIZE);
		bool last_page = index + 1 == pages;
		if (words[0] != frame_number || words[1] != (salt << 32 | index) ||
		    (!last_page && words[PATTERN_WORDS - 1] != ~frame_number))
			return TEST_PATTERN_BAD_PAGE;
		size_t count = last_page ? PATTERN_WORDS - 1 : PATTERN_WORDS;
		for (size_t i = 0; i < count; i++)
			checksum += checksum_term(words[i], index * PATTERN_WORDS + i);
	}
	const uint64_t *last = (const uint64_t *)(frame + size) - 1;
	return *last == checksum ? TEST_PATTERN_OK : TEST_PATTERN_BAD_CHECKSUM;
}

void test_spin_ns(uint64_t nanoseconds)
{
	uint64_t end = vshm_now_ns() + nanoseconds;
	while (vshm_now_ns() < end) {
	}
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

void test_sort_u64(uint64_t *values, size_t count)
{
	qsort(values, count, sizeof(values[0]), compare_u64);
}

uint8_t *test_segment_map(const char *name, size_t *size)
{
	char path[256];
	test_segment_path(name, path, sizeof(path));
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	struct stat status;
	assert_int_equal(fstat(fd, &status), 0);
	*size = (size_t)status.st_size;
	uint8_t *base = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(base != MAP_FAILED);
	close(fd);
	return base;
}
