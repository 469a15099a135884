/* The world of the interleaving tests: see interleaving-world.h. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "interleaving-world.h"
#include "layout.h"
#include "protocol-steps.h"
#include "reader-private.h"
#include "shared-atomic.h"
#include "test-util.h"
#include "writer-private.h"

/* Enough for every bounded exploration here; more means the bound is too loose. */
#define MAX_RUNS 2000000

static void set_phase(struct world *world, enum reader_phase phase)
{
	world->phase = phase;
	world->phase_changes++;
}

static int publish_one(struct world *world)
{
	struct vshm_frame frame;
	if (vshm_writer_begin(world->writer, VSHM_FORMAT_GRAY8, WIDTH, HEIGHT, &frame) < 0)
		return -1;
	uint64_t n = frame.sequence;
	memcpy(frame.plane[0] + STAMP_FIRST, &n, sizeof(n));
	memcpy(frame.plane[0] + STAMP_SECOND, &n, sizeof(n));
	frame.frame_number = FRAME_NUMBER_BASE + n;
	if (vshm_writer_publish(world->writer, &frame) < 0)
		return -1;
	world->slot_publish[frame.slot] = n;
	world->latest_slot = frame.slot;
	return 0;
}

static int map_segment(struct world *world)
{
	char path[128];
	test_segment_path(world->name, path, sizeof(path));
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat status;
	if (fstat(fd, &status) < 0) {
		close(fd);
		return -1;
	}
	world->segment_size = (size_t)status.st_size;
	world->segment = mmap(NULL, world->segment_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (world->segment == MAP_FAILED) {
		world->segment = NULL;
		return -1;
	}
	return 0;
}

static void *save(const void *state, size_t size)
{
	void *copy = malloc(size);
	if (copy)
		memcpy(copy, state, size);
	return copy;
}

/* The stream every run starts from: created, the first frames published, two readers
 * attached; then all of it, shared and private, saved. */
static int prepare(void *data)
{
	struct world *world = data;
	world->latest_slot = UINT32_MAX;
	struct vshm_writer_options options = {
		.slot_count = SLOTS,
		.reader_capacity = 2,
		.max_format = VSHM_FORMAT_GRAY8,
		.max_width = WIDTH,
		.max_height = HEIGHT,
	};
	world->writer = vshm_writer_create(world->name, &options);
	if (!world->writer) {
		fprintf(stderr, "cannot create '%s': %s\n", world->name, vshm_error());
		return -1;
	}
	for (unsigned i = 0; i < world->initial_publishes; i++) {
		if (publish_one(world) < 0)
			return -1;
	}
	if (world->move_wait) {
		/* As after a move: nothing published yet, and a lossless reader of the old
		 * segment in the middle of attaching here, stopped for good between its count
		 * among the lossless readers and its looks at latest. It is alive: its entry's
		 * lock is held, through a file description of our own. */
		if (map_segment(world) < 0)
			return -1;
		struct vshm_shm_header *header = (struct vshm_shm_header *)world->segment;
		struct vshm_shm_reader *entry =
		    (struct vshm_shm_reader *)(world->segment + header->reader_table_offset);
		char path[128];
		test_segment_path(world->name, path, sizeof(path));
		world->attaching_fd = open(path, O_RDWR | O_CLOEXEC);
		if (world->attaching_fd < 0 ||
		    vshm_segment_lock(world->attaching_fd, header->reader_table_offset) < 0)
			return -1;
		atomic_store(&entry->state, VSHM_READER_ACTIVE);
		atomic_store(&header->reader_high_water, 1);
		atomic_store(&header->lossless_readers, 1);
		world->saved_passive_slot = -1;
		world->saved_segment = save(world->segment, world->segment_size);
		world->saved_writer = save(world->writer, vshm_step_writer_state_size());
		return world->saved_segment && world->saved_writer ? 0 : -1;
	}
	if (world->lossless_attach) {
		/* A writer that would wait for the lossless reader demotes it at once instead
		 * (a zero timeout, which the options cannot say): a wait sleeps in real time,
		 * and every run must be the same sequence of steps. */
		world->writer->options.lossless_timeout_ms = 0;
		world->saved_passive_slot = -1;
		if (map_segment(world) < 0)
			return -1;
		world->saved_segment = save(world->segment, world->segment_size);
		world->saved_writer = save(world->writer, vshm_step_writer_state_size());
		memcpy(world->saved_slot_publish, world->slot_publish, sizeof(world->slot_publish));
		world->saved_latest_slot = world->latest_slot;
		return world->saved_segment && world->saved_writer ? 0 : -1;
	}
	world->reader = vshm_reader_attach(world->name, NULL);
	world->passive = vshm_reader_attach(world->name, NULL);
	if (!world->reader || !world->passive || map_segment(world) < 0) {
		fprintf(stderr, "cannot attach to '%s': %s\n", world->name, vshm_error());
		return -1;
	}
	world->saved_passive_slot = -1;
	if (world->reader_starts_holding) {
		/* The reader holds frame 1, the passive reader frame 2, and frame 3 is the
		 * latest: every slot is taken. */
		struct vshm_frame held;
		if (publish_one(world) < 0 || vshm_reader_acquire(world->reader, &held) < 0)
			return -1;
		world->saved_held_slot = held.slot;
		if (publish_one(world) < 0 || vshm_reader_acquire(world->passive, &held) < 0 ||
		    publish_one(world) < 0)
			return -1;
		world->saved_passive_slot = (int)held.slot;
	}
	world->saved_segment = save(world->segment, world->segment_size);
	world->saved_writer = save(world->writer, vshm_step_writer_state_size());
	world->saved_reader = save(world->reader, vshm_step_reader_state_size());
	world->saved_passive = save(world->passive, vshm_step_reader_state_size());
	memcpy(world->saved_slot_publish, world->slot_publish, sizeof(world->slot_publish));
	world->saved_latest_slot = world->latest_slot;
	return world->saved_segment && world->saved_writer && world->saved_reader &&
	               world->saved_passive
	           ? 0
	           : -1;
}

static int reset(void *data)
{
	struct world *world = data;
	memcpy(world->segment, world->saved_segment, world->segment_size);
	memcpy(world->writer, world->saved_writer, vshm_step_writer_state_size());
	if (world->reader)
		memcpy(world->reader, world->saved_reader, vshm_step_reader_state_size());
	if (world->passive)
		memcpy(world->passive, world->saved_passive, vshm_step_reader_state_size());
	memcpy(world->slot_publish, world->saved_slot_publish, sizeof(world->slot_publish));
	world->latest_slot = world->saved_latest_slot;
	world->passive_slot = world->saved_passive_slot;
	world->held_slot = world->saved_held_slot;
	world->phase = world->reader_starts_holding ? READER_HOLDING : READER_IDLE;
	world->phase_changes = 0;
	world->writer_done = false;
	return 0;
}

static void finish(void *data)
{
	struct world *world = data;
	if (world->segment)
		munmap(world->segment, world->segment_size);
	vshm_reader_detach(world->reader);
	vshm_reader_detach(world->passive);
	vshm_writer_destroy(world->writer);
	if (world->attaching_fd > 0)
		close(world->attaching_fd);
	free(world->saved_segment);
	free(world->saved_writer);
	free(world->saved_reader);
	free(world->saved_passive);
}

/* Checked after every step, on shared memory as every other process sees it. */
static void check(void *data)
{
	const struct world *world = data;
	const struct vshm_shm_header *header = (const struct vshm_shm_header *)world->segment;
	const struct vshm_shm_slot *slots =
	    (const struct vshm_shm_slot *)(world->segment + header->slot_table_offset);
	uint64_t latest = atomic_load(&header->latest);
	if (latest == 0)
		return;
	uint32_t slot = (uint32_t)(latest & VSHM_LATEST_SLOT_MASK);
	uint64_t n = (latest >> VSHM_LATEST_SLOT_BITS) & VSHM_LATEST_NUMBER_MASK;
	if (n == 0)
		return;
	uint64_t sequence = atomic_load(&slots[slot].sequence);
	if (slot >= SLOTS || sequence != 2 * n)
		step_violation("latest names slot %u for frame %llu, but that slot's sequence is "
		               "%llu",
		               slot, (unsigned long long)n, (unsigned long long)sequence);
	/* No reader enters a frame in that scenario, so no count is ever below zero, even
	 * for a moment (a reader leaving before the writer has moved its count over). */
	for (uint32_t i = 0; world->reader_starts_holding && i < SLOTS; i++) {
		int64_t holders = atomic_load(&header->slot_holders[i]);
		if (holders < 0)
			step_violation("slot %u has %lld holders: a reader took itself off a count "
			               "that no longer counted it",
			               i, (long long)holders);
	}
}

/* The slot the writer must choose when nothing is in the way: the least recently
 * published one that is not the latest and that no passive reader holds. */
static uint32_t oldest_free(const struct world *world, uint32_t also_held)
{
	uint32_t best = UINT32_MAX;
	for (uint32_t i = 0; i < SLOTS; i++) {
		if (i == world->latest_slot || (int)i == world->passive_slot || i == also_held)
			continue;
		if (best == UINT32_MAX || world->slot_publish[i] < world->slot_publish[best])
			best = i;
	}
	return best;
}

static void writer_script(void *data)
{
	struct world *world = data;
	if (world->move_wait) {
		/* One look of the wait that ends a move: the lossless reader the writer waits
		 * for is still attaching, so it must say no, whatever the lossy one does. */
		if (vshm_writer_lossless_readers_here(world->writer, 1))
			step_violation(
			    "a writer that moved would publish its first frame while its "
			    "lossless reader is still attaching");
		world->writer_done = true;
		return;
	}
	/* As a program asked to wait for its readers before the first frame does. */
	for (struct vshm_writer_stats stats; world->writer_waits;) {
		vshm_writer_get_stats(world->writer, &stats);
		if (stats.readers_attached >= 1)
			break;
		step_wait("writer waits for a reader");
	}
	for (unsigned i = 0; i < world->publishes && step_ok(); i++) {
		enum reader_phase phase_before = world->phase;
		uint64_t changes_before = world->phase_changes;
		/* A store the reader made may not be visible yet under a weak memory model:
		 * until it is, the writer may still see the reader's hold. */
		bool reader_settled = step_pending_stores(READER_ACTOR) == 0;
		struct vshm_frame frame;
		if (vshm_writer_begin(world->writer, VSHM_FORMAT_GRAY8, WIDTH, HEIGHT, &frame) <
		    0) {
			step_violation("writer: begin failed: %s", vshm_error());
			return;
		}
		uint32_t held = world->phase == READER_HOLDING ? world->held_slot : UINT32_MAX;
		uint32_t free_slot = oldest_free(world, held);
		if (frame.slot == held && free_slot != UINT32_MAX)
			step_violation(
			    "writer chose slot %u, which the reader holds, while slot %u "
			    "was free",
			    frame.slot, free_slot);
		bool reader_quiet = reader_settled && phase_before == READER_IDLE &&
		                    world->phase == READER_IDLE &&
		                    world->phase_changes == changes_before;
		if (reader_quiet && frame.slot != oldest_free(world, UINT32_MAX))
			step_violation("writer chose slot %u with no reader in the way; the oldest "
			               "free slot was %u",
			               frame.slot, oldest_free(world, UINT32_MAX));
		uint64_t n = frame.sequence;
		step_point("write the first half of the pixels");
		memcpy(frame.plane[0] + STAMP_FIRST, &n, sizeof(n));
		step_point("write the second half of the pixels");
		memcpy(frame.plane[0] + STAMP_SECOND, &n, sizeof(n));
		frame.frame_number = FRAME_NUMBER_BASE + n;
		if (vshm_writer_publish(world->writer, &frame) < 0) {
			step_violation("writer: publish failed");
			return;
		}
		world->slot_publish[frame.slot] = n;
		world->latest_slot = frame.slot;
		if (i == 0 && world->passive_after_first) {
			struct vshm_frame held_frame;
			if (vshm_reader_acquire(world->passive, &held_frame) == 0)
				world->passive_slot = (int)held_frame.slot;
		}
	}
	world->writer_done = true;
}

static void reader_script(void *data)
{
	struct world *world = data;
	if (world->reader_starts_holding) {
		set_phase(world, READER_RELEASING);
		vshm_reader_release(world->reader);
		set_phase(world, READER_IDLE);
		return;
	}
	struct vshm_frame frame;
	set_phase(world, READER_ACQUIRING);
	int result = vshm_reader_acquire(world->reader, &frame);
	if (result < 0) {
		set_phase(world, READER_IDLE); /* retried too often: allowed, nothing taken */
		return;
	}
	world->held_slot = frame.slot;
	set_phase(world, READER_HOLDING);
	if (frame.frame_number != FRAME_NUMBER_BASE + frame.sequence)
		step_violation("acquire handed out the metadata of frame %llu as frame %llu",
		               (unsigned long long)(frame.frame_number - FRAME_NUMBER_BASE),
		               (unsigned long long)frame.sequence);
	uint64_t first, second;
	step_point("read the first half of the pixels");
	memcpy(&first, frame.plane[0] + STAMP_FIRST, sizeof(first));
	step_point("read the second half of the pixels");
	memcpy(&second, frame.plane[0] + STAMP_SECOND, sizeof(second));
	set_phase(world, READER_RELEASING);
	int intact = vshm_reader_release(world->reader);
	set_phase(world, READER_IDLE);
	if (intact == 1 && (first != frame.sequence || second != frame.sequence))
		step_violation("release called frame %llu intact, but its pixels said %llu and "
		               "%llu",
		               (unsigned long long)frame.sequence, (unsigned long long)first,
		               (unsigned long long)second);
}

/* Attaches as lossless, then takes every frame it can without waiting: each must be the
 * one after the last, starting after the frame it attached after, unless the writer
 * gave up waiting for it (demoted, it takes the latest frames, which may skip). */
static void lossless_reader_script(void *data)
{
	struct world *world = data;
	struct vshm_reader_options options = { .lossless = true };
	struct vshm_reader *reader = vshm_reader_attach(world->name, &options);
	if (!reader) {
		step_violation("lossless reader: attach failed: %s", vshm_error());
		return;
	}
	/* A writer that waited for this reader publishes nothing before it is attached,
	 * so it must take every frame. */
	if (world->writer_waits && reader->attached_after != 0)
		step_violation("the writer waited for this lossless reader before its first frame, "
		               "yet it attached after frame %llu",
		               (unsigned long long)reader->attached_after);
	uint64_t expected = reader->attached_after + 1;
	for (unsigned taken = 0; taken <= world->publishes && step_ok();) {
		struct vshm_frame frame;
		set_phase(world, READER_ACQUIRING);
		if (vshm_reader_acquire(reader, &frame) < 0) {
			set_phase(world, READER_IDLE);
			/* A writer that waits for us publishes only after we are attached. */
			if (!world->writer_waits || world->writer_done)
				break;
			step_wait("reader waits for a frame");
			continue;
		}
		taken++;
		world->held_slot = frame.slot;
		set_phase(world, READER_HOLDING);
		/* Demoted, it may miss frames: the writer went on without it. Its own look at
		 * the flag may come too late to say so (the writer can give up on it during
		 * this acquire), so we look at the entry. */
		uint32_t flags = atomic_load(&vshm_reader_own_entry(reader)->flags);
		if (!(flags & VSHM_READER_DEMOTED) && frame.sequence != expected)
			step_violation(
			    "a lossless reader that attached after frame %llu took frame "
			    "%llu where frame %llu was next",
			    (unsigned long long)reader->attached_after,
			    (unsigned long long)frame.sequence, (unsigned long long)expected);
		expected = frame.sequence + 1;
		set_phase(world, READER_RELEASING);
		vshm_reader_release(reader);
		set_phase(world, READER_IDLE);
	}
	/* Detaching unmaps the segment: a system call, which empties the store buffer
	 * first (stores held back there must not land after the mapping is gone). */
	vshm_step_fence(memory_order_seq_cst);
	vshm_reader_detach(reader);
}

/* A lossy reader comes and goes, while the writer looks whether its move is done. */
static void lossy_reader_passing_script(void *data)
{
	struct world *world = data;
	struct vshm_reader *reader = vshm_reader_attach(world->name, NULL);
	if (!reader) {
		step_violation("lossy reader: attach failed: %s", vshm_error());
		return;
	}
	vshm_step_fence(memory_order_seq_cst); /* detach unmaps: see above */
	vshm_reader_detach(reader);
}

void explore_world(const char *scenario_name, struct world world, enum step_model model,
                   unsigned bound)
{
	test_unique_name(world.name, sizeof(world.name), "steps");
	struct step_scenario scenario = {
		.name = scenario_name,
		.prepare = prepare,
		.reset = reset,
		.finish = finish,
		.scripts = { writer_script, world.move_wait         ? lossy_reader_passing_script
		                            : world.lossless_attach ? lossless_reader_script
		                                                    : reader_script },
		.names = { "writer", "reader" },
		.check = check,
		.data = &world,
	};
	struct step_statistics statistics;
	int result = step_explore(&scenario, model, bound, MAX_RUNS, &statistics);
	printf("%s, %s, at most %u preemptions: %llu runs, %llu steps, up to %llu decisions "
	       "a run%s%s\n",
	       scenario_name, step_model_name(model), bound, (unsigned long long)statistics.runs,
	       (unsigned long long)statistics.steps, (unsigned long long)statistics.deepest,
	       result ? ": " : "", result ? statistics.message : "");
	fflush(stdout);
	test_segment_remove(world.name);
	assert_int_equal(result, 0);
}
