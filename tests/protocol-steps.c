/*
 * The scheduler and memory models of protocol-steps.h. The scripts are coroutines
 * (ucontext) in one thread: a step is a switch of stacks, so hundreds of thousands of
 * runs take seconds, and nothing but the scheduler decides what runs next.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "protocol-steps.h"
#include "shared-atomic.h"

#define STACK_SIZE      (256 * 1024)
#define BUFFER_CAPACITY 64
#define MAX_DECISIONS   4096
#define TRACE_LINES     4096

struct buffered_store {
	volatile void *object;
	size_t size;
	uint64_t value;
};

struct actor {
	ucontext_t context;
	void *stack;
	bool finished;
	/* In step_wait(): not run again until another script has moved. */
	bool waiting;
	/* Stores not yet visible to anyone else, oldest first. */
	struct buffered_store buffer[BUFFER_CAPACITY];
	unsigned buffered;
	/* What the actor will do when it runs next, for the trace. */
	char next[96];
};

enum action_kind { ACTION_RUN, ACTION_FLUSH };

struct action {
	enum action_kind kind;
	int actor;
	unsigned cost; /* preemptions this choice spends */
};

struct decision {
	unsigned taken;
	unsigned count;
};

static struct {
	const struct step_scenario *scenario;
	enum step_model model;
	struct actor actors[STEP_ACTORS];
	ucontext_t scheduler;
	int self; /* the running actor, or -1 in the scheduler */
	bool stepping;
	bool violated;
	char message[512];
	char trace[TRACE_LINES][112];
	unsigned trace_length;
	struct decision path[MAX_DECISIONS];
	unsigned path_length; /* decisions fixed for this run */
	unsigned depth;       /* decisions made in this run */
} steps = { .self = -1 };

const char *step_model_name(enum step_model model)
{
	static const char *const names[] = {
		[STEP_MODEL_SC] = "sequential consistency",
		[STEP_MODEL_TSO] = "TSO (x86)",
		[STEP_MODEL_STORE_LOAD] = "store-load reordering (C11)",
	};
	return names[model];
}

static const char *order_name(memory_order order)
{
	switch (order) {
	case memory_order_relaxed:
		return "relaxed";
	case memory_order_acquire:
		return "acquire";
	case memory_order_release:
		return "release";
	case memory_order_seq_cst:
		return "seq_cst";
	default:
		return "other";
	}
}

