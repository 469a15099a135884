/*
 * Every interleaving, up to a bound, of the real writer and reader code, one step at a
 * time (protocol-steps.h), under three memory models (interleaving-world.h has the
 * stream, the scripts and the exploration). At every step:
 *
 *   - `latest` never names a slot whose sequence is not the even count of that frame
 *     (no reader can be sent to a slot being written);
 *   - a reader never accepts a torn frame: the metadata acquire hands out is the frame
 *     it names, and pixels read from a frame that release calls intact are that frame's;
 *   - the writer never chooses a slot a reader holds while another is free, and, with
 *     no reader in the middle of acquiring or releasing, it chooses the oldest free
 *     slot (a hold left behind would make it skip one).
 *
 * The scenarios: one publish against one acquire and release; two publishes against
 * one; three, which is what it takes for the slot a reader holds to become the oldest;
 * three with a second reader holding a slot, so that the writer has to overwrite one
 * under a reader; and a release that may stop between its two steps while the writer,
 * finding every slot held, scans the reader table again and again: a holder count must
 * never drop below the readers that hold the slot (the writer's repair of counts must
 * not take the count of a reader that is only slow). Lossless readers attaching are
 * test-interleavings-lossless.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "interleaving-world.h"

static void explore(const char *scenario_name, unsigned initial, unsigned publishes, bool passive,
                    enum step_model model, unsigned bound)
{
	struct world world = {
		.initial_publishes = initial,
		.publishes = publishes,
		.passive_after_first = passive,
	};
	explore_world(scenario_name, world, model, bound);
}

static void one_publish_against_acquire_and_release(void **state)
{
	(void)state;
	for (int model = STEP_MODEL_SC; model <= STEP_MODEL_STORE_LOAD; model++)
		explore("one publish, one acquire and release", 2, 1, false, model, BOUND);
}

static void two_publishes_against_acquire_and_release(void **state)
{
	(void)state;
	for (int model = STEP_MODEL_SC; model <= STEP_MODEL_STORE_LOAD; model++)
		explore("two publishes, one acquire and release", 3, 2, false, model, BOUND);
}

static void three_publishes_reach_the_held_slot(void **state)
{
	(void)state;
	for (int model = STEP_MODEL_SC; model <= STEP_MODEL_STORE_LOAD; model++)
		explore("three publishes, one acquire and release", 3, 3, false, model, BOUND);
}

static void overwrite_under_a_reader(void **state)
{
	(void)state;
	for (int model = STEP_MODEL_SC; model <= STEP_MODEL_STORE_LOAD; model++)
		explore("three publishes, a second reader holding, one acquire and release", 2, 3,
		        true, model, BOUND);
}

static void a_slow_release_keeps_its_count_while_the_writer_scans(void **state)
{
	(void)state;
	for (int model = STEP_MODEL_SC; model <= STEP_MODEL_STORE_LOAD; model++) {
		struct world world = { .publishes = 3, .reader_starts_holding = true };
		explore_world("every slot taken, three publishes, a release", world, model, BOUND);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_publish_against_acquire_and_release),
		cmocka_unit_test(two_publishes_against_acquire_and_release),
		cmocka_unit_test(three_publishes_reach_the_held_slot),
		cmocka_unit_test(overwrite_under_a_reader),
		cmocka_unit_test(a_slow_release_keeps_its_count_while_the_writer_scans),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
