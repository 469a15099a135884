/* FFmpeg's error codes with what its log said about them (see ffmpeg-error.h). */
#include <stdio.h>
#include <string.h>

#include <libavutil/error.h>

#include "ffmpeg-error.h"

const char *ffmpeg_error_explain(int error, char *out, size_t size)
{
	char text[AV_ERROR_MAX_STRING_SIZE], logged[256];
	av_strerror(error, text, sizeof(text));
	capture_ffmpeg_log_last(logged, sizeof(logged));
	if (logged[0] && !strstr(logged, text))
		snprintf(out, size, "%s (%s)", text, logged);
	else
		snprintf(out, size, "%s", text);
	return out;
}
