/*
 * Where vshm-record's packets go: a file (the container from its extension) or a URL
 * FFmpeg writes (srt://, udp://, rtp://, tcp://, rtsp://), through libavformat.
 *
 * The output is opened in two steps, so that a bad path or an unreachable receiver is
 * reported at once, before any frame: output_connect() creates the file or connects
 * (a listener waits here for its receiver); output_begin() writes the container's
 * header once the encoder is open, since the header holds the codec's parameters.
 *
 * Messages: functions that return an error have printed one line on stderr naming
 * the output, except output_write(), whose errors the caller explains (it knows
 * whether to stop, or to wait for a receiver again). Not thread-safe.
 */
#ifndef VSHM_RECORD_OUTPUT_H
#define VSHM_RECORD_OUTPUT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "encoder.h"

struct output_settings {
	const char *location; /* OUTPUT: a path, a pattern with %d (split) or a URL */
	const char *format;   /* --format: a container name; NULL: from the name */
	bool split;           /* a new file at each change of frame size or format */
	bool overwrite;       /* replace an existing file */
	const char *sdp_path; /* rtp: where the session description goes; NULL: stdout */
	bool quiet;
};

struct output {
	struct output_settings settings;
	const AVOutputFormat *format;
	bool network;  /* a URL, not a file */
	bool listener; /* a URL that waits for its receiver (srt mode=listener, tcp listen) */
	bool low_latency;
	char path[PATH_MAX]; /* the current file (the pattern filled in) or the URL */
	unsigned file_index; /* --split: the number of the current file, from 0 */
	AVIOContext *io;
	AVFormatContext *context;
	AVStream *stream;
	bool header_written;
	bool opened_file;        /* output_connect() created or replaced the current file */
	bool failed;             /* a write failed (said by the caller): output_end() tries
	                          * the trailer, to keep what it can, but says nothing more */
	uint64_t packets;        /* written into the current file */
	uint64_t finished_bytes; /* of the files already finished (--split) */
	uint64_t packet_bytes;   /* encoded bytes handed to the muxer, all files */
	uint64_t deadline_ns;    /* 0, or when blocking network I/O gives up (finishing) */
};

/* Whether OUTPUT is a URL (srt://, udp:// ...) rather than a file. */
bool output_is_network(const char *location);

/*
 * Resolves the container (--format, the URL's scheme, or the extension) and checks that
 * it can hold codec and fits the other settings. Returns 0 or -1 after saying why.
 */
int output_prepare(struct output *output, const struct output_settings *settings,
                   const AVCodec *codec, bool low_latency);

/*
 * Creates the current file (refusing to replace one without --overwrite) or opens the
 * URL: connects to a receiver, or as a listener waits for one (Ctrl-C stops the
 * wait). Returns 0, or a negative AVERROR after saying why (AVERROR_EXIT: stopped by a
 * signal, nothing said).
 */
int output_connect(struct output *output);

/*
 * Sets up the container for encoder's stream and writes its header (for rtp, also the
 * session description). Returns 0 or a negative AVERROR after saying why.
 */
int output_begin(struct output *output, const struct encoder *encoder);

/* Muxes a packet whose timestamps are in time_base. Returns 0 or a negative AVERROR. */
int output_write(struct output *output, AVPacket *packet, AVRational time_base);

/*
 * Writes the trailer (when trailer is true and a header was written), closes the file
 * or connection and frees the container; removes a file that holds no frame. Network
 * I/O is given a few seconds at most. Returns 0 or the first negative AVERROR, after
 * saying why (not for a trailer skipped). Accepts an output never begun.
 */
int output_end(struct output *output, bool trailer);

/* Gives blocking network writes a few seconds from now at most, even after a signal
 * (which otherwise interrupts them at once): for the last packets and the trailer. */
void output_finish_soon(struct output *output);

/* Moves to the next file of --split (output_connect() opens it). */
void output_next_file(struct output *output);

/* Whether a write error means the file system is full (or the file at its size limit). */
bool output_is_full(int error);

/* Bytes that reached the output so far (files, connection), or the encoded bytes when
 * FFmpeg does the I/O itself (rtsp). */
uint64_t output_bytes(const struct output *output);

#endif
