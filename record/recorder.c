/*
 * The recording loop (recorder.h): wait on the stream's futex, take a frame, turn it
 * into the encoder's frame (picture.h: in place, or the one copy or conversion), give
 * the slot back, and encode and mux only frames that stayed intact while they were
 * read. Timestamps are the frames' capture times, so a stream whose rate varies is
 * recorded with its real timing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <libavutil/pixdesc.h>

#include "ffmpeg-error.h"
#include "options.h"
#include "picture.h"
#include "recorder.h"
#include "shutdown.h"
#include "status.h"

/* Short enough to notice Ctrl-C and print the status on time, long enough to cost
 * nothing while the stream is idle. */
#define WAIT_MS            100
#define RETRY_NS           50000000
#define STATUS_INTERVAL_NS 1000000000u
/* Timestamps in the 90 kHz clock of MPEG: exact for every usual frame rate. */
#define TIME_BASE_HZ 90000
/* Packets an encoder without delay may return for one frame (in fact one). */
#define HELD_PACKETS_MAX 8

struct recorder {
	const struct recorder_options *options;
	const AVCodec *codec;
	struct vshm_reader *reader;
	struct encoder encoder;
	struct picture_maker pictures;
	struct output output;
	AVFrame *picture;
	AVPacket *packet;
	/* Packets of a frame encoded in place, until the slot's release says it was intact. */
	AVPacket *held[HELD_PACKETS_MAX];
	int held_count;

	bool started;           /* the first frame was taken */
	uint64_t start_ns;      /* its capture time: --duration counts from it */
	uint64_t file_start_ns; /* capture time of the current file's first frame */
	int64_t last_pts;       /* in the current file, -1 before its first frame */
	uint32_t file_format;   /* format and size of the current file's first frame */
	uint32_t file_width, file_height;
	bool size_change_said;
	uint64_t last_sequence; /* publish number of the last frame taken, 0 after a move */
	bool force_keyframe;    /* a receiver (re)connected: give it one to start at */
	bool finishing;         /* draining into a file or stream that ends */

	uint64_t frames_encoded; /* intact frames handed to the encoder */
	uint64_t frames_written; /* packets muxed */
	uint64_t dropped;        /* published but never taken (a lossy reader's gaps) */
	uint64_t torn;           /* taken, but overwritten while read: not recorded */
	uint64_t invalid;        /* rejected by libvshm's checks */
	uint64_t status_frames, status_bytes;
	uint64_t started_wall_ns; /* when the first frame was taken */
	struct program_status status;
	bool writer_lost;
	bool demotion_said;
	bool done;
	bool failed;
};

static AVRational time_base(void)
{
	return (AVRational){ 1, TIME_BASE_HZ };
}

/* A line of its own, after ending a status line left open on a terminal. */
__attribute__((format(printf, 2, 3))) static void say(struct recorder *recorder, const char *format,
                                                      ...)
{
	char line[1024];
	va_list arguments;
	va_start(arguments, format);
	vsnprintf(line, sizeof(line), format, arguments);
	va_end(arguments);
	program_status_break(&recorder->status);
	program_say("%s", line);
}

/* The output gave an error writing a packet. Returns 0 if recording goes on (a listener
 * got a new receiver), else the error, after saying why once. */
static int write_failed(struct recorder *recorder, int error)
{
	struct output *output = &recorder->output;
	if (program_shutdown_requested()) {
		/* The signal interrupted the write: we are stopping anyway, and the output
		 * keeps what reached it (a network receiver needs no trailer). */
		output->failed = true;
		return error;
	}
	char why[512];
	ffmpeg_error_explain(error, why, sizeof(why));
	program_status_break(&recorder->status);
	if (output->network && output->listener && !recorder->finishing) {
		program_say("the receiver of %s went away (%s); waiting for another", output->path,
		            why);
		output_end(output, false);
		int result = output_connect(output);
		if (result == 0)
			result = output_begin(output, &recorder->encoder);
		if (result < 0) {
			recorder->failed = result != AVERROR_EXIT;
			return result;
		}
		recorder->force_keyframe = true;
		return 0;
	}
	if (output->network)
		program_say("the receiver of %s went away (%s); stopping", output->path, why);
	else if (error == AVERROR(EFBIG))
		program_say("'%s' reached the largest file size allowed (%s); stopping, and "
		            "keeping what was written",
		            output->path, why);
	else if (output_is_full(error))
		program_say("'%s': the disk is full (%s); stopping, and keeping what was written",
		            output->path, why);
	else
		program_say("cannot write '%s': %s; stopping", output->path, why);
	recorder->failed = true;
	output->failed = true;
	return error;
}

