/* FFmpeg's last error message, for vshm-record's error lines (see ffmpeg-log.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>
#include <libavutil/log.h>

#include "ffmpeg-log.h"

static pthread_mutex_t last_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_message[256];

static void remember(void *context, int level, const char *format, va_list arguments)
{
	if (level > AV_LOG_ERROR)
		return;
	char message[sizeof(last_message)];
	vsnprintf(message, sizeof(message), format, arguments);
	/* Messages come with their own newline, and some in several pieces: keep the
	 * last non-empty one, on one line. */
	size_t length = strcspn(message, "\r\n");
	message[length] = '\0';
	if (length == 0)
		return;
	pthread_mutex_lock(&last_lock);
	memcpy(last_message, message, length + 1);
	pthread_mutex_unlock(&last_lock);
}

void ffmpeg_log_install(void)
{
	if (getenv("VSHM_DEBUG")) {
		av_log_set_level(AV_LOG_INFO);
		return;
	}
	av_log_set_callback(remember);
}

void ffmpeg_log_clear(void)
{
	pthread_mutex_lock(&last_lock);
	last_message[0] = '\0';
	pthread_mutex_unlock(&last_lock);
}

const char *ffmpeg_log_explain(int error, char *out, size_t size)
{
	char text[AV_ERROR_MAX_STRING_SIZE];
	av_strerror(error, text, sizeof(text));
	pthread_mutex_lock(&last_lock);
	if (last_message[0] && !strstr(last_message, text))
		snprintf(out, size, "%s (%s)", text, last_message);
	else
		snprintf(out, size, "%s", text);
	pthread_mutex_unlock(&last_lock);
	return out;
}
