/*
 * Helpers shared by the test programs: unique stream names, segments, forking and
 * waiting, a PRNG, and frames whose content says which frame they are. The fork
 * harness of the multi-process tests is in harness.h; following a stream to its end is
 * in follow.h.
 */
#ifndef VSHM_TEST_UTIL_H
#define VSHM_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <vshm/vshm.h>

/* A stream name no other test run uses: "test-<tag>-<pid>-<counter>". */
void test_unique_name(char *out, size_t size, const char *tag);

/* True if /dev/shm/vshm.<name> exists. */
bool test_segment_exists(const char *name);

/* Removes /dev/shm/vshm.<name> if a test left it (for cleanup after failures). */
void test_segment_remove(const char *name);

/* The path /dev/shm/vshm.<name>. */
void test_segment_path(const char *name, char *out, size_t size);

/* The whole file of stream name mapped read-write, as a hostile or buggy process could
 * map it; *size is its size, for munmap(). Fails the test if it cannot. */
uint8_t *test_segment_map(const char *name, size_t *size);

/* A writer with slots sized for format/width/height; fails the test if it cannot. */
struct vshm_writer *test_writer_create(const char *name, uint32_t format, uint32_t width,
                                       uint32_t height, uint32_t slot_count);

/*
 * Forks; the child runs function(argument) and exits with its return value (the
 * child never returns into cmocka). Returns the child's pid.
 */
pid_t test_fork(int (*function)(void *argument), void *argument);

/*
 * Like test_fork(), but the child is SIGKILLed when the test process dies
 * (PR_SET_PDEATHSIG), so a test stopped by its timeout or a failed assertion leaves no
 * child running.
 */
pid_t test_fork_tied(int (*function)(void *argument), void *argument);

/*
 * Waits for pid up to timeout_ms; kills it with SIGKILL if it takes longer.
 * Returns its exit status (0..255), 128 + signal if a signal ended it, or -1 on timeout.
 */
int test_wait(pid_t pid, int timeout_ms);

/* Sleeps for the given microseconds. */
void test_sleep_us(long microseconds);

/* A small fast PRNG (xorshift64*), seeded per test so failures can be replayed. */
uint64_t test_random(uint64_t *state);

/*
 * Frames whose content proves which frame they belong to, for the stress tests. A
 * pattern frame is a whole number of 4 KiB pages; every page starts with the frame
 * number and (salt << 32 | page index) and ends with the complemented frame number, the
 * rest is pseudo-random words drawn from (frame number, salt, page). The last word of
 * the frame holds a checksum of every other word. A writer fills pages one at a time
 * (so it can be killed in the middle of a frame), then seals the frame.
 */
#define TEST_PATTERN_PAGE_SIZE 4096u

struct test_pattern {
	uint64_t frame_number;
	uint64_t salt;
	uint64_t checksum;
};

void test_pattern_begin(struct test_pattern *pattern, uint64_t frame_number, uint64_t salt);

/* Fills page index of a size-byte frame and adds it to the checksum. */
void test_pattern_fill_page(struct test_pattern *pattern, uint8_t *frame, size_t size,
                            size_t index);

/* Stores the checksum in the frame's last word, once every page has been filled. */
void test_pattern_seal(struct test_pattern *pattern, uint8_t *frame, size_t size);

enum test_pattern_result {
	TEST_PATTERN_OK = 0,
	TEST_PATTERN_BAD_PAGE = 1,     /* a page says it belongs to another frame or place */
	TEST_PATTERN_BAD_CHECKSUM = 2, /* every page header fits, the words do not */
};

/*
 * Checks every page of a frame that should be frame_number with salt. Reads memory
 * another process may be writing at the same time, by design: callers decide what the
 * result means only after vshm_reader_release() said whether the frame stayed intact.
 */
enum test_pattern_result test_pattern_check(const uint8_t *frame, size_t size,
                                            uint64_t frame_number, uint64_t salt);

/* Spins, without sleeping, for the given nanoseconds. */
void test_spin_ns(uint64_t nanoseconds);

/* Sorts values in increasing order, for medians and percentiles of measured times. */
void test_sort_u64(uint64_t *values, size_t count);

#endif
