/*
 * A frame the writer rewrites while vshm-record reads it is never recorded, whichever
 * way frames reach the encoder: copied out of the slot first (ffv1, any encoder but two)
 * or encoded straight from the slot (rawvideo, mjpeg), then the packet dropped.
 *
 * vshm-record runs with a stop point right after it takes a frame (stop-points.c): it
 * holds the frame and has read none of its pixels. The test, the stream's writer, goes
 * in lock-step with it, so it takes every frame. Intact frames are uniform gray, frame n
 * of value n + 1; some are rewritten while held, the slot made odd and painted white
 * (255, in no intact frame), then given its value back before it is even again. A
 * recorder that kept a torn frame would hold a white one.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "layout.h"
#include "program-util.h"
#include "record-util.h"
#include "test-util.h"

#define WIDTH  320
#define HEIGHT 240
#define FRAMES 40
#define WHITE  255

static bool still_running(pid_t pid)
{
	siginfo_t info = { 0 };
	return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	       info.si_pid == 0;
}

static void fill(struct vshm_frame *frame, uint8_t value)
{
	for (uint32_t y = 0; y < frame->height; y++)
		memset(frame->plane[0] + (size_t)y * frame->stride[0], value, frame->width);
}

static void wait_for_release(struct vshm_shm_reader *entry, uint32_t slot, pid_t record)
{
	uint64_t deadline = vshm_now_ns() + 20000000000u;
	for (uint64_t spins = 0; atomic_load(&entry->held_slot) == slot + 1; spins++) {
		if (spins % 4096 == 0 && (!still_running(record) || vshm_now_ns() > deadline))
			return;
		sched_yield();
	}
}

static void torn_frames_are_dropped(const char *codec)
{
	char name[64], path[512], errors[512], segment[256];
	test_unique_name(name, sizeof(name), "rec-torn");
	snprintf(path, sizeof(path), "%s/torn-%s.mkv", program_temporary_directory(), codec);
	snprintf(errors, sizeof(errors), "%s/torn-%s.err", program_temporary_directory(), codec);
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_GRAY8, WIDTH, HEIGHT, 3);
	test_segment_path(name, segment, sizeof(segment));
	int fd = open(segment, O_RDWR);
	assert_true(fd >= 0);
	struct stat status;
	assert_int_equal(fstat(fd, &status), 0);
	uint8_t *base =
	    mmap(NULL, (size_t)status.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(base != MAP_FAILED);
	close(fd);
	struct vshm_shm_header *header = (struct vshm_shm_header *)base;
	struct vshm_shm_reader *readers =
	    (struct vshm_shm_reader *)(base + header->reader_table_offset);
	struct vshm_shm_slot *slots = (struct vshm_shm_slot *)(base + header->slot_table_offset);

	char *argv[] = {
		(char *)program_path("VSHM_RECORD"), name, path, "--codec", (char *)codec, NULL
	};
	pid_t record =
	    program_start_with_stop_points(argv, NULL, errors, "VSHM_STOP_AFTER_ACQUIRE=1");
	uint64_t now = vshm_now_ns(), rewritten = 0;
	bool lost = false;
	for (uint64_t n = 0; n < FRAMES; n++) {
		struct vshm_frame frame;
		assert_int_equal(
		    vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, WIDTH, HEIGHT, &frame), 0);
		fill(&frame, (uint8_t)(n + 1));
		frame.frame_number = n;
		frame.capture_ns = now + n * 40000000u;
		frame.flags = n == FRAMES - 1 ? VSHM_FRAME_END_OF_STREAM : 0;
		assert_int_equal(vshm_writer_publish(writer, &frame), 0);
		if (!program_wait_stopped(record, 20000))
			break;
		if (atomic_load(&readers[0].held_slot) != frame.slot + 1) {
			lost = true; /* it took some other slot: the test is wrong */
			kill(record, SIGCONT);
			break;
		}
		bool rewrite = n % 3 == 1 && n < FRAMES - 1;
		_Atomic uint64_t *sequence = &slots[frame.slot].sequence;
		uint64_t stable = atomic_load(sequence);
		if (rewrite) {
			atomic_store(sequence, stable + 1);
			fill(&frame, WHITE);
		}
		kill(record, SIGCONT);
		wait_for_release(&readers[0], frame.slot, record);
		if (rewrite) {
			fill(&frame, (uint8_t)(n + 1));
			atomic_store(sequence, stable + 2);
			rewritten++;
		}
	}
	int exit_status = test_wait(record, 60000);
	munmap(base, (size_t)status.st_size);
	vshm_writer_destroy(writer);
	char *text = record_read_text(errors);
	if (exit_status != 0)
		fail_msg("vshm-record failed (%d): %s", exit_status, text);
	assert_false(lost);
	char torn_text[32];
	snprintf(torn_text, sizeof(torn_text), "| %llu torn", (unsigned long long)rewritten);
	assert_non_null(strstr(strstr(text, "done: "), torn_text));
	free(text);

	size_t frames;
	uint8_t *pixels = record_decode(path, "gray", WIDTH, HEIGHT, WIDTH * HEIGHT, &frames);
	assert_int_equal(frames, FRAMES - rewritten);
	uint64_t previous = 0, white = 0, mixed = 0;
	for (size_t i = 0; i < frames; i++) {
		const uint8_t *picture = pixels + i * WIDTH * HEIGHT;
		for (size_t p = 0; p < WIDTH * HEIGHT; p++) {
			white += picture[p] == WHITE;
			mixed += picture[p] != picture[0];
		}
		/* Frames in order, none of them one that was rewritten. */
		uint64_t number = picture[0] - 1u;
		assert_true(i == 0 || number > previous);
		assert_false(number % 3 == 1 && number < FRAMES - 1);
		previous = number;
	}
	free(pixels);
	print_message("%s: %d frames in lock-step, %llu rewritten while held; the file holds the "
	              "%zu others, %llu white pixels, %llu mixed\n",
	              codec, FRAMES, (unsigned long long)rewritten, frames,
	              (unsigned long long)white, (unsigned long long)mixed);
	assert_int_equal(white, 0);
	assert_int_equal(mixed, 0);
}

/* ffv1 gets a copy of each frame, made before the release. */
static void copied_frames(void **state)
{
	(void)state;
	torn_frames_are_dropped("ffv1");
}

/* rawvideo reads each frame in place; a torn frame's packet is dropped. */
static void frames_read_in_place(void **state)
{
	(void)state;
	torn_frames_are_dropped("rawvideo");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(copied_frames),
		cmocka_unit_test(frames_read_in_place),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	return failures;
}
