/*
 * A frame taken from the stream into the encoder and the output (recorder-private.h):
 * the encoder reads it in the slot or in the one copy picture.c makes, only intact
 * frames reach the file, and files and network outputs are begun, finished, and for a
 * listener whose receiver went away, waited on again.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/pixdesc.h>

#include "ffmpeg-error.h"
#include "options.h"
#include "recorder-private.h"
#include "shutdown.h"

static AVRational time_base(void)
{
	return (AVRational){ 1, TIME_BASE_HZ };
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

/* Its timestamp in the current file: capture time since the file's first frame, made
 * strictly increasing, as every container demands. */
static int64_t pts_of(struct recorder *recorder, const struct vshm_frame *frame)
{
	uint64_t stamp = recorder_stamp_of(frame);
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
int recorder_begin_file(struct recorder *recorder, const struct vshm_frame *frame)
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
	recorder->file_start_ns = recorder_stamp_of(frame);
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
int recorder_end_file(struct recorder *recorder)
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
int recorder_follow_change(struct recorder *recorder, const struct vshm_frame *frame)
{
	if (frame->format == recorder->file_format && frame->width == recorder->file_width &&
	    frame->height == recorder->file_height)
		return 0;
	if (recorder->options->output.split) {
		int result = recorder_end_file(recorder);
		if (result < 0)
			return result;
		output_next_file(&recorder->output);
		return recorder_begin_file(recorder, frame);
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
int recorder_record_held(struct recorder *recorder, const struct vshm_frame *frame)
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
