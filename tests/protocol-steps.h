/*
 * Deterministic interleavings of the real protocol code (common/shared-atomic.h).
 *
 * libvshm is built once more with VSHM_PROTOCOL_STEPS, which turns every atomic
 * operation of the slot protocol into a call to this module. A scenario runs two
 * scripts, each in its own thread (a writer and a reader, say), but only one of them
 * moves at a time: each stops before every shared-memory operation and waits for the
 * scheduler here to choose what happens next. The scheduler explores every order of
 * those operations (depth first, each run replayed from the start) with at most
 * `bound` preemptions, and under a chosen memory model:
 *
 *   STEP_MODEL_SC          every store is seen by everyone at once (sequential
 *                          consistency: finds ordering bugs in the algorithm);
 *   STEP_MODEL_TSO         x86's model: stores other than seq_cst wait in the thread's
 *                          FIFO store buffer until the scheduler flushes them, so a later
 *                          load can overtake them (finds a weakened seq_cst store);
 *   STEP_MODEL_STORE_LOAD  C11's guarantee only: any store may wait in the buffer until
 *                          a seq_cst load, an RMW or a fence drains it, so a seq_cst
 *                          store followed by a relaxed load can be reordered, as it can
 *                          on AArch64 (finds a load moved before the store it needs).
 *
 * After every step the scenario checks its properties on shared memory; a script may
 * also report a violation itself. The first violation stops the exploration and the
 * schedule that led to it is printed.
 */
#ifndef VSHM_TEST_PROTOCOL_STEPS_H
#define VSHM_TEST_PROTOCOL_STEPS_H

#include <stdbool.h>
#include <stdint.h>

enum step_model {
	STEP_MODEL_SC,
	STEP_MODEL_TSO,
	STEP_MODEL_STORE_LOAD,
};

#define STEP_ACTORS 2

struct step_scenario {
	const char *name;
	/* Run unscheduled (stepping is off): prepare() once, before the exploration (it
	 * creates the stream and the state every run starts from); reset() before each run
	 * (it puts that state back); finish() once at the end. prepare() and reset() return
	 * 0, or -1 after reporting why. */
	int (*prepare)(void *data);
	int (*reset)(void *data);
	void (*finish)(void *data);
	/* The two scripts, each run in its own thread; their shared-memory steps are
	 * scheduled. names[] name them in traces ("writer", "reader"). */
	void (*scripts[STEP_ACTORS])(void *data);
	const char *names[STEP_ACTORS];
	/* Called after every step with every script stopped (or done): checks properties
	 * on shared memory, reporting a violation through step_violation(). */
	void (*check)(void *data);
	void *data;
};

struct step_statistics {
	uint64_t runs;
	uint64_t steps;
	uint64_t deepest; /* the most scheduling decisions in one run */
	bool violation;
	char message[512];
};

/*
 * Explores every schedule of the scenario with at most bound preemptions (a switch
 * away from a script that could have gone on, or a store flushed early). Returns 0 when
 * no run violated a property, -1 when one did (statistics->message says which, and
 * the schedule was printed on stdout), -2 if preparing failed or the limit of runs was
 * hit.
 */
int step_explore(const struct step_scenario *scenario, enum step_model model, unsigned bound,
                 uint64_t max_runs, struct step_statistics *statistics);

/* Reports a property violation from a script or a check (printf format). */
void step_violation(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* True while the current run has no violation yet. */
bool step_ok(void);

/* Stores of an actor (by index in scripts[]) that nobody else can see yet. */
unsigned step_pending_stores(int actor);

/* A scheduling point in a script's own code: before a plain access to shared memory
 * that another script may observe (writing pixels, reading them). */
void step_point(const char *what);

/* A scheduling point in a script's loop that waits for another script (polls a word
 * until it changes, say): the script is not run again until another one has taken a
 * step or had a store flushed, and switching away from it is no preemption. A run in
 * which every script that is not done waits is a violation. */
void step_wait(const char *what);

const char *step_model_name(enum step_model model);

#endif
