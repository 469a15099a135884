/*
 * Every interleaving, up to a bound, of the real writer and a reader attaching as
 * lossless, one step at a time, under three memory models (interleaving-world.h; the
 * properties checked at every step are those of test-interleavings.c). The scenarios:
 *
 *   - a reader attaching as lossless while the writer publishes: it must take every
 *     frame after the one it says it attached after, in order, with none missing (a
 *     writer that looked for lossless readers before this one was counted does not wait
 *     for it, so the reader must not count on frames that writer may already have
 *     overwritten);
 *   - a writer that waits for that reader before its first frame, as `--wait-readers`
 *     does: the reader must take the writer's every frame, from the first;
 *   - a writer that has moved to a new segment, looking whether it may publish there
 *     (its lossless reader is done attaching), while that reader is still attaching and
 *     a lossy reader comes and goes: the writer must not go on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "interleaving-world.h"

/* The writer's warning for each demotion, in hundreds of runs, says nothing here. */
static void count_warnings(enum vshm_log_level level, const char *message, void *data)
{
	(void)level;
	(void)message;
	(*(unsigned *)data)++;
}

/* Four publishes: what it takes for a writer that has not seen the reader to overwrite
 * the frame after the one the reader loaded first. */
static void a_lossless_reader_attaching_misses_no_frame(void **state)
{
	(void)state;
	unsigned warnings = 0;
	vshm_log_set_handler(count_warnings, &warnings);
	for (int model = STEP_MODEL_SC; model <= STEP_MODEL_STORE_LOAD; model++) {
		struct world world = { .initial_publishes = 3,
			               .publishes = 4,
			               .lossless_attach = true };
		explore_world("four publishes, a lossless reader attaching", world, model, BOUND);
	}
	vshm_log_set_handler(NULL, NULL);
	printf("the writer demoted the lossless reader in %u runs\n", warnings);
}

/* Four publishes after the writer saw the reader counted: the writer claims frame 1's
 * slot again at the fourth, before it sees the reader's flag unless the reader is done
 * attaching when it is counted. */
static void a_lossless_reader_waited_for_takes_the_first_frame(void **state)
{
	(void)state;
	unsigned warnings = 0;
	vshm_log_set_handler(count_warnings, &warnings);
	for (int model = STEP_MODEL_SC; model <= STEP_MODEL_STORE_LOAD; model++) {
		struct world world = { .publishes = 4,
			               .lossless_attach = true,
			               .writer_waits = true };
		explore_world("a writer waiting for a lossless reader, then four publishes", world,
		              model, BOUND);
	}
	vshm_log_set_handler(NULL, NULL);
	printf("the writer demoted the lossless reader in %u runs\n", warnings);
}

/* The writer's look at the reader table after a move, against a lossy reader that
 * attaches and detaches (every reader of the old segment comes over at once), while its
 * lossless reader is still attaching. */
static void a_move_waits_for_its_lossless_reader_while_others_come_and_go(void **state)
{
	(void)state;
	for (int model = STEP_MODEL_SC; model <= STEP_MODEL_STORE_LOAD; model++) {
		struct world world = { .move_wait = true };
		explore_world("a moved writer's look, a lossless reader attaching, a lossy one "
		              "passing",
		              world, model, BOUND);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_lossless_reader_attaching_misses_no_frame),
		cmocka_unit_test(a_lossless_reader_waited_for_takes_the_first_frame),
		cmocka_unit_test(a_move_waits_for_its_lossless_reader_while_others_come_and_go),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
