/*
 * Dead readers pin nothing: readers are SIGKILLed again and again while a writer
 * process publishes; they take, hold and give back frames in a loop, so most die
 * holding a slot, and some die while attaching. Then:
 *  - the writer never waits for a reader: before each kill every live reader is
 *    frozen (SIGSTOP) wherever it is, holding a slot, taking one, attaching, and the
 *    writer must still complete FROZEN_PUBLISHES begin + publish calls. A writer that
 *    waited on anything a reader holds (a slot, a futex, a lock) would stop there for
 *    good, whatever the machine's speed: this counts what the protocol guarantees, not
 *    how fast a call returns;
 *  - the dead readers' entries are reclaimed: readers_attached falls to 0 by itself,
 *    vshm_writer_scan_readers() says 0, and no table entry is left active;
 *  - no slot stays pinned: the writer's next publishes go round every slot;
 *  - the reader table is not exhausted: a fresh reader attaches and gets a frame.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "layout.h"
#include "test-util.h"

#define KILL_COUNT      200
#define LIVE_READERS    3 /* at a time; 3 holders can pin every non-latest slot */
#define SLOT_COUNT      4
#define READER_CAPACITY 8 /* small, so entries of dead readers must be reused */
#define FRAME_WIDTH     TEST_PATTERN_PAGE_SIZE
#define FRAME_HEIGHT    16
#define SECOND_NS       UINT64_C(1000000000)
/* Publishes the writer must make while every reader is frozen: enough to go round every
 * slot twice, so it must take (overwrite) slots that frozen readers hold. */
#define FROZEN_PUBLISHES (2 * SLOT_COUNT)
/* Not a time the test expects: only how long it waits before calling the writer stuck. */
#define STUCK_NS (10 * SECOND_NS)
/* The writer recounts its readers at least once a second, so 3 s is plenty. */
#define RECLAIM_LIMIT_NS (3 * SECOND_NS)

enum phase {
	PHASE_KILLING,   /* readers come and die */
	PHASE_ALL_DEAD,  /* every reader is dead: the writer checks reclamation */
	PHASE_FINISHING, /* the writer may stop */
};

struct reader_flags {
	_Atomic int attached;
	_Atomic int holding;
};

/* The harness's state: the phase the parent sets, and the figures of both sides. */
struct shared {
	_Atomic int phase;
	_Atomic int checks_done;
	/* Writer's figures. */
	uint64_t published;
	uint64_t overwrites;
	_Atomic uint64_t published_count; /* begin + publish calls completed */
	uint64_t max_publish_ns;          /* longest begin + publish, for the record */
	uint64_t publish_sleeps;          /* times it slept inside one, for the record */
	uint64_t reclaim_ns;              /* all readers dead -> readers_attached == 0 */
	uint64_t unpinned_ns;             /* all readers dead -> every slot in use again */
	uint32_t slots_after;             /* bit mask of slots used by publishes after reclaim */
	int scan_after;                   /* vshm_writer_scan_readers() once all are dead */
	uint32_t attached_after;          /* readers_attached once all are dead */
	int writer_error;
	/* Readers'. */
	_Atomic uint64_t attach_failures;
	_Atomic uint64_t reader_errors;
	struct reader_flags readers[LIVE_READERS];
};

static long voluntary_switches(void)
{
	struct rusage usage;
	getrusage(RUSAGE_SELF, &usage);
	return usage.ru_nvcsw;
}

/*
 * One begin + publish; returns the slot used, or -1. Keeps the longest duration and the
 * times the process went to sleep inside (voluntary context switches), for the record
 * only: neither says whether the writer waited for a reader. A loaded machine stretches
 * the duration, and ThreadSanitizer's runtime sleeps on locks of its own inside any call.
 */
