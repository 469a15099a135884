#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "harness.h"
#include "test-util.h"

/* Where the test's state starts: aligned for anything it may hold, a cache line. */
#define STATE_ALIGNMENT ((size_t)64)

struct harness *harness_create(const char *tag, int reader_count, size_t state_size)
{
	assert_true(reader_count >= 0 && reader_count <= HARNESS_READERS_MAX);
	/* One mapping for both, so that the test's state is shared like the flags. Anonymous
	 * memory is zero-filled: every flag and figure starts at 0. */
	size_t state_offset =
	    (sizeof(struct harness) + STATE_ALIGNMENT - 1) & ~(STATE_ALIGNMENT - 1);
	size_t size = state_offset + state_size;
	struct harness *harness =
	    mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(harness != MAP_FAILED);
	harness->size = size;
	test_unique_name(harness->name, sizeof(harness->name), tag);
	harness->state = state_size ? (char *)harness + state_offset : NULL;
	harness->reader_count = reader_count;
	harness->start_ns = vshm_now_ns();
	harness->writer_status = -1;
	for (int i = 0; i < HARNESS_READERS_MAX; i++)
		harness->reader_status[i] = -1;
	return harness;
}

void harness_destroy(struct harness *harness)
{
	if (!harness)
		return;
	if (harness->writer > 0)
		harness_kill_writer(harness);
	for (int i = 0; i < harness->reader_count; i++) {
		if (harness->readers[i] > 0)
			harness_kill_reader(harness, i);
	}
	test_segment_remove(harness->name);
	munmap(harness, harness->size);
}

struct child {
	struct harness *harness;
	harness_writer_main writer;
	harness_reader_main reader;
	int index;
};

/* Runs in the forked child, on its copy of the parent's struct child. */
static int run_child(void *argument)
{
	struct child *child = argument;
	int status = child->writer ? child->writer(child->harness)
	                           : child->reader(child->harness, child->index);
	fflush(stdout);
	fflush(stderr);
	return status;
}

void harness_start_writer(struct harness *harness, harness_writer_main main)
{
	assert_int_equal(harness->writer, 0);
	atomic_store(&harness->writer_ready, 0);
	struct child child = { .harness = harness, .writer = main };
	harness->writer = test_fork_tied(run_child, &child);
}

void harness_start_reader(struct harness *harness, int index, harness_reader_main main)
{
	assert_true(index >= 0 && index < harness->reader_count);
	assert_int_equal(harness->readers[index], 0);
	struct child child = { .harness = harness, .reader = main, .index = index };
	harness->readers[index] = test_fork_tied(run_child, &child);
}

void harness_start(struct harness *harness, harness_writer_main writer, harness_reader_main reader)
{
	harness_start_writer(harness, writer);
	for (int i = 0; i < harness->reader_count; i++)
		harness_start_reader(harness, i, reader);
}

struct vshm_writer *harness_writer_create(struct harness *harness,
                                          const struct vshm_writer_options *options)
{
	struct vshm_writer *writer = vshm_writer_create(harness->name, options);
	if (!writer) {
		fprintf(stderr, "writer: cannot create stream '%s': %s (%s)\n", harness->name,
		        strerror(errno), vshm_error());
		harness_stop(harness);
	}
	return writer;
}

void harness_writer_ready(struct harness *harness)
{
	atomic_store(&harness->writer_ready, 1);
}

struct vshm_reader *harness_reader_attach(struct harness *harness, int index, int timeout_ms)
{
	/* No waiting callback: the test has nothing to say while the writer starts. */
	struct vshm_reader *reader =
	    vshm_reader_attach_wait(harness->name, NULL, timeout_ms, NULL, NULL);
	if (!reader) {
		int error = errno;
		fprintf(stderr, "reader %d: cannot attach to stream '%s': %s (%s)\n", index,
		        harness->name, strerror(error), vshm_error());
		harness_stop(harness);
		errno = error;
		return NULL;
	}
	atomic_fetch_add(&harness->readers_ready, 1);
	return reader;
}

bool harness_wait_readers(struct harness *harness, uint64_t timeout_ns)
{
	return harness_wait_for(harness, &harness->readers_ready, harness->reader_count,
	                        timeout_ns);
}

void harness_stop(struct harness *harness)
{
	atomic_store(&harness->stop, 1);
}

bool harness_stopping(const struct harness *harness)
{
	return atomic_load(&harness->stop);
}

bool harness_wait_for(const struct harness *harness, const _Atomic int *flag, int value,
                      uint64_t timeout_ns)
{
	uint64_t start = vshm_now_ns();
	for (;;) {
		if (atomic_load(flag) >= value)
			return true;
		if (harness_stopping(harness) || vshm_now_ns() - start > timeout_ns)
			return false;
		test_sleep_us(1000);
	}
}

int harness_wait_writer(struct harness *harness, int timeout_ms)
{
	if (harness->writer <= 0)
		return -1;
	harness->writer_status = test_wait(harness->writer, timeout_ms);
	harness->writer = 0;
	return harness->writer_status;
}

int harness_wait_reader(struct harness *harness, int index, int timeout_ms)
{
	if (harness->readers[index] <= 0)
		return -1;
	harness->reader_status[index] = test_wait(harness->readers[index], timeout_ms);
	harness->readers[index] = 0;
	return harness->reader_status[index];
}

int harness_kill_writer(struct harness *harness)
{
	if (harness->writer > 0)
		kill(harness->writer, SIGKILL);
	return harness_wait_writer(harness, 5000);
}

int harness_kill_reader(struct harness *harness, int index)
{
	if (harness->readers[index] > 0)
		kill(harness->readers[index], SIGKILL);
	return harness_wait_reader(harness, index, 5000);
}

void harness_wait_all(struct harness *harness, int writer_timeout_ms, int reader_timeout_ms)
{
	harness_wait_writer(harness, writer_timeout_ms);
	for (int i = 0; i < harness->reader_count; i++)
		harness_wait_reader(harness, i, reader_timeout_ms);
	harness->segment_left = test_segment_exists(harness->name);
	test_segment_remove(harness->name);
}

double harness_seconds(const struct harness *harness)
{
	return (double)(vshm_now_ns() - harness->start_ns) / 1e9;
}
