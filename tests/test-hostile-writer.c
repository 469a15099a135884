/*
 * A hostile writer: while a real writer publishes, another process with write access
 * to the segment (a buggy writer in another language, or one of the same user bent on
 * harm) changes random bytes of its header, its reader table and its slot descriptors,
 * thousands of times a second, and forges frames: descriptors with plausible but wrong
 * geometry, made stable with the right sequence count and published in latest. The
 * readers are a library reader that reads every byte of every plane it accepts and
 * checks first that each lies inside its mapping (inside its slot, when the reader's
 * geometry is the writer's), vshm-filter-invert and vshm-view under Xvfb; in the
 * sanitizer run all are built with ASan and UBSan.
 *
 * Pass: no process crashes or reports a sanitizer error, the library reader's loop
 * keeps turning (no hang) and every process stops on SIGTERM within STOP_SECONDS; every
 * accepted plane lay inside the mapping; the mutations were seen (frames rejected), and
 * frames were still accepted.
 *
 * The storm lasts VSHM_HOSTILE_SECONDS seconds (default 5; scripts/sanitize.sh, which
 * CI runs, sets 20).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "futex.h"
#include "harness.h"
#include "layout.h"
#include "program-util.h"
#include "segment.h"
#include "test-util.h"

#define SECOND_NS        UINT64_C(1000000000)
#define DEFAULT_SECONDS  5
#define STOP_SECONDS     1.0
#define WIDTH            320
#define HEIGHT           240
#define FORMAT           VSHM_FORMAT_I420
#define SLOT_COUNT       4
#define READER_CAPACITY  16
#define LIBRARY_READER   0
#define MUTATOR          1
#define READERS_EXPECTED 3 /* the library reader, the filter, the viewer */

struct shared {
	struct vshm_segment_geometry geometry; /* the writer's, as the test computed it */
	_Atomic int storm;      /* 1 while the mutator runs, 2 once it has finished */
	_Atomic uint64_t turns; /* of the library reader's loop */
	uint64_t mutations, forged;
	uint64_t accepted, rejected, torn, reattaches, bytes_read, outside;
	char outside_example[256];
};

static volatile sig_atomic_t stop_requested;

static void on_sigterm(int signal_number)
{
	(void)signal_number;
	stop_requested = 1;
}

static struct vshm_segment_geometry expected_geometry(void)
{
	struct vshm_format_layout layout;
	assert_int_equal(vshm_format_layout(FORMAT, WIDTH, HEIGHT, &layout), 0);
	struct vshm_segment_geometry geometry;
	assert_int_equal(vshm_segment_geometry(SLOT_COUNT, READER_CAPACITY, layout.total_size,
	                                       vshm_segment_default_alignment(), &geometry),
	                 0);
	return geometry;
}

static int writer_main(struct harness *harness)
{
	struct vshm_writer_options options = {
		.slot_count = SLOT_COUNT,
		.reader_capacity = READER_CAPACITY,
		.max_format = FORMAT,
		.max_width = WIDTH,
		.max_height = HEIGHT,
		.frame_interval_ns = 4000000,
	};
	struct vshm_writer *writer = harness_writer_create(harness, &options);
	if (!writer)
		return 1;
	harness_writer_ready(harness);
	for (uint64_t n = 0; !harness_stopping(harness); n++) {
		struct vshm_frame frame;
		if (vshm_writer_begin(writer, FORMAT, WIDTH, HEIGHT, &frame) < 0)
			return 1;
		for (uint32_t p = 0; p < frame.plane_count; p++)
			memset(frame.plane[p], (int)(n & 0xff), frame.plane_size[p]);
		frame.frame_number = n;
		if (vshm_writer_publish(writer, &frame) < 0)
			return 1;
		test_sleep_us(4000);
	}
	vshm_writer_destroy(writer);
	return 0;
}

/* A value a careless or hostile writer might put in a 32-bit field. */
static uint32_t nasty_32(uint64_t *random, const struct vshm_segment_geometry *geometry)
{
	const uint32_t values[] = {
		0,
		1,
		2,
		3,
		63,
		64,
		65,
		0x7fffffff,
		0x80000000,
		0xffffffff,
		WIDTH,
		HEIGHT,
		WIDTH + 1,
		HEIGHT * 2,
		VSHM_FORMAT_DIMENSION_MAX,
		VSHM_FORMAT_DIMENSION_MAX + 1,
		(uint32_t)geometry->slot_payload_size,
		(uint32_t)geometry->slot_payload_size + 1,
		VSHM_FORMAT_NV12,
		VSHM_FORMAT_RGBA,
		VSHM_FORMAT_GRAY8,
		VSHM_FORMAT_YUYV,
		SLOT_COUNT,
		VSHM_SLOTS_MAX,
	};
	return values[test_random(random) % (sizeof(values) / sizeof(values[0]))];
}

