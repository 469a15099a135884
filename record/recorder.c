/*
 * The recording loop (recorder.h): attach to the stream, wait on its futex, take each
 * new frame (every one, lossless), count what was missed, apply the limits, follow the
 * stream across writers, and print the status line. encode.c records each frame taken:
 * into the encoder's frame (picture.h: in place, or the one copy or conversion), the
 * slot given back, and only frames that stayed intact while read encoded and muxed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "options.h"
#include "recorder-private.h"
#include "shutdown.h"
#include "status.h"

/* Short enough to notice Ctrl-C and print the status on time, long enough to cost
 * nothing while the stream is idle. */
#define WAIT_MS            100
#define RETRY_NS           50000000
#define STATUS_INTERVAL_NS 1000000000u

void recorder_say(struct recorder *recorder, const char *format, ...)
{
	char line[1024];
	va_list arguments;
	va_start(arguments, format);
	vsnprintf(line, sizeof(line), format, arguments);
	va_end(arguments);
	program_status_break(&recorder->status);
	program_say("%s", line);
}

uint64_t recorder_stamp_of(const struct vshm_frame *frame)
{
	return frame->capture_ns ? frame->capture_ns : frame->publish_ns;
}

/* One frame taken from the stream: count gaps, apply limits, record, release. */
static void take(struct recorder *recorder, const struct vshm_frame *frame)
{
	const struct recorder_options *options = recorder->options;
	if (recorder->last_sequence && frame->sequence <= recorder->last_sequence) {
		vshm_reader_release(recorder->reader); /* a lossy reader's same frame again */
		return;
	}
	if (recorder->last_sequence)
		recorder->dropped += frame->sequence - recorder->last_sequence - 1;
	recorder->last_sequence = frame->sequence;
	if (recorder->writer_lost && !options->quiet) {
		program_status_break(&recorder->status);
		program_say("'%s' has a writer again; recording", options->name);
	}
	recorder->writer_lost = false;
	bool end_of_stream = frame->flags & VSHM_FRAME_END_OF_STREAM;
	if (!recorder->started) {
		/* A lossless recording takes every frame from its first; say if the stream
		 * had begun before that, so nobody takes the file for all of it. */
		if (options->lossless && frame->sequence > 1 && !options->quiet)
			recorder_say(recorder,
			             "'%s' had published %llu frame%s before vshm-record attached; "
			             "recording "
			             "every frame from there on",
			             options->name, (unsigned long long)(frame->sequence - 1),
			             frame->sequence == 2 ? "" : "s");
		recorder->started = true;
		recorder->start_ns = recorder_stamp_of(frame);
		recorder->started_wall_ns = vshm_now_ns();
	} else if (options->duration_ns && recorder_stamp_of(frame) >= recorder->start_ns &&
	           recorder_stamp_of(frame) - recorder->start_ns >= options->duration_ns) {
		vshm_reader_release(recorder->reader);
		recorder->done = true;
		return;
	}
	int result = recorder->encoder.context ? recorder_follow_change(recorder, frame)
	                                       : recorder_begin_file(recorder, frame);
	if (result < 0) {
		vshm_reader_release(recorder->reader);
		recorder->done = true;
		return;
	}
	result = recorder_record_held(recorder, frame);
	if (result < 0 || end_of_stream ||
	    (options->frame_limit && recorder->frames_encoded >= options->frame_limit))
		recorder->done = true;
}

static void format_bytes(uint64_t bytes, char *out, size_t size)
{
	if (bytes >= 1000000)
		snprintf(out, size, "%.1f MB", (double)bytes / 1e6);
	else
		snprintf(out, size, "%.1f kB", (double)bytes / 1e3);
}

static void print_status(struct recorder *recorder, bool final, uint64_t elapsed_ns)
{
	const struct output *output = &recorder->output;
	char size[32];
	format_bytes(output_bytes(output), size, sizeof(size));
	uint64_t frames = recorder->frames_written - recorder->status_frames;
	uint64_t bytes = output->packet_bytes - recorder->status_bytes;
	recorder->status_frames = recorder->frames_written;
	recorder->status_bytes = output->packet_bytes;
	if (final) {
		/* The average over the recording. */
		elapsed_ns = recorder->started ? vshm_now_ns() - recorder->started_wall_ns : 0;
		frames = recorder->frames_written;
		bytes = output->packet_bytes;
	}
	double seconds = (double)elapsed_ns / 1e9;
	char files[32] = "";
	if (output->settings.split)
		snprintf(files, sizeof(files), " (%u file%s)", output->file_index + 1,
		         output->file_index ? "s" : "");
	char invalid[48] = "";
	if (recorder->invalid)
		snprintf(invalid, sizeof(invalid), " | %llu invalid",
		         (unsigned long long)recorder->invalid);
	program_status_print(
	    &recorder->status, final,
	    "%s'%s' -> %s%s | %5.1f fps | %llu frames | %llu dropped | %llu torn%s | %.2f Mbit/s | "
	    "%s",
	    final ? "done: " : "", recorder->options->name, output->path, files,
	    seconds > 0 ? (double)frames / seconds : 0.0,
	    (unsigned long long)recorder->frames_written, (unsigned long long)recorder->dropped,
	    (unsigned long long)recorder->torn, invalid,
	    seconds > 0 ? (double)bytes * 8 / seconds / 1e6 : 0.0, size);
}

