/*
 * vshm-record to the network, on loopback only, as it would run between two machines:
 * vshm-capture's test pattern into vshm-record, and on the receiving side vshm-capture
 * reading the URL into a stream of its own (and the ffmpeg program, for RTP with its
 * session description). The receiver's frames must come in order (the pattern draws
 * each frame's number into it) and at 35 dB PSNR or more against the pattern.
 *   - SRT, vshm-record listening, the receiver calling; UDP MPEG-TS; RTP with an SDP,
 *     into ffmpeg and into vshm-capture;
 *   - a listener outlives its receiver: killed, another one connects and gets frames;
 *   - a caller whose receiver dies says so in one line and stops with status 1;
 *   - a sender killed and started again: the same receiver takes frames again.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "follow.h"
#include "program-util.h"
#include "record-util.h"
#include "test-util.h"

#define WIDTH      640
#define HEIGHT     360
#define PSNR_MIN   35.0
#define FRAMES_MAX 256

static bool still_running(pid_t pid)
{
	siginfo_t info = { 0 };
	return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	       info.si_pid == 0;
}

static pid_t start_pattern(const char *name)
{
	char *argv[] = { (char *)program_path("VSHM_CAPTURE"),
		         "test",
		         "--size",
		         "640x360",
		         "--name",
		         (char *)name,
		         "--quiet",
		         NULL };
	return program_start(argv, NULL, NULL);
}

static pid_t start_record(const char *name, const char *url, const char *errors)
{
	char *argv[] = { (char *)program_path("VSHM_RECORD"), (char *)name, (char *)url, NULL };
	return program_start(argv, NULL, errors);
}

/* The receiver's errors go to a file named after its stream, for listening_receiver(). */
static void receiver_errors_path(const char *name, char *path, size_t size)
{
	snprintf(path, size, "%s/%s.receiver.err", program_temporary_directory(), name);
}

static pid_t start_receiver(const char *url, const char *name)
{
	char errors[512];
	receiver_errors_path(name, errors, sizeof(errors));
	char *argv[] = { (char *)program_path("VSHM_CAPTURE"),
		         (char *)url,
		         "--name",
		         (char *)name,
		         "--quiet",
		         NULL };
	return program_start(argv, NULL, errors);
}

/* Starts a receiver that listens on port, and waits until it has bound the port. */
static pid_t listening_receiver(const char *url, const char *name, int port)
{
	pid_t receiver = start_receiver(url, name);
	if (!record_wait_port_bound(port, SOCK_DGRAM, receiver, 20000)) {
		char errors[512];
		receiver_errors_path(name, errors, sizeof(errors));
		char *text = record_read_text(errors);
		fail_msg("the receiver of %s never bound port %d: %s", url, port, text);
	}
	return receiver;
}

/* PSNR of the luma of frame against pattern frame number, packed I420 in expected. */
static double luma_psnr(const struct vshm_frame *frame, uint64_t number, uint8_t *expected)
{
	record_pattern_i420(number, WIDTH, HEIGHT, expected);
	double sum = 0;
	for (uint32_t y = 0; y < HEIGHT; y++) {
		const uint8_t *row = frame->plane[0] + (size_t)y * frame->stride[0];
		for (uint32_t x = 0; x < WIDTH; x++) {
			double difference =
			    (double)row[x] - (double)expected[(size_t)y * WIDTH + x];
			sum += difference * difference;
		}
	}
	return sum == 0 ? 99 : 10 * log10(255.0 * 255.0 * WIDTH * HEIGHT / sum);
}

struct received {
	uint32_t frames;
	uint64_t first, last;
	double lowest_psnr;
};

/*
 * Reads count frames of the receiver's stream name (waiting up to timeout_ms for it):
 * each frame's number must be larger than the one before, and its PSNR at least
 * PSNR_MIN.
 */
static struct received receive(const char *name, uint32_t count, int timeout_ms)
{
	struct received received = { .lowest_psnr = 99 };
	struct vshm_reader *reader = vshm_reader_attach_wait(name, NULL, timeout_ms, NULL, NULL);
	if (!reader)
		fail_msg("the receiver's stream '%s' did not appear: %s", name, vshm_error());
	uint8_t *expected = malloc(record_i420_size(WIDTH, HEIGHT));
	assert_non_null(expected);
	struct follow follow = { .reader = reader, .wait_ms = 10000 };
	struct vshm_frame frame;
	while (received.frames < count && follow_next(&follow, &frame)) {
		assert_int_equal(frame.format, VSHM_FORMAT_I420);
		assert_int_equal(frame.width, WIDTH);
		uint64_t number;
		bool legible =
		    pattern_digits_read(frame.plane[0], frame.stride[0], WIDTH, HEIGHT, &number);
		double psnr = legible ? luma_psnr(&frame, number, expected) : 0;
		if (!follow_release(&follow))
			continue;
		if (!legible)
			fail_msg("frame %u received has no legible number", received.frames);
		if (received.frames && number <= received.last)
			fail_msg("frame %llu received after frame %llu", (unsigned long long)number,
			         (unsigned long long)received.last);
		if (received.frames++ == 0)
			received.first = number;
		received.last = number;
		if (psnr < received.lowest_psnr)
			received.lowest_psnr = psnr;
	}
	free(expected);
	vshm_reader_detach(reader);
	assert_int_equal(received.frames, count);
	assert_true(received.lowest_psnr >= PSNR_MIN);
	return received;
}