static int write_packet(struct recorder *recorder, AVPacket *packet)
{
	int result = output_write(&recorder->output, packet, time_base());
	av_packet_unref(packet);
	if (result < 0)
		return write_failed(recorder, result);
	recorder->frames_written++;
	return 0;
}

/*
 * Hands picture to the encoder (NULL: drain it) and muxes what comes out, or with hold,
 * keeps the packets in recorder->held for the caller to mux or drop. Returns 0 or a
 * negative AVERROR after saying why.
 */
static int encode(struct recorder *recorder, const AVFrame *picture, bool hold)
{
	AVCodecContext *context = recorder->encoder.context;
	capture_ffmpeg_log_forget();
	int result = avcodec_send_frame(context, picture);
	while (result >= 0) {
		result = avcodec_receive_packet(context, recorder->packet);
		if (result == AVERROR(EAGAIN) || result == AVERROR_EOF)
			return 0;
		if (result < 0)
			break;
		if (!hold) {
			result = write_packet(recorder, recorder->packet);
			if (result < 0)
				return result;
			continue;
		}
		if (recorder->held_count == HELD_PACKETS_MAX) {
			result = AVERROR_BUG;
			break;
		}
		AVPacket *kept = av_packet_alloc();
		if (!kept) {
			result = AVERROR(ENOMEM);
			break;
		}
		av_packet_move_ref(kept, recorder->packet);
		recorder->held[recorder->held_count++] = kept;
	}
	char why[512];
	program_status_break(&recorder->status);
	program_say("the %s encoder failed: %s", recorder->codec->name,
	            ffmpeg_error_explain(result, why, sizeof(why)));
	recorder->failed = true;
	return result;
}

static void drop_held(struct recorder *recorder)
{
	for (int i = 0; i < recorder->held_count; i++)
		av_packet_free(&recorder->held[i]);
	recorder->held_count = 0;
}

static int write_held(struct recorder *recorder)
{
	int result = 0;
	for (int i = 0; i < recorder->held_count && result == 0; i++)
		result = write_packet(recorder, recorder->held[i]);
	drop_held(recorder);
	return result;
}

/* The frame's capture time (its publish time if the writer did not stamp it). */
static uint64_t stamp_of(const struct vshm_frame *frame)
{
	return frame->capture_ns ? frame->capture_ns : frame->publish_ns;
}

/* Its timestamp in the current file: capture time since the file's first frame, made
 * strictly increasing, as every container demands. */
static int64_t pts_of(struct recorder *recorder, const struct vshm_frame *frame)
{
	uint64_t stamp = stamp_of(frame);
	int64_t pts =
	    stamp > recorder->file_start_ns
	        ? av_rescale((int64_t)(stamp - recorder->file_start_ns), TIME_BASE_HZ, 1000000000)
	        : 0;
	if (pts <= recorder->last_pts)
		pts = recorder->last_pts + 1;
	recorder->last_pts = pts;
	return pts;
}

/* Opens the encoder for frames like this one, and the current file or stream for it. */
static int begin_file(struct recorder *recorder, const struct vshm_frame *frame)
{
	struct output *output = &recorder->output;
	int result = 0;
	if (!output->io && !(output->format->flags & AVFMT_NOFILE))
		result = output_connect(output);
	struct vshm_reader_stats stats;
	vshm_reader_get_stats(recorder->reader, &stats);
	if (result == 0)
		result =
		    encoder_open(&recorder->encoder, recorder->codec, &recorder->options->encoder,
		                 frame, time_base(), stats.frame_interval_ns,
		                 output->format->flags & AVFMT_GLOBALHEADER);
	if (result == 0)
		result = output_begin(output, &recorder->encoder);
	if (result < 0) {
		recorder->failed = result != AVERROR_EXIT;
		return result;
	}
	recorder->file_start_ns = stamp_of(frame);
	recorder->last_pts = -1;
	recorder->file_format = frame->format;
	recorder->file_width = frame->width;
	recorder->file_height = frame->height;
	if (!recorder->options->quiet) {
		program_status_break(&recorder->status);
		program_say("'%s' (%ux%u %s) -> %s: %s %s in %s%s", recorder->options->name,
		            frame->width, frame->height, vshm_format_name(frame->format),
		            output->path, recorder->codec->name,
		            av_get_pix_fmt_name(recorder->encoder.format), output->format->name,
		            recorder->encoder.in_place ? ", frames read in place" : "");
	}
	return 0;
}