static int publish_one(struct shared *shared, struct vshm_writer *writer, uint64_t n)
{
	long switches = voluntary_switches();
	uint64_t start = vshm_now_ns();
	struct vshm_frame frame;
	if (vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, FRAME_WIDTH, FRAME_HEIGHT, &frame) < 0)
		return -1;
	memcpy(frame.plane[0], &n, sizeof(n));
	frame.frame_number = n;
	if (vshm_writer_publish(writer, &frame) < 0)
		return -1;
	uint64_t took = vshm_now_ns() - start;
	shared->publish_sleeps += (uint64_t)(voluntary_switches() - switches);
	if (took > shared->max_publish_ns)
		shared->max_publish_ns = took;
	shared->published = n;
	atomic_fetch_add(&shared->published_count, 1);
	return (int)frame.slot;
}

/* Once every reader is dead: how long until nothing is attached and nothing pinned. */
static int check_after_kills(struct shared *shared, struct vshm_writer *writer, uint64_t *n)
{
	uint32_t all_slots = (1u << SLOT_COUNT) - 1;
	uint64_t start = vshm_now_ns();
	/* Slots of the last SLOT_COUNT publishes: with nothing held, the writer goes round
	 * all of them; a slot pinned by a dead reader's entry would be missing. */
	int recent[SLOT_COUNT];
	for (int i = 0; i < SLOT_COUNT; i++)
		recent[i] = -1;
	for (;;) {
		int slot = publish_one(shared, writer, (*n)++);
		if (slot < 0)
			return 1;
		recent[*n % SLOT_COUNT] = slot;
		uint32_t used = 0;
		for (int i = 0; i < SLOT_COUNT; i++)
			used |= recent[i] >= 0 ? 1u << recent[i] : 0;
		uint64_t elapsed = vshm_now_ns() - start;
		struct vshm_writer_stats stats;
		vshm_writer_get_stats(writer, &stats);
		if (stats.readers_attached == 0 && shared->reclaim_ns == 0)
			shared->reclaim_ns = elapsed;
		if (used == all_slots && shared->unpinned_ns == 0)
			shared->unpinned_ns = elapsed;
		if ((shared->reclaim_ns && shared->unpinned_ns) || elapsed > RECLAIM_LIMIT_NS)
			break;
		test_sleep_us(100);
	}
	/* Reclaimed now, so from here on every publish cycle uses every slot. */
	uint32_t used = 0;
	for (int i = 0; i < 2 * SLOT_COUNT; i++) {
		int slot = publish_one(shared, writer, (*n)++);
		if (slot < 0)
			return 1;
		used |= 1u << slot;
	}
	shared->slots_after = used;
	shared->scan_after = vshm_writer_scan_readers(writer);
	struct vshm_writer_stats stats;
	vshm_writer_get_stats(writer, &stats);
	shared->attached_after = stats.readers_attached;
	return 0;
}

static int writer_main(struct harness *harness)
{
	struct shared *shared = harness->state;
	struct vshm_writer_options options = {
		.slot_count = SLOT_COUNT,
		.reader_capacity = READER_CAPACITY,
		.max_format = VSHM_FORMAT_GRAY8,
		.max_width = FRAME_WIDTH,
		.max_height = FRAME_HEIGHT,
	};
	struct vshm_writer *writer = harness_writer_create(harness, &options);
	if (!writer) {
		shared->writer_error = 1;
		atomic_store(&shared->checks_done, 1);
		return 1;
	}
	harness_writer_ready(harness);
	uint64_t n = 1;
	while (atomic_load(&shared->phase) == PHASE_KILLING) {
		if (publish_one(shared, writer, n++) < 0) {
			shared->writer_error = 2;
			break;
		}
		test_sleep_us(100);
	}
	if (!shared->writer_error && check_after_kills(shared, writer, &n) != 0)
		shared->writer_error = 3;
	struct vshm_writer_stats stats;
	vshm_writer_get_stats(writer, &stats);
	shared->overwrites = stats.overwrites;
	atomic_store(&shared->checks_done, 1);
	/* Keep publishing for the fresh reader the parent attaches. */
	while (atomic_load(&shared->phase) != PHASE_FINISHING) {
		if (publish_one(shared, writer, n++) < 0) {
			shared->writer_error = 4;
			break;
		}
		test_sleep_us(1000);
	}
	vshm_writer_destroy(writer);
	return shared->writer_error ? 1 : 0;
}

