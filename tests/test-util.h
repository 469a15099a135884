/* Helpers shared by the test programs: unique stream names, forking, shared counters. */
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

/* A writer with slots sized for format/width/height; fails the test if it cannot. */
struct vshm_writer *test_writer_create(const char *name, uint32_t format, uint32_t width,
                                       uint32_t height, uint32_t slot_count);

/* Anonymous shared memory, visible to forked children: zero-filled, never freed. */
void *test_shared_alloc(size_t size);

/*
 * Forks; the child runs function(argument) and exits with its return value (the
 * child never returns into cmocka). Returns the child's pid.
 */
pid_t test_fork(int (*function)(void *argument), void *argument);

/*
 * Waits for pid up to timeout_ms; kills it with SIGKILL if it takes longer.
 * Returns its exit status (0..255), 128 + signal if a signal ended it, or -1 on timeout.
 */
int test_wait(pid_t pid, int timeout_ms);

/* Sleeps for the given microseconds. */
void test_sleep_us(long microseconds);

/* A small fast PRNG (xorshift64*), seeded per test so failures can be replayed. */
uint64_t test_random(uint64_t *state);

#endif