/* Drains the encoder into the output and finishes it (trailer and all). */
static int end_file(struct recorder *recorder)
{
	recorder->finishing = true;
	/* Network writes get a few seconds more, even after a signal. */
	output_finish_soon(&recorder->output);
	int result = 0;
	if (recorder->encoder.context && recorder->output.context && !recorder->failed)
		result = encode(recorder, NULL, false);
	/* A trailer that cannot be written after a failure already said (or a write a
	 * signal interrupted) is no new failure. */
	bool failed_before = recorder->failed || recorder->output.failed;
	int ended = output_end(&recorder->output, true);
	encoder_close(&recorder->encoder);
	if (ended < 0 && !failed_before)
		recorder->failed = true;
	recorder->finishing = false;
	return result < 0 ? result : ended;
}

/* A frame of another size or format: a new file with --split, else scaled and
 * converted to the first frame's (picture.c). */
static int follow_change(struct recorder *recorder, const struct vshm_frame *frame)
{
	if (frame->format == recorder->file_format && frame->width == recorder->file_width &&
	    frame->height == recorder->file_height)
		return 0;
	if (recorder->options->output.split) {
		int result = end_file(recorder);
		if (result < 0)
			return result;
		output_next_file(&recorder->output);
		return begin_file(recorder, frame);
	}
	if (!recorder->size_change_said && !recorder->options->quiet) {
		recorder->size_change_said = true;
		program_status_break(&recorder->status);
		program_say("'%s' changed to %ux%u %s mid-stream; scaling to %dx%d (--split starts "
		            "a new file instead)",
		            recorder->options->name, frame->width, frame->height,
		            vshm_format_name(frame->format), recorder->encoder.width,
		            recorder->encoder.height);
	}
	recorder->file_format = frame->format;
	recorder->file_width = frame->width;
	recorder->file_height = frame->height;
	return 0;
}

/*
 * Records the frame held from the stream and gives it back. The encoder reads the
 * pixels either in the slot itself, before the release (then the packet is dropped if
 * the frame was torn), or in the one copy made before the release (then a torn copy is
 * never handed over).
 */
static int record_held(struct recorder *recorder, const struct vshm_frame *frame)
{
	AVFrame *picture = recorder->picture;
	int kind = picture_make(&recorder->pictures, &recorder->encoder, frame, picture);
	if (kind < 0) {
		vshm_reader_release(recorder->reader);
		recorder->failed = true;
		return kind;
	}
	picture->pts = pts_of(recorder, frame);
	picture->pict_type = recorder->force_keyframe ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
	if (kind == PICTURE_IN_PLACE) {
		int result = encode(recorder, picture, true);
		/* The encoder must be done with the slot before it goes back: it returned this
		 * frame's packet, and holds no reference to the frame any more. */
		bool kept = av_buffer_get_ref_count(picture->buf[0]) > 1;
		av_frame_unref(picture);
		if (kept) {
			program_status_break(&recorder->status);
			program_say("the %s encoder kept a frame read in place, which vshm-record "
			            "does not expect; stopping (please report this)",
			            recorder->codec->name);
			drop_held(recorder);
			encoder_close(&recorder->encoder); /* lets go of the slot first */
			vshm_reader_release(recorder->reader);
			recorder->failed = true;
			return AVERROR_BUG;
		}
		int intact = vshm_reader_release(recorder->reader);
		if (result < 0) {
			drop_held(recorder);
			return result;
		}
		if (intact != 1) {
			recorder->torn++; /* the writer rewrote it while we encoded: drop it */
			drop_held(recorder);
			return 0;
		}
		recorder->frames_encoded++;
		recorder->force_keyframe = false;
		return write_held(recorder);
	}
	/* Copied (or converted): the copy is all the encoder will read. */
	int intact = vshm_reader_release(recorder->reader);
	if (intact != 1) {
		recorder->torn++;
		av_frame_unref(picture);
		return 0;
	}
	int result = encode(recorder, picture, false);
	av_frame_unref(picture);
	if (result == 0) {
		recorder->frames_encoded++;
		recorder->force_keyframe = false;
	}
	return result;
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
			say(recorder,
			    "'%s' had published %llu frame%s before vshm-record attached; "
			    "recording "
			    "every frame from there on",
			    options->name, (unsigned long long)(frame->sequence - 1),
			    frame->sequence == 2 ? "" : "s");
		recorder->started = true;
		recorder->start_ns = stamp_of(frame);
		recorder->started_wall_ns = vshm_now_ns();
	} else if (options->duration_ns && stamp_of(frame) >= recorder->start_ns &&
	           stamp_of(frame) - recorder->start_ns >= options->duration_ns) {
		vshm_reader_release(recorder->reader);
		recorder->done = true;
		return;
	}
	int result = recorder->encoder.context ? follow_change(recorder, frame)
	                                       : begin_file(recorder, frame);
	if (result < 0) {
		vshm_reader_release(recorder->reader);
		recorder->done = true;
		return;
	}
	result = record_held(recorder, frame);
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
			say(recorder,
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
				say(recorder,
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
	end_file(&recorder);
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