static void add_trace(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void add_trace(const char *format, ...)
{
	if (steps.trace_length == TRACE_LINES)
		return;
	va_list arguments;
	va_start(arguments, format);
	vsnprintf(steps.trace[steps.trace_length++], sizeof(steps.trace[0]), format, arguments);
	va_end(arguments);
}

void step_violation(const char *format, ...)
{
	if (steps.violated)
		return;
	steps.violated = true;
	va_list arguments;
	va_start(arguments, format);
	vsnprintf(steps.message, sizeof(steps.message), format, arguments);
	va_end(arguments);
	add_trace("VIOLATION: %s", steps.message);
}

bool step_ok(void)
{
	return !steps.violated;
}

/* The word at object as it is in memory, by size. */
static uint64_t memory_load(volatile void *object, size_t size)
{
	switch (size) {
	case 8:
		return __atomic_load_n((volatile uint64_t *)object, __ATOMIC_SEQ_CST);
	case 4:
		return __atomic_load_n((volatile uint32_t *)object, __ATOMIC_SEQ_CST);
	case 2:
		return __atomic_load_n((volatile uint16_t *)object, __ATOMIC_SEQ_CST);
	default:
		return __atomic_load_n((volatile uint8_t *)object, __ATOMIC_SEQ_CST);
	}
}

static void memory_store(volatile void *object, size_t size, uint64_t value)
{
	switch (size) {
	case 8:
		__atomic_store_n((volatile uint64_t *)object, value, __ATOMIC_SEQ_CST);
		break;
	case 4:
		__atomic_store_n((volatile uint32_t *)object, (uint32_t)value, __ATOMIC_SEQ_CST);
		break;
	case 2:
		__atomic_store_n((volatile uint16_t *)object, (uint16_t)value, __ATOMIC_SEQ_CST);
		break;
	default:
		__atomic_store_n((volatile uint8_t *)object, (uint8_t)value, __ATOMIC_SEQ_CST);
		break;
	}
}

/* Makes the oldest buffered store of an actor visible to everyone. */
static void flush_one(struct actor *actor)
{
	struct buffered_store *oldest = &actor->buffer[0];
	memory_store(oldest->object, oldest->size, oldest->value);
	memmove(&actor->buffer[0], &actor->buffer[1],
	        (actor->buffered - 1) * sizeof(actor->buffer[0]));
	actor->buffered--;
}

static void drain(struct actor *actor)
{
	while (actor->buffered)
		flush_one(actor);
}

/* Stops the running actor before its next operation, until the scheduler picks it. */
static void park(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void park(const char *format, ...)
{
	if (!steps.stepping || steps.self < 0)
		return;
	struct actor *actor = &steps.actors[steps.self];
	va_list arguments;
	va_start(arguments, format);
	vsnprintf(actor->next, sizeof(actor->next), format, arguments);
	va_end(arguments);
	swapcontext(&actor->context, &steps.scheduler);
}

static struct actor *running(void)
{
	return steps.stepping && steps.self >= 0 ? &steps.actors[steps.self] : NULL;
}

uint64_t vshm_step_load(volatile void *object, size_t size, memory_order order)
{
	park("load %s %p", order_name(order), (void *)object);
	struct actor *actor = running();
	if (!actor)
		return memory_load(object, size);
	if (steps.model == STEP_MODEL_STORE_LOAD && order == memory_order_seq_cst)
		drain(actor);
	/* A thread sees its own stores first, newest first. */
	for (unsigned i = actor->buffered; i-- > 0;) {
		if (actor->buffer[i].object == object)
			return actor->buffer[i].value;
	}
	return memory_load(object, size);
}

void vshm_step_store(volatile void *object, size_t size, uint64_t value, memory_order order)
{
	park("store %s %p = %llu", order_name(order), (void *)object, (unsigned long long)value);
	struct actor *actor = running();
	bool buffered =
	    actor && ((steps.model == STEP_MODEL_TSO && order != memory_order_seq_cst) ||
	              steps.model == STEP_MODEL_STORE_LOAD);
	if (actor && steps.model == STEP_MODEL_TSO && order == memory_order_seq_cst)
		drain(actor); /* a locked instruction: the buffer empties, then the store */
	if (!buffered) {
		memory_store(object, size, value);
		return;
	}
	if (actor->buffered == BUFFER_CAPACITY)
		flush_one(actor);
	actor->buffer[actor->buffered++] = (struct buffered_store){ object, size, value };
}

uint64_t vshm_step_fetch_add(volatile void *object, size_t size, uint64_t value, memory_order order)
{
	park("fetch_add %s %p += %llu", order_name(order), (void *)object,
	     (unsigned long long)value);
	struct actor *actor = running();
	if (actor)
		drain(actor); /* read-modify-writes are locked: the buffer empties first */
	uint64_t old = memory_load(object, size);
	memory_store(object, size, old + value);
	return old;
}

uint64_t vshm_step_exchange(volatile void *object, size_t size, uint64_t value, memory_order order)
{
	park("exchange %s %p = %llu", order_name(order), (void *)object, (unsigned long long)value);
	struct actor *actor = running();
	if (actor)
		drain(actor); /* read-modify-writes are locked: the buffer empties first */
	uint64_t old = memory_load(object, size);
	memory_store(object, size, value);
	return old;
}

bool vshm_step_compare_exchange(volatile void *object, size_t size, void *expected,
                                uint64_t desired, memory_order order)
{
	uint64_t wanted = 0;
	memcpy(&wanted, expected, size); /* little-endian: the low bytes are the value */
	park("compare_exchange %s %p: %llu -> %llu", order_name(order), (void *)object,
	     (unsigned long long)wanted, (unsigned long long)desired);
	struct actor *actor = running();
	if (actor)
		drain(actor);
	uint64_t current = memory_load(object, size);
	if (current == wanted) {
		memory_store(object, size, desired);
		return true;
	}
	memcpy(expected, &current, size);
	return false;
}

void vshm_step_fence(memory_order order)
{
	park("fence %s", order_name(order));
	struct actor *actor = running();
	if (!actor)
		return;
	if (order == memory_order_seq_cst && steps.model != STEP_MODEL_SC)
		drain(actor);
	/* Plain stores do not go through the buffer, so a release fence must empty it to
	 * keep the stores before it ahead of the plain ones after it. */
	if ((order == memory_order_release || order == memory_order_acq_rel) &&
	    steps.model == STEP_MODEL_STORE_LOAD)
		drain(actor);
}

void vshm_step(void)
{
	park("plain access");
}

unsigned step_pending_stores(int actor)
{
	return steps.actors[actor].buffered;
}

void step_point(const char *what)
{
	park("%s", what);
}

void step_wait(const char *what)
{
	if (running())
		running()->waiting = true;
	park("%s", what);
}

static void script_entry(int index)
{
	steps.scenario->scripts[index](steps.scenario->data);
	steps.actors[index].finished = true;
	/* uc_link returns to the scheduler. */
}

/* The choices open at this point of a run, the cheapest first. */
static unsigned enabled_actions(int last, unsigned preemptions, unsigned bound,
                                struct action *actions)
{
	unsigned count = 0;
	/* A script that waits gives way: switching from it is no preemption. */
	bool can_continue =
	    last >= 0 && !steps.actors[last].finished && !steps.actors[last].waiting;
	if (can_continue)
		actions[count++] = (struct action){ ACTION_RUN, last, 0 };
	for (int i = 0; i < STEP_ACTORS; i++) {
		if (i == last || steps.actors[i].finished || steps.actors[i].waiting)
			continue;
		unsigned cost = can_continue ? 1 : 0;
		if (preemptions + cost <= bound)
			actions[count++] = (struct action){ ACTION_RUN, i, cost };
	}
	bool all_finished = true;
	for (int i = 0; i < STEP_ACTORS; i++)
		all_finished = all_finished && steps.actors[i].finished;
	/* With no script able to run, a flush is no preemption: nothing else can happen. */
	bool none_can_run = count == 0;
	for (int i = 0; i < STEP_ACTORS; i++) {
		if (!steps.actors[i].buffered)
			continue;
		/* Once every script is done, the buffers empty in one fixed order. */
		unsigned cost = none_can_run ? 0 : 1;
		if (all_finished && count > 0)
			continue;
		if (preemptions + cost <= bound)
			actions[count++] = (struct action){ ACTION_FLUSH, i, cost };
	}
	return count;
}

static void print_trace(void)
{
	printf("schedule of the failing run (%s, %s):\n", steps.scenario->name,
	       step_model_name(steps.model));
	for (unsigned i = 0; i < steps.trace_length; i++)
		printf("  %3u %s\n", i, steps.trace[i]);
}

/* One run along steps.path (extended with first choices). Returns 0, or -1 on a setup
 * failure. */
static int run_once(unsigned bound, struct step_statistics *statistics)
{
	const struct step_scenario *scenario = steps.scenario;
	steps.stepping = false;
	steps.violated = false;
	steps.trace_length = 0;
	steps.depth = 0;
	if (scenario->reset(scenario->data) < 0)
		return -1;
	for (int i = 0; i < STEP_ACTORS; i++) {
		struct actor *actor = &steps.actors[i];
		actor->finished = false;
		actor->waiting = false;
		actor->buffered = 0;
		snprintf(actor->next, sizeof(actor->next), "start");
		getcontext(&actor->context);
		actor->context.uc_stack.ss_sp = actor->stack;
		actor->context.uc_stack.ss_size = STACK_SIZE;
		actor->context.uc_link = &steps.scheduler;
		makecontext(&actor->context, (void (*)(void))script_entry, 1, i);
	}
	steps.stepping = true;
	int last = -1;
	unsigned preemptions = 0;
	for (;;) {
		scenario->check(scenario->data);
		if (steps.violated)
			break;
		struct action actions[2 * STEP_ACTORS + 1];
		unsigned count = enabled_actions(last, preemptions, bound, actions);
		if (count == 0) {
			for (int i = 0; i < STEP_ACTORS; i++) {
				if (!steps.actors[i].finished)
					step_violation(
					    "%s waits for ever: every other script is done or "
					    "waits too",
					    scenario->names[i]);
			}
			break;
		}
		unsigned choice = 0;
		if (steps.depth < steps.path_length) {
			choice = steps.path[steps.depth].taken;
		} else if (steps.depth < MAX_DECISIONS) {
			steps.path[steps.depth] = (struct decision){ 0, count };
			steps.path_length = steps.depth + 1;
		}
		if (choice >= count)
			choice = count - 1; /* cannot happen: runs replay exactly */
		steps.depth++;
		struct action *action = &actions[choice];
		preemptions += action->cost;
		struct actor *actor = &steps.actors[action->actor];
		/* Whatever happens now may be what a waiting script waits for. */
		for (int i = 0; i < STEP_ACTORS; i++) {
			if (i != action->actor)
				steps.actors[i].waiting = false;
		}
		if (action->kind == ACTION_FLUSH) {
			add_trace("%-7s flush %p = %llu", scenario->names[action->actor],
			          (void *)actor->buffer[0].object,
			          (unsigned long long)actor->buffer[0].value);
			flush_one(actor);
			continue;
		}
		add_trace("%-7s %s", scenario->names[action->actor], actor->next);
		last = action->actor;
		steps.self = action->actor;
		swapcontext(&steps.scheduler, &actor->context);
		steps.self = -1;
		statistics->steps++;
	}
	steps.stepping = false;
	if (!steps.violated)
		scenario->check(scenario->data);
	if (steps.depth > statistics->deepest)
		statistics->deepest = steps.depth;
	return 0;
}

/* Moves steps.path to the next unexplored schedule; false when all are done. */
static bool next_path(void)
{
	unsigned length = steps.path_length < steps.depth ? steps.path_length : steps.depth;
	while (length > 0) {
		struct decision *decision = &steps.path[length - 1];
		if (decision->taken + 1 < decision->count) {
			decision->taken++;
			steps.path_length = length;
			return true;
		}
		length--;
	}
	return false;
}

int step_explore(const struct step_scenario *scenario, enum step_model model, unsigned bound,
                 uint64_t max_runs, struct step_statistics *statistics)
{
	memset(statistics, 0, sizeof(*statistics));
	steps.scenario = scenario;
	steps.model = model;
	steps.path_length = 0;
	for (int i = 0; i < STEP_ACTORS; i++) {
		steps.actors[i].stack = malloc(STACK_SIZE);
		if (!steps.actors[i].stack)
			return -2;
	}
	int result = 0;
	if (scenario->prepare(scenario->data) < 0) {
		snprintf(statistics->message, sizeof(statistics->message),
		         "the scenario could not be prepared");
		result = -2;
	}
	while (result == 0) {
		if (statistics->runs == max_runs) {
			snprintf(statistics->message, sizeof(statistics->message),
			         "stopped after %llu runs without exploring everything",
			         (unsigned long long)max_runs);
			result = -2;
			break;
		}
		if (run_once(bound, statistics) < 0) {
			snprintf(statistics->message, sizeof(statistics->message),
			         "the scenario could not be reset");
			result = -2;
			break;
		}
		statistics->runs++;
		if (steps.violated) {
			statistics->violation = true;
			snprintf(statistics->message, sizeof(statistics->message), "%s",
			         steps.message);
			print_trace();
			result = -1;
			break;
		}
		if (!next_path())
			break;
	}
	scenario->finish(scenario->data);
	for (int i = 0; i < STEP_ACTORS; i++) {
		free(steps.actors[i].stack);
		steps.actors[i].stack = NULL;
	}
	return result;
}