static int reader_main(struct harness *harness, int index)
{
	struct shared *shared = harness->state;
	struct reader_flags *flags = &shared->readers[index];
	uint64_t random_state = 0x4eade4u ^ (uint64_t)getpid() << 16;
	/* The writer is there: attaching must succeed at the first try, so no waiting
	 * (harness_reader_attach() would wait out what should count as a failure). */
	struct vshm_reader *reader = vshm_reader_attach(harness->name, NULL);
	if (!reader) {
		fprintf(stderr, "reader: vshm_reader_attach: %s\n", vshm_error());
		atomic_fetch_add(&shared->attach_failures, 1);
		return 1;
	}
	atomic_store(&flags->attached, 1);
	/* Until killed: take the latest frame, hold it a while, give it back. */
	for (;;) {
		struct vshm_frame frame;
		int status = vshm_reader_acquire(reader, &frame);
		if (status == -EAGAIN)
			continue;
		if (status < 0) {
			atomic_fetch_add(&shared->reader_errors, 1);
			test_sleep_us(1000);
			continue;
		}
		atomic_store(&flags->holding, 1);
		uint64_t hold_ns = test_random(&random_state) % 1000000;
		if (hold_ns & 1)
			test_spin_ns(hold_ns);
		else
			test_sleep_us((long)(hold_ns / 1000));
		atomic_store(&flags->holding, 0);
		if (vshm_reader_release(reader) < 0)
			atomic_fetch_add(&shared->reader_errors, 1);
	}
	return 0;
}

static void start_reader(struct harness *harness, int index)
{
	struct shared *shared = harness->state;
	struct reader_flags *flags = &shared->readers[index];
	atomic_store(&flags->attached, 0);
	atomic_store(&flags->holding, 0);
	harness_start_reader(harness, index, reader_main);
}

/*
 * Stops every live reader where it is (SIGSTOP, and waits until it is stopped), then
 * waits for the writer to complete FROZEN_PUBLISHES more begin + publish calls. Returns
 * false if it did not within STUCK_NS: it is waiting for a reader. *all_held says
 * whether every reader was alive and frozen holding a slot, so that the writer had to
 * overwrite one. The readers stay stopped: thaw_readers() lets them go on.
 */
static bool writer_goes_on_without_readers(struct harness *harness, bool *all_held)
{
	struct shared *shared = harness->state;
	int frozen = 0, holding = 0;
	for (int i = 0; i < LIVE_READERS; i++) {
		pid_t pid = harness->readers[i];
		if (pid <= 0)
			continue;
		kill(pid, SIGSTOP);
		int status;
		waitpid(pid, &status, WUNTRACED);
		frozen++;
		holding += atomic_load(&shared->readers[i].holding);
	}
	*all_held = frozen == LIVE_READERS && holding == LIVE_READERS;
	uint64_t target = atomic_load(&shared->published_count) + FROZEN_PUBLISHES;
	uint64_t start = vshm_now_ns();
	while (atomic_load(&shared->published_count) < target) {
		if (vshm_now_ns() - start > STUCK_NS)
			return false;
		test_sleep_us(100);
	}
	return true;
}

static void thaw_readers(struct harness *harness)
{
	for (int i = 0; i < LIVE_READERS; i++) {
		if (harness->readers[i] > 0)
			kill(harness->readers[i], SIGCONT);
	}
}

struct table_check {
	bool mapped;
	uint32_t active;   /* entries still marked active */
	uint32_t holding;  /* entries still holding a slot */
	uint32_t attached; /* the header's readers_attached */
};

