/*
 * Damaged files, made here from FFmpeg's test sources and then damaged on purpose:
 * vshm-capture publishes what FFmpeg's decoder outputs, frame for frame (compared with
 * `ffmpeg -f framecrc` of the same file), the same every time, with the pictures that
 * decode with errors flagged damaged (or dropped, with --skip-damaged); a damaged audio
 * track does not end the video; and a file FFmpeg cannot open is explained in FFmpeg's
 * own words.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "follow.h"
#include "program-util.h"
#include "test-util.h"

#define FRAMES_MAX 1024

struct reference {
	uint32_t count;
	uint32_t size[FRAMES_MAX];
	uint32_t adler[FRAMES_MAX];
};

/* What one run of vshm-capture published, as a reader saw it. */
struct played {
	int status;
	uint64_t published;
	uint32_t read, wrong, flagged;
	bool damaged[FRAMES_MAX]; /* by frame number, for the frames read */
	bool read_number[FRAMES_MAX];
	char errors[4096];
};

static void temporary_path(char *out, size_t size, const char *file)
{
	snprintf(out, size, "%s/%s", program_temporary_directory(), file);
}

/* Runs ffmpeg with the arguments after "-nostdin -loglevel error"; the test fails if it does. */
static void ffmpeg(const char *const *arguments)
{
	char *argv[32] = { (char *)program_path("VSHM_FFMPEG"), "-nostdin", "-loglevel", "error" };
	int argc = 4;
	for (int i = 0; arguments[i] && argc < 31; i++)
		argv[argc++] = (char *)arguments[i];
	argv[argc] = NULL;
	char errors[2048];
	int status = program_run(argv, 120000, errors, sizeof(errors));
	if (status != 0)
		fail_msg("ffmpeg failed (%d): %s", status, errors);
}

/*
 * FFmpeg's decode of the video of path, one Adler-32 a frame, in one thread as
 * vshm-capture decodes (see start_decoder() in source-file.c).
 */
static void reference_of(const char *path, const char *pixel_format, struct reference *reference)
{
	char output[512];
	temporary_path(output, sizeof(output), "reference.framecrc");
	const char *arguments[] = { "-threads", "1",          "-i", path,        "-map",
		                    "0:v:0",    "-autoscale", "0",  "-fps_mode", "passthrough",
		                    "-pix_fmt", pixel_format, "-f", "framecrc",  "-y",
		                    output,     NULL };
	ffmpeg(arguments);
	reference->count =
	    program_read_framecrc(output, reference->size, reference->adler, FRAMES_MAX);
	assert_true(reference->count > 0);
}

/* Adler-32 of the frame's planes packed as FFmpeg's framecrc sees them, and its size. */
static uint32_t hash_frame(const struct vshm_frame *frame, uint32_t *size)
{
	uint32_t adler = 0;
	*size = 0;
	for (uint32_t plane = 0; plane < frame->plane_count; plane++) {
		uint64_t bytes;
		uint32_t rows;
		assert_int_equal(vshm_format_plane_extent(frame->format, plane, frame->width,
		                                          frame->height, &bytes, &rows),
		                 0);
		for (uint32_t y = 0; y < rows; y++) {
			adler = program_adler32(
			    adler, frame->plane[plane] + (uint64_t)y * frame->stride[plane], bytes);
			*size += (uint32_t)bytes;
		}
	}
	return adler;
}

/* Plays path into a stream as fast as it goes, to a lossless reader that the writer
 * waits for, and checks each frame: every published frame is read, whatever the load. */