/*
 * Forges a frame in a slot: the latest frame's descriptor with one field made wrong,
 * stable with the right count, published. Readers must take or refuse it safely.
 * *highest is the highest publish number put in latest so far (by anyone): a reader
 * that saw it waits for a higher one, so every forged frame takes the next.
 */
static void forge(uint8_t *control, const struct vshm_segment_geometry *geometry, uint64_t *random,
                  uint64_t *highest)
{
	struct vshm_shm_header *header = (struct vshm_shm_header *)control;
	struct vshm_shm_slot *slots =
	    (struct vshm_shm_slot *)(control + geometry->slot_table_offset);
	uint64_t latest = atomic_load(&header->latest);
	uint32_t from = (uint32_t)(latest & VSHM_LATEST_SLOT_MASK) % SLOT_COUNT;
	/* Mostly a real slot; now and then one past the table. */
	uint32_t slot = (uint32_t)(test_random(random) % (SLOT_COUNT + 1));
	uint64_t n = ++*highest;
	if (slot < SLOT_COUNT) {
		struct vshm_shm_frame_info info = slots[from].info;
		uint32_t *words = (uint32_t *)&info;
		uint64_t word =
		    test_random(random) %
		    (offsetof(struct vshm_shm_frame_info, frame_number) / sizeof(uint32_t));
		if (test_random(random) & 1)
			words[word] = nasty_32(random, geometry);
		else
			words[word] ^= (uint32_t)test_random(random);
		slots[slot].info = info;
		atomic_store(&slots[slot].sequence, 2 * n);
	}
	atomic_store(&header->latest, n << VSHM_LATEST_SLOT_BITS | slot);
	atomic_fetch_add(&header->publish_futex, 1);
	vshm_futex_wake_all(&header->publish_futex);
}

/* One random change: a byte, a word or a nasty value in the header, reader table or
 * slot descriptors. */
static void mutate(uint8_t *control, const struct vshm_segment_geometry *geometry, uint64_t *random)
{
	uint64_t where = test_random(random) % 10;
	uint64_t start, length;
	if (where < 3) {
		start = 0;
		length = sizeof(struct vshm_shm_header);
	} else if (where < 5) {
		start = geometry->reader_table_offset;
		length = READER_CAPACITY * sizeof(struct vshm_shm_reader);
	} else {
		start = geometry->slot_table_offset;
		length = SLOT_COUNT * sizeof(struct vshm_shm_slot);
	}
	uint64_t offset = start + test_random(random) % length;
	/* Changed as one 64-bit word, so that what readers see is the change, whole. */
	uint64_t word_offset = offset & ~(uint64_t)7;
	_Atomic uint64_t *word = (_Atomic uint64_t *)(control + word_offset);
	uint64_t value = atomic_load(word);
	switch (test_random(random) % 3) {
	case 0:
		value ^= (uint64_t)(1 + test_random(random) % 255) << 8 * (offset - word_offset);
		break;
	case 1:
		value = test_random(random);
		break;
	default: {
		unsigned shift = offset & 4 ? 32 : 0;
		value = (value & ~(UINT64_C(0xffffffff) << shift)) |
		        (uint64_t)nasty_32(random, geometry) << shift;
		break;
	}
	}
	/* End of stream is a writer's to say, and a filter then ends by design (status 0):
	 * the storm leaves that flag alone, so that the filter stays for all of it. */
	uint64_t flags_word =
	    offsetof(struct vshm_shm_slot, info) + offsetof(struct vshm_shm_frame_info, flags);
	if (start == geometry->slot_table_offset &&
	    (word_offset - start) % sizeof(struct vshm_shm_slot) == flags_word)
		value &= ~(uint64_t)VSHM_FRAME_END_OF_STREAM;
	atomic_store(word, value);
}

