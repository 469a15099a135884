/*
 * Private to vshm-record: a recording's state, shared by recorder.c (the stream: waiting,
 * taking frames, limits, the status line) and encode.c (a taken frame into the encoder
 * and the output, files begun and finished).
 */
#ifndef VSHM_RECORD_RECORDER_PRIVATE_H
#define VSHM_RECORD_RECORDER_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>
#include <vshm/vshm.h>

#include "encoder.h"
#include "output.h"
#include "picture.h"
#include "recorder.h"
#include "status.h"

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

/* A line of its own on stderr, after ending a status line left open on a terminal. */
void recorder_say(struct recorder *recorder, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* The frame's capture time (its publish time if the writer did not stamp it). */
uint64_t recorder_stamp_of(const struct vshm_frame *frame);

/*
 * encode.c. Each returns 0 or a negative AVERROR after saying why (recorder->failed set
 * for a failure, not for a stop asked by a signal).
 */
/* Opens the encoder for frames like this one, and the current file or stream for it. */
int recorder_begin_file(struct recorder *recorder, const struct vshm_frame *frame);
/* Drains the encoder into the output and finishes it (trailer and all). */
int recorder_end_file(struct recorder *recorder);
/* A frame of another size or format: a new file with --split, else scaled. */
int recorder_follow_change(struct recorder *recorder, const struct vshm_frame *frame);
/* Records the frame held from the stream and gives it back (see encode.c). */
int recorder_record_held(struct recorder *recorder, const struct vshm_frame *frame);

#endif
