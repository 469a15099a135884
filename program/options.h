/*
 * Program scaffolding, not part of libvshm: what every vshm program (vshm-capture,
 * vshm-view, vshm-ls, vshm-run, the filters through vshm_filter_main()) does the same
 * way with its command line. One set of limits, one wording of each error, and the
 * list of pixel formats taken from the format table, never written out by hand.
 *
 * Every parse function takes the option's name (for the message) and its text; on
 * failure it prints one line on stderr, "<program>: <option> '<text>' is not ...", and
 * returns -1, leaving the output untouched. Not thread-safe (the program's name is
 * global); programs parse their options once, at the start.
 */
#ifndef VSHM_PROGRAM_OPTIONS_H
#define VSHM_PROGRAM_OPTIONS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <vshm/vshm.h>

/* The largest frame rate any option takes: above it, pacing is meaningless. */
#define PROGRAM_RATE_MAX 1000.0

/*
 * The options every program takes, for getopt_long() tables and usage texts: --help
 * and --version (INFO), and with --quiet (COMMON) for programs that print a status.
 */
#define PROGRAM_INFO_SHORT_OPTIONS   "hV"
#define PROGRAM_COMMON_SHORT_OPTIONS "q" PROGRAM_INFO_SHORT_OPTIONS
/* clang-format off */
#define PROGRAM_INFO_LONG_OPTIONS \
	{ "help", no_argument, NULL, 'h' }, { "version", no_argument, NULL, 'V' }
#define PROGRAM_COMMON_LONG_OPTIONS \
	{ "quiet", no_argument, NULL, 'q' }, PROGRAM_INFO_LONG_OPTIONS
#define PROGRAM_INFO_HELP \
	"  -h, --help          this text\n" \
	"  -V, --version       the version\n"
#define PROGRAM_COMMON_HELP \
	"  -q, --quiet         no status line, only errors\n" PROGRAM_INFO_HELP
/* clang-format on */

/* The name messages start with; programs set it first thing (filters from argv[0]). */
void program_set_name(const char *name);
const char *program_name(void);

/* Prints one line on stderr, "<program>: <message>": errors, and notes such as "waiting". */
void program_say(const char *format, ...) __attribute__((format(printf, 1, 2)));

/*
 * Handles an option every program shares: 'q' sets *quiet (which may be NULL for a
 * program without --quiet); 'h' prints usage(stdout);
 * 'V' prints "<program> <version>". Returns 1 when the program should now exit with
 * status 0 (help or version printed), 0 when the option was handled, and -1 for any
 * other option, after telling the user to try --help (getopt_long() has already said
 * what was wrong).
 */
int program_common_option(int option, bool *quiet, void (*usage)(FILE *out));

/* WIDTHxHEIGHT, each 1..VSHM_FORMAT_DIMENSION_MAX. */
int program_parse_size(const char *option, const char *text, uint32_t *width, uint32_t *height);

/* A whole number in minimum..maximum, decimal, no sign. */
int program_parse_count(const char *option, const char *text, uint64_t minimum, uint64_t maximum,
                        uint64_t *value);

/* A slot count, VSHM_SLOT_COUNT_MIN..VSHM_SLOT_COUNT_MAX. */
int program_parse_slots(const char *option, const char *text, uint32_t *slots);

/* A number of seconds at least minimum (0 or more), fractions allowed. */
int program_parse_seconds(const char *option, const char *text, double minimum, double *seconds);

/*
 * A timeout in seconds, as --timeout takes it, converted to milliseconds for the
 * library's waits; at most a day, so it fits an int.
 */
int program_parse_timeout(const char *option, const char *text, int *timeout_ms);

/* A frame rate above 0, at most PROGRAM_RATE_MAX. */
int program_parse_rate(const char *option, const char *text, double *rate);

/* A pixel format name the ring carries (case-insensitive); the error lists them all. */
int program_parse_format(const char *option, const char *text, uint32_t *format);

/* Every format the ring carries, "nv12 i420 ...", from the format table. */
const char *program_format_names(void);

/*
 * The names of the formats in list (ending with VSHM_FORMAT_INVALID; NULL for every
 * format), separated by spaces, into out.
 */
void program_format_list(const uint32_t *list, char *out, size_t size);

#endif