static int mutator_main(struct harness *harness)
{
	struct shared *shared = harness->state;
	const struct vshm_segment_geometry geometry = shared->geometry;
	while (atomic_load(&shared->storm) == 0 && !harness_stopping(harness))
		test_sleep_us(1000);
	char path[256];
	test_segment_path(harness->name, path, sizeof(path));
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 1;
	uint8_t *control =
	    mmap(NULL, geometry.payload_offset, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (control == MAP_FAILED)
		return 1;
	/* The header's identity, to put back now and then: a stream whose header stays
	 * broken can take no reader back, and readers that reattach must meet both. */
	uint8_t identity[VSHM_CACHE_LINE];
	memcpy(identity, control, sizeof(identity));
	struct vshm_shm_header *header = (struct vshm_shm_header *)control;
	const char *seconds = getenv("VSHM_HOSTILE_SECONDS");
	uint64_t duration = (seconds ? strtoull(seconds, NULL, 10) : DEFAULT_SECONDS) * SECOND_NS;
	uint64_t random = 0x4057113u ^ (uint64_t)getpid() << 20;
	uint64_t start = vshm_now_ns(), last_repair = start, highest = 0;
	while (vshm_now_ns() - start < duration && !harness_stopping(harness)) {
		/* A publish number that a random change made huge stays the one to beat:
		 * readers that saw it ignore the writer's own frames from then on. */
		uint64_t seen =
		    atomic_load(&header->latest) >> VSHM_LATEST_SLOT_BITS & VSHM_LATEST_NUMBER_MASK;
		if (seen > highest && seen < VSHM_LATEST_NUMBER_MASK - (UINT64_C(1) << 20))
			highest = seen;
		if (test_random(&random) % 8 == 0) {
			forge(control, &geometry, &random, &highest);
			shared->forged++;
		} else {
			mutate(control, &geometry, &random);
		}
		shared->mutations++;
		if (vshm_now_ns() - last_repair > SECOND_NS / 2) {
			memcpy(control, identity, sizeof(identity));
			atomic_store(&header->state_flags, 0);
			last_repair = vshm_now_ns();
		}
		test_sleep_us((long)(50 + test_random(&random) % 400));
	}
	memcpy(control, identity, sizeof(identity));
	atomic_store(&header->state_flags, 0);
	munmap(control, geometry.payload_offset);
	atomic_store(&shared->storm, 2);
	return 0;
}

struct mapping {
	uintptr_t start, end;
	uint64_t offset;
};

/* The reader's read-only mapping of the stream (slot descriptors and pixels): the one
 * of its file that does not start at offset 0. */
static struct mapping slots_mapping(const char *name)
{
	struct mapping found = { 0 };
	char path[256], line[1024];
	test_segment_path(name, path, sizeof(path));
	FILE *maps = fopen("/proc/self/maps", "r");
	while (maps && fgets(line, sizeof(line), maps)) {
		unsigned long start, end, offset;
		char file[512] = "";
		if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %511s", &start, &end, &offset, file) ==
		        4 &&
		    strcmp(file, path) == 0 && offset != 0)
			found = (struct mapping){ start, end, offset };
	}
	if (maps)
		fclose(maps);
	return found;
}

/* Checks that every plane of an accepted frame lies where it must, then reads it all. */
static void check_and_read(struct shared *shared, const struct vshm_frame *frame,
                           const struct mapping *mapping,
                           const struct vshm_segment_geometry *geometry)
{
	/* With the writer's geometry the slot is known exactly; a reader that attached to
	 * a header bent into another valid geometry is held to its mapping. */
	bool known = mapping->offset == geometry->slot_table_offset &&
	             mapping->end - mapping->start == geometry->segment_size - mapping->offset;
	uintptr_t low = mapping->start, high = mapping->end;
	if (known) {
		low = mapping->start + (geometry->payload_offset - geometry->slot_table_offset) +
		      frame->slot * geometry->slot_payload_size;
		high = low + geometry->slot_payload_size;
	}
	for (uint32_t p = 0; p < frame->plane_count; p++) {
		uintptr_t plane = (uintptr_t)frame->plane[p];
		uint64_t row_bytes = 0;
		uint32_t rows = 0;
		int extent = vshm_format_plane_extent(frame->format, p, frame->width, frame->height,
		                                      &row_bytes, &rows);
		bool inside =
		    extent == 0 && frame->slot < SLOT_COUNT && plane >= low && plane <= high &&
		    frame->plane_size[p] <= high - plane &&
		    (uint64_t)(rows - 1) * frame->stride[p] + row_bytes <= frame->plane_size[p];
		if (!inside) {
			if (shared->outside++ == 0)
				snprintf(shared->outside_example, sizeof(shared->outside_example),
				         "slot %u plane %u at +%lld, %llu bytes, stride %u, %ux%u "
				         "format 0x%08x",
				         frame->slot, p, (long long)(plane - low),
				         (unsigned long long)frame->plane_size[p], frame->stride[p],
				         frame->width, frame->height, frame->format);
			return;
		}
	}
	uint64_t sum = 0;
	for (uint32_t p = 0; p < frame->plane_count; p++) {
		for (uint64_t i = 0; i < frame->plane_size[p]; i++)
			sum += frame->plane[p][i];
		shared->bytes_read += frame->plane_size[p];
	}
	__asm__ volatile("" : : "r"(sum)); /* the reads must happen */
}

