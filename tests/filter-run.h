/*
 * The processes of the filter tests: a sample filter by name (vshm-filter-NAME of this
 * build) and the test pattern it reads, each started with program_start().
 */
#ifndef VSHM_TEST_FILTER_RUN_H
#define VSHM_TEST_FILTER_RUN_H

#include <sys/types.h>

/* The path of vshm-filter-name; the last four returned stay valid. */
char *filter_path(const char *name);

/* vshm-capture test --size size --format format --fps 60, quiet, into stream name. */
pid_t start_test_pattern_sized(const char *name, const char *format, const char *size);

/* The same at 160x120. */
pid_t start_test_pattern(const char *name, const char *format);

/* vshm-filter-filter input output --quiet. */
pid_t start_filter(const char *filter, const char *input, const char *output);

#endif