static void play(const char *path, const char *option, const struct reference *reference,
                 struct played *played)
{
	memset(played, 0, sizeof(*played));
	char name[64], error_path[512];
	test_unique_name(name, sizeof(name), "damaged");
	temporary_path(error_path, sizeof(error_path), "play.err");
	char *argv[] = { (char *)program_path("VSHM_CAPTURE"),
		         (char *)path,
		         "--fast",
		         "--wait-readers",
		         "1",
		         "--name",
		         name,
		         (char *)option,
		         NULL };
	pid_t capture = program_start(argv, NULL, error_path);
	const struct vshm_reader_options lossless = { .lossless = true };
	struct vshm_reader *reader = vshm_reader_attach_wait(name, &lossless, 10000, NULL, NULL);
	assert_non_null(reader);
	struct follow follow = { .reader = reader, .wait_ms = 5000 };
	struct vshm_frame frame;
	while (follow_next(&follow, &frame)) {
		assert_true(frame.frame_number < reference->count);
		uint32_t size;
		uint32_t adler = hash_frame(&frame, &size);
		uint64_t number = frame.frame_number;
		bool damaged = frame.flags & VSHM_FRAME_DAMAGED;
		if (!follow_release(&follow))
			continue; /* torn: never used */
		played->read++;
		played->read_number[number] = true;
		played->damaged[number] = damaged;
		played->flagged += damaged;
		if (size != reference->size[number] || adler != reference->adler[number]) {
			if (played->wrong++ == 0)
				print_error("frame %llu: %u bytes 0x%08x, ffmpeg %u bytes 0x%08x\n",
				            (unsigned long long)number, size, adler,
				            reference->size[number], reference->adler[number]);
		}
	}
	struct vshm_reader_stats stats;
	vshm_reader_get_stats(reader, &stats);
	assert_false(stats.demoted); /* the writer waited for every frame */
	played->published = stats.frames_published;
	vshm_reader_detach(reader);
	played->status = test_wait(capture, 60000);
	assert_false(test_segment_exists(name));
	size_t length = 0;
	char *errors = (char *)program_read_file(error_path, &length);
	assert_non_null(errors);
	snprintf(played->errors, sizeof(played->errors), "%.*s", (int)length, errors);
	free(errors);
	print_message("%s%s: status %d, %llu published, %u read, %u differ from ffmpeg, %u "
	              "flagged damaged; it said:\n%s",
	              option ? option : "", option ? "" : "(default)", played->status,
	              (unsigned long long)played->published, played->read, played->wrong,
	              played->flagged, played->errors);
}

/* An ISO BMFF box: its type, and where it and its contents start and end. */
struct box {
	char type[5];
	size_t start, body, end;
};

/* The box after offset within [offset, end), or false. */
static bool next_box(const uint8_t *data, size_t offset, size_t end, struct box *box)
{
	if (offset + 8 > end)
		return false;
	uint64_t size = (uint64_t)data[offset] << 24 | data[offset + 1] << 16 |
	                data[offset + 2] << 8 | data[offset + 3];
	size_t header = 8;
	if (size == 1 && offset + 16 <= end) {
		size = 0;
		for (int i = 0; i < 8; i++)
			size = size << 8 | data[offset + 8 + i];
		header = 16;
	} else if (size == 0) {
		size = end - offset;
	}
	if (size < header || offset + size > end)
		return false;
	memcpy(box->type, data + offset + 4, 4);
	box->type[4] = '\0';
	box->start = offset;
	box->body = offset + header;
	box->end = offset + size;
	return true;
}

/* The first box of that type directly inside [start, end). */
static bool find_box(const uint8_t *data, size_t start, size_t end, const char *type,
                     struct box *found)
{
	for (size_t offset = start; next_box(data, offset, end, found); offset = found->end)
		if (strcmp(found->type, type) == 0)
			return true;
	return false;
}

static void write_file(const char *path, const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, size), (ssize_t)size);
	close(fd);
}

/*
 * Regression: the chunk offsets of the audio track pointed past the end of the file
 * (bytes flipped in its 'stco' table) and vshm-capture, which read every stream's
 * packets, took the failed audio read for the end of the file: 151 of 375 pictures,
 * silently, status 0. ffmpeg -map 0:v:0 decodes them all.
 */