/* Once a second: the status line, and whether the writer stopped waiting for us. */
static void check_status(struct recorder *recorder)
{
	uint64_t elapsed_ns;
	if (!program_status_due(&recorder->status, &elapsed_ns))
		return;
	if (recorder->options->lossless && !recorder->demotion_said) {
		struct vshm_reader_stats stats;
		vshm_reader_get_stats(recorder->reader, &stats);
		if (stats.demoted) {
			recorder->demotion_said = true;
			recorder_say(
			    recorder,
			    "fell behind '%s' for longer than its writer waits for a lossless "
			    "reader: frames may be dropped from now on",
			    recorder->options->name);
		}
	}
	print_status(recorder, false, elapsed_ns);
}

/* What a wait that brought no frame means: the writer gone, or a new segment to follow. */
static void no_frame(struct recorder *recorder, int result)
{
	const struct recorder_options *options = recorder->options;
	if (result == -EPIPE) {
		if (options->stop_when_gone) {
			recorder->done = true;
		} else if (!recorder->writer_lost) {
			recorder->writer_lost = true;
			if (!options->quiet)
				recorder_say(
				    recorder,
				    "'%s' lost its writer; waiting for a new one (--stop-when-gone "
				    "ends the recording instead)",
				    options->name);
		}
	} else if (result == -ESTALE) {
		/* A new writer has the name (or the stream moved to bigger slots). */
		if (vshm_reader_reattach(recorder->reader) == 0) {
			recorder->last_sequence = 0;
		} else {
			struct timespec pause = { 0, RETRY_NS };
			nanosleep(&pause, NULL);
		}
	}
}

/*
 * Waits for a frame newer than the last one taken (a lossless reader: the next one,
 * there at once if the writer is ahead), then takes it. Waiting first means a lossy
 * reader never takes the same frame twice.
 */
static void loop(struct recorder *recorder)
{
	while (!recorder->done && !program_shutdown_requested()) {
		int result = vshm_reader_wait(recorder->reader, WAIT_MS);
		if (result == 0) {
			struct vshm_frame frame;
			result = vshm_reader_acquire(recorder->reader, &frame);
			if (result == 0)
				take(recorder, &frame);
			else if (result == -EBADMSG)
				recorder->invalid++;
		} else {
			no_frame(recorder, result);
		}
		check_status(recorder);
	}
}

/* Says once what is awaited; stops waiting when asked to stop. */
static bool keep_waiting(const char *name, unsigned attempt, void *data)
{
	const struct recorder *recorder = data;
	if (attempt == 0 && !recorder->options->quiet)
		program_say("waiting for stream '%s' (start its writer, e.g. vshm-capture --name "
		            "%s test)",
		            name, name);
	return !program_shutdown_requested();
}

static int attach(struct recorder *recorder)
{
	const struct recorder_options *options = recorder->options;
	/* A writer's bug that truncates the stream must not kill the recording too. */
	struct vshm_reader_options reader_options = {
		.guard_truncation = true,
		.lossless = options->lossless,
		.allow_foreign_owner = options->allow_foreign,
	};
	recorder->reader = vshm_reader_attach_wait(options->name, &reader_options,
	                                           options->timeout_ms, keep_waiting, recorder);
	if (recorder->reader)
		return 0;
	if (errno == EINTR)
		return AVERROR_EXIT;
	if (errno == ETIMEDOUT)
		program_say("stream '%s' did not appear within %g s", options->name,
		            options->timeout_ms / 1000.0);
	else
		program_say("cannot record stream '%s': %s", options->name, vshm_error());
	return -errno;
}

int recorder_run(const struct recorder_options *options)
{
	struct recorder recorder = { .options = options, .last_pts = -1 };
	program_status_init(&recorder.status, options->quiet, STATUS_INTERVAL_NS);
	recorder.codec = encoder_find(&options->encoder);
	if (!recorder.codec)
		return 1;
	if (output_prepare(&recorder.output, &options->output, recorder.codec,
	                   options->encoder.low_latency) < 0)
		return 1;
	recorder.picture = av_frame_alloc();
	recorder.packet = av_packet_alloc();
	if (!recorder.picture || !recorder.packet) {
		program_say("out of memory");
		recorder.failed = true;
		goto out;
	}
	/* Open the output first: a bad path or an unreachable receiver is said at once. */
	int result = output_connect(&recorder.output);
	if (result == 0)
		result = attach(&recorder);
	if (result < 0) {
		recorder.failed = result != AVERROR_EXIT;
		goto out;
	}
	program_status_init(&recorder.status, options->quiet, STATUS_INTERVAL_NS);
	loop(&recorder);
	if (program_shutdown_requested() && !options->quiet) {
		program_status_break(&recorder.status);
		program_say("stopped by %s; finishing %s", strsignal(program_shutdown_signal()),
		            recorder.output.path);
	}

out:
	/* After a failure, said already, the output's removal needs no word of its own. */
	if (recorder.failed && !recorder.frames_written)
		recorder.output.settings.quiet = true;
	recorder_end_file(&recorder);
	/* The summary says how far a recording got; there is none to give for one that
	 * failed before its first frame. */
	if (recorder.reader && (recorder.frames_written || !recorder.failed)) {
		recorder.status.quiet = options->quiet && !recorder.failed;
		print_status(&recorder, true, 0);
	}
	picture_maker_finish(&recorder.pictures);
	av_frame_free(&recorder.picture);
	av_packet_free(&recorder.packet);
	vshm_reader_detach(recorder.reader);
	return recorder.failed ? 1 : 0;
}
