/*
 * The fork harness of the multi-process tests: a writer and readers, each in a process
 * of its own as in real use, forked from the test and sharing one stream name and the
 * test's own state through anonymous shared memory.
 *
 * A test creates a harness, which maps one MAP_SHARED region holding the harness and
 * state_size zero-filled bytes for the test's figures and flags; forked children inherit
 * it at the same address, so pointers into it are valid in every process of the run.
 * It starts its children with harness_start() (or one by one, to restart or kill them),
 * waits for them with a timeout, and reads what they left in the shared state:
 *
 *	struct harness *harness = harness_create("tearing", READER_COUNT, sizeof(struct shared));
 *	harness_start(harness, writer_main, reader_main);
 *	harness_wait_all(harness, 50000, 10000);
 *	struct shared *shared = harness->state;
 *	... print and assert on shared's figures, harness->writer_status ...
 *
 * Children are tied to the test process (PR_SET_PDEATHSIG), so a test stopped by a
 * failed assertion or by meson's timeout leaves none running.
 *
 * Functions marked "in a child" are for the writer and reader mains; they use no cmocka
 * assertion, because a failed assertion in a forked child would unwind into the child's
 * copy of cmocka and run the rest of the test program there. The others are for the test
 * process. Nothing here is thread-safe; every process of a run may use the flags.
 */
#ifndef VSHM_TEST_HARNESS_H
#define VSHM_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <vshm/vshm.h>

#define HARNESS_READERS_MAX 8

struct harness {
	/* The stream of this run, "test-<tag>-<pid>-<counter>": no other run uses it. */
	char name[VSHM_NAME_MAX + 1];
	/* The test's own shared state, state_size bytes, zero-filled at creation. */
	void *state;
	int reader_count;

	/* Flags for every process of the run. */
	_Atomic int stop;          /* the run is over: every child leaves its loop */
	_Atomic int writer_ready;  /* the running writer called harness_writer_ready() */
	_Atomic int readers_ready; /* readers that attached with harness_reader_attach() */

	/* The test process's own bookkeeping; children must not rely on it. */
	size_t size;       /* of the mapping */
	uint64_t start_ns; /* vshm_now_ns() at creation */
	pid_t writer;      /* 0 when no writer runs */
	pid_t readers[HARNESS_READERS_MAX];
	/* As test_wait() returns them: exit status, 128 + signal, or -1 after a timeout. */
	int writer_status;
	int reader_status[HARNESS_READERS_MAX];
	/* The stream's segment was still there when harness_wait_all() had reaped everyone
	 * (it removes it then, so that a failing test leaves nothing behind). */
	bool segment_left;
};

/* What a writer or reader process runs; its return value is the process's exit status. */
typedef int (*harness_writer_main)(struct harness *harness);
typedef int (*harness_reader_main)(struct harness *harness, int index);

/*
 * Maps the harness with state_size bytes of test state after it and names the stream
 * after tag. reader_count is at most HARNESS_READERS_MAX. Fails the test if it cannot.
 */
struct harness *harness_create(const char *tag, int reader_count, size_t state_size);

/*
 * Kills (SIGKILL) and reaps any child still running, removes the stream's segment if one
 * is left, and unmaps the harness and its state. Accepts NULL.
 */
void harness_destroy(struct harness *harness);

/*
 * Forks the writer (clearing writer_ready first) or reader index, tied to the test
 * process. harness_start() starts the writer, then readers 0 .. reader_count - 1.
 */
void harness_start_writer(struct harness *harness, harness_writer_main main);
void harness_start_reader(struct harness *harness, int index, harness_reader_main main);
void harness_start(struct harness *harness, harness_writer_main writer, harness_reader_main reader);

/* In a child: creates the writer of the run's stream; on failure prints why and stops
 * the run, and returns NULL. */
struct vshm_writer *harness_writer_create(struct harness *harness,
                                          const struct vshm_writer_options *options);

/* In a child: the writer says it is ready (what "ready" means is the test's to say). */
void harness_writer_ready(struct harness *harness);

/*
 * In a child: attaches reader index to the run's stream, waiting up to timeout_ms for
 * the writer to create it, and counts it in readers_ready. On failure prints why, stops
 * the run and returns NULL with errno set.
 */
struct vshm_reader *harness_reader_attach(struct harness *harness, int index, int timeout_ms);

/* In a child: waits until every reader has attached; false after timeout_ns, or when
 * the run was stopped first. */
bool harness_wait_readers(struct harness *harness, uint64_t timeout_ns);

/* Ends the run: every child's loop checks harness_stopping(). Any process may call it. */
void harness_stop(struct harness *harness);
bool harness_stopping(const struct harness *harness);

/*
 * Polls the shared flag every millisecond until it is at least value. Returns true
 * then; false after timeout_ns, or when the run was stopped before the flag got there.
 * Usable in the test process and in children.
 */
bool harness_wait_for(const struct harness *harness, const _Atomic int *flag, int value,
                      uint64_t timeout_ns);

/*
 * Waits up to timeout_ms for the writer, or for reader index, to exit (killing it with
 * SIGKILL after that), records its status in writer_status or reader_status[index] and
 * returns it. Returns -1 at once if it is not running.
 */
int harness_wait_writer(struct harness *harness, int timeout_ms);
int harness_wait_reader(struct harness *harness, int index, int timeout_ms);

/* Kills the writer, or reader index, with SIGKILL and reaps it: as harness_wait_*(). */
int harness_kill_writer(struct harness *harness);
int harness_kill_reader(struct harness *harness, int index);

/*
 * The end of a run: waits for the writer, then for every reader still running, with
 * those timeouts; then notes in segment_left whether the stream's segment is still
 * there, and removes it.
 */
void harness_wait_all(struct harness *harness, int writer_timeout_ms, int reader_timeout_ms);

/* Seconds since harness_create(). */
double harness_seconds(const struct harness *harness);

#endif