static void stop(pid_t pid)
{
	if (pid > 0 && still_running(pid))
		kill(pid, SIGTERM);
	test_wait(pid, 10000);
}

static void srt_listener_to_a_receiver(void **state)
{
	(void)state;
	char source[64], remote[64], url[128], caller[128], errors[512];
	test_unique_name(source, sizeof(source), "rec-srt");
	test_unique_name(remote, sizeof(remote), "rec-srt-remote");
	int port = record_free_port(SOCK_DGRAM);
	snprintf(url, sizeof(url), "srt://127.0.0.1:%d?mode=listener", port);
	snprintf(caller, sizeof(caller), "srt://127.0.0.1:%d?mode=caller", port);
	snprintf(errors, sizeof(errors), "%s/srt.err", program_temporary_directory());
	pid_t pattern = start_pattern(source);
	pid_t record = start_record(source, url, errors);
	assert_true(record_wait_for_text(errors, "waiting for a receiver", 10000));
	pid_t receiver = start_receiver(caller, remote);
	struct received received = receive(remote, 60, 20000);
	print_message("SRT: %u frames received in order (%llu..%llu), lowest PSNR %.1f dB\n",
	              received.frames, (unsigned long long)received.first,
	              (unsigned long long)received.last, received.lowest_psnr);
	stop(receiver);
	stop(record);
	stop(pattern);
}

static void udp_mpegts(void **state)
{
	(void)state;
	char source[64], remote[64], url[128], errors[512];
	test_unique_name(source, sizeof(source), "rec-udp");
	test_unique_name(remote, sizeof(remote), "rec-udp-remote");
	int port = record_free_port(SOCK_DGRAM);
	snprintf(url, sizeof(url), "udp://127.0.0.1:%d", port);
	snprintf(errors, sizeof(errors), "%s/udp.err", program_temporary_directory());
	/* UDP has no connection: the receiver listens first. */
	pid_t receiver = listening_receiver(url, remote, port);
	pid_t pattern = start_pattern(source);
	pid_t record = start_record(source, url, errors);
	struct received received = receive(remote, 60, 20000);
	print_message("UDP: %u frames received in order (%llu..%llu), lowest PSNR %.1f dB\n",
	              received.frames, (unsigned long long)received.first,
	              (unsigned long long)received.last, received.lowest_psnr);
	stop(receiver);
	stop(record);
	stop(pattern);
}

/* RTP, with the session description written to a file that the ffmpeg program opens. */
static void rtp_with_session_description(void **state)
{
	(void)state;
	char source[64], url[128], errors[512], sdp[512], raw[512];
	test_unique_name(source, sizeof(source), "rec-rtp");
	snprintf(url, sizeof(url), "rtp://127.0.0.1:%d", record_free_port(SOCK_DGRAM));
	snprintf(errors, sizeof(errors), "%s/rtp.err", program_temporary_directory());
	snprintf(sdp, sizeof(sdp), "%s/session.sdp", program_temporary_directory());
	snprintf(raw, sizeof(raw), "%s/rtp.yuv", program_temporary_directory());
	pid_t pattern = start_pattern(source);
	char *record_argv[] = {
		(char *)program_path("VSHM_RECORD"), source, url, "--sdp", sdp, NULL
	};
	pid_t record = program_start(record_argv, NULL, errors);
	assert_true(record_wait_for_text(sdp, "m=video", 10000));
	char *ffmpeg_argv[] = { (char *)program_path("VSHM_FFMPEG"),
		                "-nostdin",
		                "-loglevel",
		                "fatal",
		                "-protocol_whitelist",
		                "file,udp,rtp",
		                "-i",
		                sdp,
		                "-frames:v",
		                "45",
		                "-pix_fmt",
		                "yuv420p",
		                "-f",
		                "rawvideo",
		                "-y",
		                raw,
		                NULL };
	assert_int_equal(program_run(ffmpeg_argv, 30000, NULL, 0), 0);
	stop(record);
	stop(pattern);
	size_t size;
	uint8_t *pixels = program_read_file(raw, &size);
	assert_non_null(pixels);
	size_t frame_size = record_i420_size(WIDTH, HEIGHT);
	assert_int_equal(size / frame_size, 45);
	uint8_t *expected = malloc(frame_size);
	assert_non_null(expected);
	uint64_t previous = 0;
	double lowest = 99;
	for (size_t i = 0; i < 45; i++) {
		uint64_t number;
		assert_true(
		    pattern_digits_read(pixels + i * frame_size, WIDTH, WIDTH, HEIGHT, &number));
		assert_true(i == 0 || number > previous);
		previous = number;
		record_pattern_i420(number, WIDTH, HEIGHT, expected);
		double psnr = record_psnr(expected, pixels + i * frame_size, WIDTH * HEIGHT);
		lowest = psnr < lowest ? psnr : lowest;
	}
	free(expected);
	free(pixels);
	print_message("RTP: 45 frames through the SDP in order, lowest PSNR %.1f dB\n", lowest);
	assert_true(lowest >= PSNR_MIN);
}