static void damaged_audio_track_does_not_end_the_video(void **state)
{
	(void)state;
	char original[512], damaged[512];
	temporary_path(original, sizeof(original), "audio-video.mp4");
	temporary_path(damaged, sizeof(damaged), "damaged-audio.mp4");
	const char *make[] = {
		"-f",       "lavfi",   "-i",   "testsrc2=size=160x120:rate=25",
		"-f",       "lavfi",   "-i",   "sine=frequency=440:sample_rate=44100",
		"-t",       "15",      "-c:v", "libx264",
		"-pix_fmt", "yuv420p", "-c:a", "aac",
		"-y",       original,  NULL
	};
	ffmpeg(make);
	size_t size;
	uint8_t *data = program_read_file(original, &size);
	assert_non_null(data);
	struct box moov = { .end = 0 }, trak = { .end = 0 }, mdia = { .end = 0 },
	           hdlr = { .end = 0 }, minf = { .end = 0 }, stbl = { .end = 0 },
	           stco = { .end = 0 };
	assert_true(find_box(data, 0, size, "moov", &moov));
	bool damaged_audio = false;
	for (size_t offset = moov.body; next_box(data, offset, moov.end, &trak);
	     offset = trak.end) {
		if (strcmp(trak.type, "trak") != 0)
			continue;
		assert_true(find_box(data, trak.body, trak.end, "mdia", &mdia));
		assert_true(find_box(data, mdia.body, mdia.end, "hdlr", &hdlr));
		if (memcmp(data + hdlr.body + 8, "soun", 4) != 0)
			continue;
		assert_true(find_box(data, mdia.body, mdia.end, "minf", &minf));
		assert_true(find_box(data, minf.body, minf.end, "stbl", &stbl));
		assert_true(find_box(data, stbl.body, stbl.end, "stco", &stco));
		/* From a third of the way on, every seventh chunk offset gets its top byte
		 * flipped: far past the end of the file. */
		uint32_t count = (uint32_t)data[stco.body + 4] << 24 | data[stco.body + 5] << 16 |
		                 data[stco.body + 6] << 8 | data[stco.body + 7];
		assert_true(count > 30);
		for (uint32_t i = count / 3; i < count; i += 7)
			data[stco.body + 8 + 4 * i] ^= 0x7f;
		damaged_audio = true;
	}
	assert_true(damaged_audio);
	write_file(damaged, data, size);
	free(data);

	struct reference *reference = calloc(1, sizeof(*reference));
	struct played *played = calloc(1, sizeof(*played));
	assert_non_null(reference);
	assert_non_null(played);
	reference_of(damaged, "yuv420p", reference);
	assert_int_equal(reference->count, 375);
	play(damaged, NULL, reference, played);
	assert_int_equal(played->status, 0);
	assert_int_equal(played->published, reference->count);
	assert_int_equal(played->wrong, 0);
	assert_int_equal(played->read, reference->count);
	free(played);
	free(reference);
}

/* Bytes flipped all over the video data of an H.264 file, at the same places every time. */
static void make_damaged_h264(char *path, size_t path_size)
{
	char original[512];
	temporary_path(original, sizeof(original), "video.mp4");
	temporary_path(path, path_size, "damaged-video.mp4");
	const char *make[] = { "-f",       "lavfi",   "-i",   "testsrc2=size=320x240:rate=25",
		               "-t",       "8",       "-c:v", "libx264",
		               "-g",       "25",      "-bf",  "2",
		               "-pix_fmt", "yuv420p", "-y",   original,
		               NULL };
	ffmpeg(make);
	size_t size;
	uint8_t *data = program_read_file(original, &size);
	assert_non_null(data);
	struct box mdat = { .end = 0 };
	assert_true(find_box(data, 0, size, "mdat", &mdat));
	assert_true(mdat.end > mdat.body + 4000);
	uint64_t random = 7;
	for (int i = 0; i < 40; i++) {
		size_t at = mdat.body + 2000 + test_random(&random) % (mdat.end - mdat.body - 2000);
		data[at] ^= 0xff;
	}
	write_file(path, data, size);
	free(data);
}

/*
 * Regression: on a damaged H.264 file, repeated runs published different frames (1, 2,
 * 1, 4, 6 and 3 of them), since pictures with decode errors were dropped and frame
 * threads make the errors differ from run to run. Now every picture the decoder
 * outputs is published, those with errors flagged damaged, and the same every time, as
 * `ffmpeg -threads 1` decodes it (FFmpeg's frame threads differ from run to run on
 * damaged H.264 too). --skip-damaged drops exactly the flagged pictures.
 */
