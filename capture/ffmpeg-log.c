/* FFmpeg's log, kept for the cause of a failure (see ffmpeg-log.h). */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "ffmpeg-log.h"

#define MESSAGE_MAX 256

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char last_error[MESSAGE_MAX];
static char last_warning[MESSAGE_MAX];
static bool debug;

/* A line FFmpeg logged in pieces (its messages end with a newline) is gathered here. */
static char partial[MESSAGE_MAX];

/* Keeps a whole line: its first sentence, without FFmpeg's further advice. */
static void keep_line(int level, char *line)
{
	char *end = strstr(line, ". ");
	if (end)
		*end = '\0';
	size_t length = strlen(line);
	while (length &&
	       (line[length - 1] == '\n' || line[length - 1] == '.' || line[length - 1] == ' '))
		line[--length] = '\0';
	if (length)
		snprintf(level <= AV_LOG_ERROR ? last_error : last_warning, MESSAGE_MAX, "%s",
		         line);
}

static void keep(void *context, int level, const char *format, va_list arguments)
{
	if (debug) {
		va_list copy;
		va_copy(copy, arguments);
		av_log_default_callback(context, level, format, copy);
		va_end(copy);
	}
	if (level > AV_LOG_WARNING)
		return;
	char piece[MESSAGE_MAX];
	int print_prefix = 0; /* the message alone, without "[mov,mp4 @ 0x...]" */
	av_log_format_line2(context, level, format, arguments, piece, sizeof(piece), &print_prefix);
	pthread_mutex_lock(&lock);
	size_t used = strlen(partial);
	snprintf(partial + used, sizeof(partial) - used, "%s", piece);
	used = strlen(partial);
	if (used && (partial[used - 1] == '\n' || used == sizeof(partial) - 1)) {
		keep_line(level, partial);
		partial[0] = '\0';
	}
	pthread_mutex_unlock(&lock);
}

void capture_ffmpeg_log_start(void)
{
	debug = getenv("VSHM_DEBUG") != NULL;
	av_log_set_level(debug ? AV_LOG_INFO : AV_LOG_WARNING);
	av_log_set_callback(keep);
}

void capture_ffmpeg_log_forget(void)
{
	pthread_mutex_lock(&lock);
	last_error[0] = last_warning[0] = partial[0] = '\0';
	pthread_mutex_unlock(&lock);
}

const char *capture_ffmpeg_log_last(char *out, size_t size)
{
	pthread_mutex_lock(&lock);
	snprintf(out, size, "%s", last_error[0] ? last_error : last_warning);
	pthread_mutex_unlock(&lock);
	return out;
}