/* The receiver of a listener is killed: the listener goes on, and the next receiver
 * gets frames. */
static void listener_outlives_its_receiver(void **state)
{
	(void)state;
	char source[64], remote[64], url[128], caller[128], errors[512];
	test_unique_name(source, sizeof(source), "rec-srt-again");
	test_unique_name(remote, sizeof(remote), "rec-srt-again-remote");
	int port = record_free_port(SOCK_DGRAM);
	snprintf(url, sizeof(url), "srt://127.0.0.1:%d?mode=listener", port);
	snprintf(caller, sizeof(caller), "srt://127.0.0.1:%d?mode=caller", port);
	snprintf(errors, sizeof(errors), "%s/again.err", program_temporary_directory());
	pid_t pattern = start_pattern(source);
	pid_t record = start_record(source, url, errors);
	assert_true(record_wait_for_text(errors, "waiting for a receiver", 10000));
	pid_t receiver = start_receiver(caller, remote);
	receive(remote, 15, 20000);
	kill(receiver, SIGKILL);
	test_wait(receiver, 10000);
	test_segment_remove(remote);
	/* SRT notices a peer that died without a word after its idle timeout (5 s). */
	assert_true(record_wait_for_text(errors, "waiting for another", 20000));
	assert_true(still_running(record));
	receiver = start_receiver(caller, remote);
	struct received received = receive(remote, 30, 20000);
	print_message("SRT listener: a second receiver got %u frames in order after the first "
	              "was killed, lowest PSNR %.1f dB\n",
	              received.frames, received.lowest_psnr);
	assert_true(still_running(record));
	stop(receiver);
	stop(record);
	stop(pattern);
}

/* vshm-record calls a listening receiver, which is killed: one line, status 1. */
static void caller_reports_its_receiver_gone(void **state)
{
	(void)state;
	char source[64], remote[64], listen[128], url[128], errors[512];
	test_unique_name(source, sizeof(source), "rec-srt-caller");
	test_unique_name(remote, sizeof(remote), "rec-srt-caller-remote");
	int port = record_free_port(SOCK_DGRAM);
	snprintf(listen, sizeof(listen), "srt://127.0.0.1:%d?mode=listener", port);
	snprintf(url, sizeof(url), "srt://127.0.0.1:%d?mode=caller", port);
	snprintf(errors, sizeof(errors), "%s/caller.err", program_temporary_directory());
	pid_t pattern = start_pattern(source);
	pid_t receiver = listening_receiver(listen, remote, port);
	char *record_argv[] = { (char *)program_path("VSHM_RECORD"), source, url, "--quiet", NULL };
	pid_t record = program_start(record_argv, NULL, errors);
	receive(remote, 15, 20000);
	kill(receiver, SIGKILL);
	test_wait(receiver, 10000);
	test_segment_remove(remote);
	int status = test_wait(record, 30000);
	stop(pattern);
	char *text = record_read_text(errors);
	print_message("SRT caller, receiver killed: status %d, %s", status, text);
	/* One line says what happened; the summary after it says how far the recording
	 * got, as it does after any failure. */
	assert_int_equal(status, 1);
	assert_int_equal(record_count_lines(text), 2);
	assert_non_null(strstr(text, "went away"));
	assert_non_null(strstr(strchr(text, '\n'), "done: "));
	free(text);
}

/*
 * The sender is killed and started again: the receiver, still the same process and
 * stream, takes frames again, in order, the first of them flagged a discontinuity.
 */