static void damaged_video_plays_as_ffmpeg_decodes_it_every_time(void **state)
{
	(void)state;
	char damaged[512];
	make_damaged_h264(damaged, sizeof(damaged));
	struct reference *reference = calloc(1, sizeof(*reference));
	struct played *runs = calloc(3, sizeof(*runs));
	assert_non_null(reference);
	assert_non_null(runs);
	reference_of(damaged, "yuv420p", reference);
	for (int run = 0; run < 2; run++) {
		play(damaged, NULL, reference, &runs[run]);
		assert_int_equal(runs[run].status, 0);
		assert_int_equal(runs[run].published, reference->count);
		assert_int_equal(runs[run].wrong, 0);
		assert_true(runs[run].flagged > 0);
		assert_int_equal(runs[run].read, reference->count);
		assert_non_null(strstr(runs[run].errors, "the video is damaged"));
	}
	/* The same frames flagged in both runs. */
	for (uint32_t n = 0; n < reference->count; n++)
		assert_int_equal(runs[0].damaged[n], runs[1].damaged[n]);
	const char *said = strstr(runs[0].errors, " damaged |");
	assert_non_null(said);
	while (said[-1] >= '0' && said[-1] <= '9')
		said--;
	uint64_t damaged_count = strtoull(said, NULL, 10);
	assert_true(damaged_count >= runs[0].flagged);

	play(damaged, "--skip-damaged", reference, &runs[2]);
	assert_int_equal(runs[2].status, 0);
	assert_int_equal(runs[2].wrong, 0);
	assert_int_equal(runs[2].flagged, 0);
	assert_int_equal(runs[2].published, reference->count - damaged_count);
	assert_int_equal(runs[2].read, runs[2].published);
	for (uint32_t n = 0; n < reference->count; n++)
		if (runs[2].read_number[n])
			assert_false(runs[0].damaged[n]);
	free(runs);
	free(reference);
}

/* Runs vshm-capture on location; returns its status, with what it said in errors. */
static int capture(const char *location, char *errors, size_t size)
{
	char name[64];
	test_unique_name(name, sizeof(name), "cause");
	char *argv[] = { (char *)program_path("VSHM_CAPTURE"),
		         (char *)location,
		         "--fast",
		         "--quiet",
		         "--name",
		         name,
		         NULL };
	int status = program_run(argv, 30000, errors, size);
	assert_false(test_segment_exists(name));
	print_message("'%s': status %d: %s", location, status, errors);
	return status;
}

/*
 * Regression: a truncated MP4 was "not a video file FFmpeg recognises" (the real cause:
 * "moov atom not found"), a damaged MKV "Not yet implemented in FFmpeg, patches
 * welcome", and an empty SOURCE exited 1 instead of 2 (bad usage).
 */
static void errors_say_ffmpegs_cause(void **state)
{
	(void)state;
	char original[512], cut[512], mkv[512], damaged_mkv[512], errors[2048];
	temporary_path(original, sizeof(original), "whole.mp4");
	temporary_path(cut, sizeof(cut), "cut.mp4");
	temporary_path(mkv, sizeof(mkv), "whole.mkv");
	temporary_path(damaged_mkv, sizeof(damaged_mkv), "damaged.mkv");
	const char *make_mp4[] = { "-f", "lavfi",  "-i",   "testsrc2=size=160x120:rate=25",
		                   "-t", "2",      "-c:v", "libx264",
		                   "-y", original, NULL };
	ffmpeg(make_mp4);
	const char *make_mkv[] = { "-f", "lavfi", "-i",   "testsrc2=size=160x120:rate=25",
		                   "-t", "1",     "-c:v", "ffv1",
		                   "-y", mkv,     NULL };
	ffmpeg(make_mkv);

	/* The MP4's index (moov) is written last: cut it off. */
	size_t size;
	uint8_t *data = program_read_file(original, &size);
	assert_non_null(data);
	struct box moov = { .start = 0 };
	assert_true(find_box(data, 0, size, "moov", &moov));
	write_file(cut, data, moov.start);
	free(data);
	assert_int_equal(capture(cut, errors, sizeof(errors)), 1);
	assert_non_null(strstr(errors, "moov atom not found"));

	/* An EBML header that asks for a version of EBML FFmpeg does not read. */
	data = program_read_file(mkv, &size);
	assert_non_null(data);
	uint8_t *version = memmem(data, 64, "\x42\xf7\x81\x01", 4); /* EBMLReadVersion 1 */
	assert_non_null(version);
	version[3] = 2;
	write_file(damaged_mkv, data, size);
	free(data);
	assert_int_equal(capture(damaged_mkv, errors, sizeof(errors)), 1);
	assert_non_null(strstr(errors, "EBML version 2"));
	assert_non_null(strstr(errors, "is not implemented"));

	assert_int_equal(capture("", errors, sizeof(errors)), 2);
	assert_non_null(strstr(errors, "SOURCE is empty"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(damaged_audio_track_does_not_end_the_video),
		cmocka_unit_test(damaged_video_plays_as_ffmpeg_decodes_it_every_time),
		cmocka_unit_test(errors_say_ffmpegs_cause),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	return failures;
}
