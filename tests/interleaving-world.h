/*
 * The world of test-interleavings and test-interleavings-lossless: a stream of SLOTS
 * slots made by the real writer, the scripts that drive it and its readers one protocol
 * step at a time (protocol-steps.h), the properties checked after every step, and the
 * exploration of a scenario under a memory model.
 */
#ifndef VSHM_TEST_INTERLEAVING_WORLD_H
#define VSHM_TEST_INTERLEAVING_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vshm/vshm.h>

#include "protocol-steps.h"

#define SLOTS  3
#define WIDTH  64
#define HEIGHT 16
/* Frame numbers say which publish a frame's metadata belongs to. */
#define FRAME_NUMBER_BASE 1000
/* Where the pixels carry the publish number: two places the writer fills one after the
 * other, so a reader can see a half-written frame. */
#define STAMP_FIRST  0
#define STAMP_SECOND (WIDTH * HEIGHT / 2)
enum reader_phase { READER_IDLE, READER_ACQUIRING, READER_HOLDING, READER_RELEASING };

/* The scripts' places in the scenario. */
#define WRITER_ACTOR 0
#define READER_ACTOR 1

struct world {
	char name[64];
	unsigned initial_publishes;
	unsigned publishes;         /* by the writer's script */
	bool passive_after_first;   /* a second reader takes the latest frame after the first */
	bool reader_starts_holding; /* prepare() leaves both readers holding a frame */
	bool lossless_attach;       /* the reader's script attaches, as lossless */
	bool writer_waits;          /* the writer's script waits for a reader to attach */
	bool move_wait;             /* the writer looks as after a move; a lossy reader attaches */
	int attaching_fd;           /* holds the lock of a lossless reader still attaching */
	bool writer_done;           /* the writer's script has published all it will */
	struct vshm_writer *writer;
	struct vshm_reader *reader;
	struct vshm_reader *passive;
	/* Our own mapping of the whole segment: to check `latest`, and to put the segment
	 * back as it was after prepare() before each run. */
	uint8_t *segment;
	size_t segment_size;
	/* What really happened, as the scripts saw it. */
	uint64_t slot_publish[SLOTS];
	uint32_t latest_slot;
	int passive_slot;
	enum reader_phase phase;
	uint32_t held_slot;
	uint64_t phase_changes;
	/* The state every run starts from, saved by prepare(). */
	uint8_t *saved_segment;
	void *saved_writer, *saved_reader, *saved_passive;
	uint64_t saved_slot_publish[SLOTS];
	uint32_t saved_latest_slot;
	uint32_t saved_held_slot;
	int saved_passive_slot;
};

/* How many preemptions each exploration allows: enough for every ordering bug of the
 * protocol found so far, which need one or two. */
#define BOUND 2

/*
 * Explores every schedule of world's scenario (its flags choose the scripts) under model
 * with at most bound preemptions, printing what it explored; fails the test on the first
 * violation, whose schedule is printed. world.name is set here.
 */
void explore_world(const char *scenario_name, struct world world, enum step_model model,
                   unsigned bound);

#endif