static void sender_restart(bool srt)
{
	char source[64], remote[64], url[128], receiver_url[128], errors[512];
	test_unique_name(source, sizeof(source), srt ? "rec-srt-restart" : "rec-udp-restart");
	test_unique_name(remote, sizeof(remote), "rec-restart-remote");
	int port = record_free_port(SOCK_DGRAM);
	if (srt) {
		snprintf(url, sizeof(url), "srt://127.0.0.1:%d?mode=listener", port);
		snprintf(receiver_url, sizeof(receiver_url), "srt://127.0.0.1:%d?mode=caller",
		         port);
	} else {
		snprintf(url, sizeof(url), "udp://127.0.0.1:%d", port);
		snprintf(receiver_url, sizeof(receiver_url), "udp://@:%d", port);
	}
	snprintf(errors, sizeof(errors), "%s/restart.err", program_temporary_directory());
	pid_t pattern = start_pattern(source);
	pid_t receiver = 0;
	if (!srt) {
		receiver = listening_receiver(receiver_url, remote, port);
	}
	pid_t record = start_record(source, url, errors);
	if (srt) {
		assert_true(record_wait_for_text(errors, "waiting for a receiver", 10000));
		receiver = start_receiver(receiver_url, remote);
	}
	struct received before = receive(remote, 15, 20000);
	kill(record, SIGKILL);
	test_wait(record, 10000);
	test_sleep_us(srt ? 1000000 : 6000000); /* UDP: long enough to be a silence */
	record = start_record(source, url, errors);

	struct vshm_reader *reader = vshm_reader_attach(remote, NULL);
	assert_non_null(reader);
	struct follow follow = { .reader = reader, .wait_ms = 20000 };
	struct vshm_frame frame;
	uint32_t frames = 0, discontinuities = 0;
	uint64_t last = before.last;
	while (frames < 15 && follow_next(&follow, &frame)) {
		uint64_t number;
		bool legible =
		    pattern_digits_read(frame.plane[0], frame.stride[0], WIDTH, HEIGHT, &number);
		bool discontinuity = frame.flags & VSHM_FRAME_DISCONTINUITY;
		if (!follow_release(&follow) || !legible)
			continue;
		if (number <= last)
			continue; /* the last frames from before the restart, taken again */
		discontinuities += discontinuity;
		last = number;
		frames++;
	}
	vshm_reader_detach(reader);
	assert_true(still_running(receiver));
	print_message("%s: the receiver took %u frames up to %llu, the sender was killed and "
	              "started again, and the same receiver took %u more, up to %llu (%u flagged a "
	              "discontinuity)\n",
	              srt ? "SRT" : "UDP", before.frames, (unsigned long long)before.last, frames,
	              (unsigned long long)last, discontinuities);
	assert_int_equal(frames, 15);
	if (srt)
		assert_int_equal(discontinuities, 1); /* SRT: a new connection */
	stop(receiver);
	stop(record);
	stop(pattern);
}

static void srt_sender_restart(void **state)
{
	(void)state;
	sender_restart(true);
}

static void udp_sender_restart(void **state)
{
	(void)state;
	sender_restart(false);
}

/* RTP into vshm-capture, which opens the session description vshm-record wrote. */
static void rtp_into_vshm_capture(void **state)
{
	(void)state;
	char source[64], remote[64], url[128], errors[512], sdp[512];
	test_unique_name(source, sizeof(source), "rec-rtp-capture");
	test_unique_name(remote, sizeof(remote), "rec-rtp-remote");
	snprintf(url, sizeof(url), "rtp://127.0.0.1:%d", record_free_port(SOCK_DGRAM));
	snprintf(errors, sizeof(errors), "%s/rtp-capture.err", program_temporary_directory());
	snprintf(sdp, sizeof(sdp), "%s/capture.sdp", program_temporary_directory());
	pid_t pattern = start_pattern(source);
	char *record_argv[] = {
		(char *)program_path("VSHM_RECORD"), source, url, "--sdp", sdp, NULL
	};
	pid_t record = program_start(record_argv, NULL, errors);
	assert_true(record_wait_for_text(sdp, "m=video", 10000));
	pid_t receiver = start_receiver(sdp, remote);
	struct received received = receive(remote, 30, 20000);
	print_message("RTP into vshm-capture: %u frames in order, lowest PSNR %.1f dB\n",
	              received.frames, received.lowest_psnr);
	stop(receiver);
	stop(record);
	stop(pattern);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(srt_listener_to_a_receiver),
		cmocka_unit_test(udp_mpegts),
		cmocka_unit_test(rtp_with_session_description),
		cmocka_unit_test(listener_outlives_its_receiver),
		cmocka_unit_test(caller_reports_its_receiver_gone),
		cmocka_unit_test(srt_sender_restart),
		cmocka_unit_test(udp_sender_restart),
		cmocka_unit_test(rtp_into_vshm_capture),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	return failures;
}