static int library_reader_main(struct harness *harness)
{
	struct shared *shared = harness->state;
	struct sigaction action = { .sa_handler = on_sigterm };
	sigaction(SIGTERM, &action, NULL);
	const struct vshm_segment_geometry geometry = shared->geometry;
	struct vshm_reader *reader = harness_reader_attach(harness, LIBRARY_READER, 10000);
	if (!reader)
		return 1;
	struct mapping mapping = slots_mapping(harness->name);
	while (!stop_requested) {
		int result = vshm_reader_wait(reader, 100);
		if (result == 0) {
			struct vshm_frame frame;
			result = vshm_reader_acquire(reader, &frame);
			if (result == -EBADMSG)
				shared->rejected++;
			if (result == 0) {
				shared->accepted++;
				check_and_read(shared, &frame, &mapping, &geometry);
				if (vshm_reader_release(reader) != 1)
					shared->torn++;
			}
		} else if (result == -ESTALE) {
			if (vshm_reader_reattach(reader) == 0) {
				shared->reattaches++;
				mapping = slots_mapping(harness->name);
			} else {
				test_sleep_us(10000);
			}
		}
		atomic_fetch_add(&shared->turns, 1);
	}
	vshm_reader_detach(reader);
	return 0;
}

static int reader_main(struct harness *harness, int index)
{
	if (index == MUTATOR)
		return mutator_main(harness);
	/* Its reports, sanitizers' included, go where the test can look for them. */
	char path[512];
	snprintf(path, sizeof(path), "%s/library-reader.err", program_temporary_directory());
	if (!freopen(path, "w", stderr))
		return 1;
	return library_reader_main(harness);
}

/* Shows what a process said on stderr (the end of it); true if a sanitizer said
 * anything there. */
static bool sanitizer_report(const char *label, const char *path)
{
	size_t size = 0;
	char *text = (char *)program_read_file(path, &size);
	bool found =
	    text && (memmem(text, size, "Sanitizer", 9) || memmem(text, size, "runtime error", 13));
	if (text && size > 0) {
		size_t shown = size < 3000 ? size : 3000;
		print_message("%s said:\n%.*s\n", label, (int)shown, text + size - shown);
	}
	free(text);
	return found;
}

/* True once pid has ended; it is left to be reaped, with its status, later. */
static bool ended(pid_t pid)
{
	siginfo_t info = { 0 };
	return pid > 0 && waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	       info.si_pid == pid;
}

static double stop_seconds(pid_t pid, int *status)
{
	uint64_t start = vshm_now_ns();
	kill(pid, SIGTERM);
	*status = test_wait(pid, 10000);
	return (double)(vshm_now_ns() - start) / 1e9;
}

