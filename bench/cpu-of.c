/*
 * vshm-cpu-of FILE COMMAND [ARGUMENTS ...]: runs the command, waits for it, and writes
 * the CPU time it and its children used (user + system, in seconds) to FILE, so that a
 * benchmark script can put one process's cost next to another's measured the same way.
 * Exits with the command's status.
 */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: vshm-cpu-of FILE COMMAND [ARGUMENTS ...]\n");
		return 2;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("vshm-cpu-of: fork");
		return 1;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		perror("vshm-cpu-of: exec");
		_exit(127);
	}
	int status;
	struct rusage usage;
	if (wait4(pid, &status, 0, &usage) < 0) {
		perror("vshm-cpu-of: wait4");
		return 1;
	}
	FILE *out = fopen(argv[1], "w");
	if (!out) {
		perror(argv[1]);
		return 1;
	}
	fprintf(out, "%.6f\n",
	        (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 +
	            (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6);
	fclose(out);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
