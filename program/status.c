/* The status line (see status.h). */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include <vshm/util.h>

#include "options.h"
#include "status.h"

void program_status_init(struct program_status *status, bool quiet, uint64_t interval_ns)
{
	uint64_t now = vshm_now_ns();
	*status = (struct program_status){
		.quiet = quiet,
		.terminal = isatty(STDERR_FILENO),
		.interval_ns = interval_ns,
		.next_ns = now + interval_ns,
		.since_ns = now,
	};
}

bool program_status_due(struct program_status *status, uint64_t *elapsed_ns)
{
	uint64_t now = vshm_now_ns();
	if (now < status->next_ns)
		return false;
	if (elapsed_ns)
		*elapsed_ns = now - status->since_ns;
	status->since_ns = now;
	status->next_ns = now + status->interval_ns;
	return true;
}

void program_status_print(struct program_status *status, bool final, const char *format, ...)
{
	if (status->quiet)
		return;
	/* On a terminal: back to the start of the line and clear it, then the new text. */
	fprintf(stderr, "%s%s: ", status->terminal ? "\r\033[K" : "", program_name());
	va_list arguments;
	va_start(arguments, format);
	vfprintf(stderr, format, arguments);
	va_end(arguments);
	status->line_open = status->terminal && !final;
	if (!status->line_open)
		fputc('\n', stderr);
	fflush(stderr);
}

void program_status_break(struct program_status *status)
{
	if (status->line_open)
		fputs("\r\033[K", stderr);
	status->line_open = false;
}
