/* Starting the sample filters and a test pattern for them (filter-run.h). */
#include <stdio.h>

#include "filter-run.h"
#include "program-util.h"

char *filter_path(const char *name)
{
	static char paths[4][512];
	static int next;
	char *path = paths[next++ % 4];
	snprintf(path, 512, "%s/vshm-filter-%s", program_path("VSHM_FILTERS"), name);
	return path;
}

pid_t start_test_pattern_sized(const char *name, const char *format, const char *size)
{
	char *argv[] = { (char *)program_path("VSHM_CAPTURE"),
		         "test",
		         "--size",
		         (char *)size,
		         "--format",
		         (char *)format,
		         "--fps",
		         "60",
		         "--name",
		         (char *)name,
		         "--quiet",
		         NULL };
	return program_start(argv, NULL, NULL);
}

pid_t start_test_pattern(const char *name, const char *format)
{
	return start_test_pattern_sized(name, format, "160x120");
}

pid_t start_filter(const char *filter, const char *input, const char *output)
{
	char *argv[] = { filter_path(filter), (char *)input, (char *)output, "--quiet", NULL };
	return program_start(argv, NULL, NULL);
}