static void readers_survive_a_hostile_writer(void **state)
{
	(void)state;
	struct harness *harness = harness_create("hostile", 2, sizeof(struct shared));
	struct shared *shared = harness->state;
	shared->geometry = expected_geometry();
	const char *directory = program_temporary_directory();
	char output[VSHM_NAME_MAX + 16], filter[512], filter_errors[512], view_errors[512],
	    reader_errors[512];
	snprintf(output, sizeof(output), "%s.out", harness->name);
	snprintf(filter, sizeof(filter), "%s/vshm-filter-invert", program_path("VSHM_FILTERS"));
	snprintf(filter_errors, sizeof(filter_errors), "%s/filter.err", directory);
	snprintf(view_errors, sizeof(view_errors), "%s/view.err", directory);
	snprintf(reader_errors, sizeof(reader_errors), "%s/library-reader.err", directory);

	harness_start(harness, writer_main, reader_main);
	assert_true(harness_wait_for(harness, &harness->writer_ready, 1, 10 * SECOND_NS));
	char *filter_argv[] = { filter, "--quiet", harness->name, output, NULL };
	pid_t filter_pid = program_start(filter_argv, NULL, filter_errors);
	pid_t xvfb = 0, view_pid = 0;
	int readers = READERS_EXPECTED;
	if (getenv("VSHM_VIEW") && getenv("VSHM_XVFB")) {
		xvfb = program_start_xvfb();
		/* As in test-viewer: the X11 and GL stack keeps memory to the end, which
		 * LeakSanitizer would call leaks; ASan itself stays on. */
		if (getenv("ASAN_OPTIONS"))
			setenv("ASAN_OPTIONS", "abort_on_error=1:detect_leaks=0", 1);
		char *view_argv[] = { (char *)program_path("VSHM_VIEW"), "--quiet", harness->name,
			              NULL };
		view_pid = program_start(view_argv, NULL, view_errors);
	} else {
		readers--;
		print_message("no viewer in this build, or no Xvfb: the viewer is left out\n");
	}

	/* The storm starts once every reader is attached and the filter passes frames on. */
	struct vshm_stream_info info = { 0 };
	for (int waited = 0; waited < 20000; waited += 10) {
		if (vshm_stream_inspect(harness->name, &info) == 0 &&
		    (int)info.readers_alive >= readers && test_segment_exists(output))
			break;
		test_sleep_us(10000);
	}
	assert_int_equal(info.readers_alive, readers);
	atomic_store(&shared->storm, 1);
	uint64_t storm_start = vshm_now_ns();

	/* Every second: each reader still runs, and the library reader's loop turns. */
	bool all_alive = true, turning = true;
	uint64_t turns = atomic_load(&shared->turns);
	while (atomic_load(&shared->storm) != 2 && vshm_now_ns() - storm_start < 300 * SECOND_NS &&
	       all_alive && turning) {
		test_sleep_us(1000000);
		all_alive = !ended(filter_pid) && !ended(view_pid) && !ended(harness->writer) &&
		            !ended(harness->readers[LIBRARY_READER]);
		uint64_t now_turns = atomic_load(&shared->turns);
		turning = now_turns > turns;
		turns = now_turns;
	}
	double storm_seconds = (double)(vshm_now_ns() - storm_start) / 1e9;

	/* Each answers SIGTERM. */
	int reader_status, filter_status, view_status = 128 + SIGTERM;
	double reader_stop = stop_seconds(harness->readers[LIBRARY_READER], &reader_status);
	harness->readers[LIBRARY_READER] = 0;
	double filter_stop = stop_seconds(filter_pid, &filter_status);
	double view_stop = view_pid ? stop_seconds(view_pid, &view_status) : 0;
	harness_stop(harness);
	harness_wait_all(harness, 10000, 10000);
	program_stop_xvfb(xvfb);

	print_message("%.1f s of %llu mutations (%llu forged frames); library reader: %llu frames "
	              "accepted (%llu torn), %llu rejected, %llu reattaches, %.1f MB read, %llu "
	              "planes outside; SIGTERM stopped the library reader in %.3f s (status %d), "
	              "the filter in %.3f s (%d), the viewer in %.3f s (%d); writer status %d\n",
	              storm_seconds, (unsigned long long)shared->mutations,
	              (unsigned long long)shared->forged, (unsigned long long)shared->accepted,
	              (unsigned long long)shared->torn, (unsigned long long)shared->rejected,
	              (unsigned long long)shared->reattaches, (double)shared->bytes_read / 1e6,
	              (unsigned long long)shared->outside, reader_stop, reader_status, filter_stop,
	              filter_status, view_stop, view_status, harness->writer_status);
	bool reports = sanitizer_report("the library reader", reader_errors);
	reports |= sanitizer_report("vshm-filter-invert", filter_errors);
	reports |= view_pid && sanitizer_report("vshm-view", view_errors);
	if (shared->outside)
		fail_msg("an accepted plane lay outside its slot: %s", shared->outside_example);
	assert_true(all_alive);
	assert_true(turning);
	assert_int_equal(harness->reader_status[MUTATOR], 0);
	assert_int_equal(harness->writer_status, 0);
	assert_int_equal(reader_status, 0);
	assert_int_equal(filter_status, 128 + SIGTERM);
	assert_int_equal(view_status, 128 + SIGTERM);
	assert_true(reader_stop < STOP_SECONDS && filter_stop < STOP_SECONDS &&
	            view_stop < STOP_SECONDS);
	assert_false(reports);
	/* The storm reached the reader, and frames still came through it. */
	assert_true(shared->rejected > 0);
	assert_true(shared->accepted > 0);
	assert_false(harness->segment_left);
	assert_false(test_segment_exists(output));
	harness_destroy(harness);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(readers_survive_a_hostile_writer),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	return failed;
}