/* Reads the reader table as it lies in shared memory. */
static struct table_check check_reader_table(const char *name)
{
	struct table_check check = { 0 };
	char path[256];
	test_segment_path(name, path, sizeof(path));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return check;
	struct stat status;
	if (fstat(fd, &status) < 0) {
		close(fd);
		return check;
	}
	size_t size = (size_t)status.st_size;
	const uint8_t *base = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (base == MAP_FAILED)
		return check;
	const struct vshm_shm_header *header = (const struct vshm_shm_header *)base;
	const struct vshm_shm_reader *entries =
	    (const struct vshm_shm_reader *)(base + header->reader_table_offset);
	for (uint32_t i = 0; i < READER_CAPACITY; i++) {
		check.active += atomic_load(&entries[i].state) == VSHM_READER_ACTIVE;
		check.holding += atomic_load(&entries[i].held_slot) != 0;
	}
	check.attached = atomic_load(&header->readers_attached);
	check.mapped = true;
	munmap((void *)base, size);
	return check;
}

static void test_dead_readers_pin_nothing(void **state)
{
	(void)state;
	struct harness *harness =
	    harness_create("reader-crash", LIVE_READERS, sizeof(struct shared));
	struct shared *shared = harness->state;
	const char *name = harness->name;
	uint64_t random_state = 0x4eade401;

	harness_start_writer(harness, writer_main);
	bool writer_ready = harness_wait_for(harness, &harness->writer_ready, 1, 10 * SECOND_NS);
	for (int i = 0; i < LIVE_READERS; i++)
		start_reader(harness, i);

	uint32_t kills = 0, kills_holding = 0, kills_attaching = 0;
	uint32_t freezes = 0, freezes_all_held = 0, writer_stuck = 0;
	const char *failure = NULL;
	for (uint32_t k = 0; k < KILL_COUNT + LIVE_READERS && writer_ready; k++) {
		/* The last LIVE_READERS kills take the survivors, with no replacement. */
		bool last_round = k >= KILL_COUNT;
		int i = last_round ? (int)(k - KILL_COUNT)
		                   : (int)(test_random(&random_state) % LIVE_READERS);
		struct reader_flags *flags = &shared->readers[i];
		uint64_t mode = test_random(&random_state) % 8;
		if (mode == 0) {
			/* Soon after it started: sometimes in the middle of attaching. */
			test_sleep_us((long)(test_random(&random_state) % 300));
		} else {
			uint64_t wait_start = vshm_now_ns();
			while ((!atomic_load(&flags->attached) ||
			        (mode > 2 && !atomic_load(&flags->holding))) &&
			       vshm_now_ns() - wait_start < SECOND_NS)
				test_sleep_us(50);
			test_sleep_us((long)(test_random(&random_state) % 2000));
		}
		/* Every live reader frozen where it is: the writer must go on without them. */
		bool all_held;
		if (writer_goes_on_without_readers(harness, &all_held))
			freezes++;
		else
			writer_stuck++;
		freezes_all_held += all_held;
		int status = harness_kill_reader(harness, i);
		thaw_readers(harness);
		if (writer_stuck) {
			failure = "the writer stopped while every reader was frozen: it waits for "
			          "readers";
			break;
		}
		if (status != 128 + SIGKILL) {
			failure = "a reader ended otherwise than by our SIGKILL";
			break;
		}
		kills++;
		/* Its flags as it left them. */
		if (atomic_load(&flags->holding))
			kills_holding++;
		if (!atomic_load(&flags->attached))
			kills_attaching++;
		if (!last_round)
			start_reader(harness, i);
	}
	double kill_seconds = harness_seconds(harness);
	for (int i = 0; i < LIVE_READERS; i++)
		harness_kill_reader(harness, i); /* only after a failure is one left */

	/* Every reader is dead now; the writer checks that nothing of them remains. */
	atomic_store(&shared->phase, PHASE_ALL_DEAD);
	bool checks_done = harness_wait_for(harness, &shared->checks_done, 1, 10 * SECOND_NS);
	struct table_check table = check_reader_table(name);

	/* A fresh reader still finds an entry and gets frames. */
	struct vshm_reader *fresh = vshm_reader_attach_wait(name, NULL, 2000, NULL, NULL);
	int fresh_errno = errno;
	int acquired = -1, intact = -1;
	struct vshm_reader_stats fresh_stats = { 0 };
	if (fresh) {
		struct vshm_frame frame;
		for (int attempt = 0; attempt < 100 && acquired != 0; attempt++) {
			vshm_reader_wait(fresh, 100);
			acquired = vshm_reader_acquire(fresh, &frame);
		}
		if (acquired == 0)
			intact = vshm_reader_release(fresh);
		vshm_reader_get_stats(fresh, &fresh_stats);
		vshm_reader_detach(fresh);
	}
	atomic_store(&shared->phase, PHASE_FINISHING);
	harness_wait_all(harness, 10000, 5000);

	print_message("%u readers killed in %.1f s (%u holding a frame, %u while attaching); "
	              "the writer made %d publishes with every reader frozen %u times (%u with "
	              "every reader holding a slot), and was stuck %u times; "
	              "writer: %llu frames, %llu overwrites, longest begin+publish %.3f ms, slept "
	              "in it %llu times; "
	              "after the last kill: readers_attached 0 after %.1f ms, every slot in "
	              "use after %.1f ms\n",
	              kills, kill_seconds, kills_holding, kills_attaching, FROZEN_PUBLISHES,
	              freezes, freezes_all_held, writer_stuck,
	              (unsigned long long)shared->published, (unsigned long long)shared->overwrites,
	              (double)shared->max_publish_ns / 1e6,
	              (unsigned long long)shared->publish_sleeps, (double)shared->reclaim_ns / 1e6,
	              (double)shared->unpinned_ns / 1e6);

	if (failure)
		fail_msg("%s", failure);
	assert_true(checks_done);
	assert_int_equal(harness->writer_status, 0);
	assert_int_equal(shared->writer_error, 0);
	assert_int_equal(kills, KILL_COUNT + LIVE_READERS);
	/* Most of them died holding a slot: that is what could pin one. */
	assert_true(kills_holding >= KILL_COUNT / 2);
	/* The reader table never ran out, with 8 entries and over 200 readers. */
	assert_int_equal(atomic_load(&shared->attach_failures), 0);
	assert_int_equal(atomic_load(&shared->reader_errors), 0);
	/* The writer never waited for a reader: it went on while all were frozen, also
	 * when they held every slot it could take. */
	assert_int_equal(writer_stuck, 0);
	assert_int_equal(freezes, kills);
	assert_true(freezes_all_held > 0);
	/* Dead readers' entries were reclaimed, by the writer on its own ... */
	assert_true(shared->reclaim_ns > 0 && shared->reclaim_ns <= RECLAIM_LIMIT_NS);
	/* ... no slot stayed pinned ... */
	assert_true(shared->unpinned_ns > 0 && shared->unpinned_ns <= RECLAIM_LIMIT_NS);
	assert_int_equal(shared->slots_after, (1u << SLOT_COUNT) - 1);
	/* ... and a scan finds no one; no entry is left active in the table. */
	assert_int_equal(shared->scan_after, 0);
	assert_int_equal(shared->attached_after, 0);
	assert_true(table.mapped);
	assert_int_equal(table.active, 0);
	assert_int_equal(table.holding, 0);
	assert_int_equal(table.attached, 0);
	/* A fresh reader attaches and gets an intact frame. */
	if (!fresh)
		fail_msg("fresh reader could not attach: %s", strerror(fresh_errno));
	assert_int_equal(acquired, 0);
	assert_int_equal(intact, 1);
	assert_int_equal(fresh_stats.readers_attached, 1);
	/* The writer's exit removed its segment. */
	assert_false(harness->segment_left);
	harness_destroy(harness);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dead_readers_pin_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
