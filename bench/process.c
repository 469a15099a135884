/*
 * Helper processes for the benchmark: every cross-process figure has its other side in
 * a forked child, as a real reader would be. Children die with the benchmark
 * (PR_SET_PDEATHSIG) and are always reaped; SIGINT and SIGTERM only set a flag that
 * every waiting loop checks, so streams are destroyed and children reaped on the way out.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "shutdown.h"

static cpu_set_t allowed_cpus;
static pid_t benchmark_pid;

int bench_process_init(void)
{
	benchmark_pid = getpid();
	if (sched_getaffinity(0, sizeof(allowed_cpus), &allowed_cpus) < 0) {
		/* Without the set we cannot pin; every CPU counts as one. */
		CPU_ZERO(&allowed_cpus);
	}
	int result = program_shutdown_install();
	if (result < 0) {
		fprintf(stderr, "vshm-bench: cannot install signal handlers: %s\n",
		        strerror(-result));
		return result;
	}
	return 0;
}

bool bench_stopping(void)
{
	return program_shutdown_requested();
}

int bench_cpu_count(void)
{
	int count = CPU_COUNT(&allowed_cpus);
	return count > 0 ? count : 1;
}

bool bench_pin(unsigned index)
{
	if (CPU_COUNT(&allowed_cpus) < 2)
		return false;
	unsigned seen = 0;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &allowed_cpus))
			continue;
		if (seen++ != index)
			continue;
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		return sched_setaffinity(0, sizeof(one), &one) == 0;
	}
	return false;
}

void bench_unpin(void)
{
	if (CPU_COUNT(&allowed_cpus) > 0)
		sched_setaffinity(0, sizeof(allowed_cpus), &allowed_cpus);
}

void *bench_shared_alloc(size_t size)
{
	void *memory = mmap(NULL, size, PROT_READ | PROT_WRITE,
	                    MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (memory == MAP_FAILED) {
		fprintf(stderr, "vshm-bench: cannot map %zu bytes of shared memory: %s\n", size,
		        strerror(errno));
		return NULL;
	}
	/* Writing every page makes sure none is faulted during a measurement. */
	memset(memory, 0, size);
	return memory;
}

void bench_shared_free(void *memory, size_t size)
{
	if (memory)
		munmap(memory, size);
}

pid_t bench_spawn(int (*child_main)(void *argument), void *argument)
{
	/* Whatever stdio holds would otherwise be printed twice. */
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		int error = errno;
		fprintf(stderr, "vshm-bench: cannot fork a helper process: %s\n", strerror(error));
		return -error;
	}
	if (pid > 0)
		return pid;
	/* The parent may have died between fork() and prctl(); then we go at once. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != benchmark_pid)
		_exit(1);
	int status = child_main(argument);
	fflush(stderr);
	_exit(status);
}

int bench_reap(pid_t pid, int timeout_ms)
{
	int status = 0;
	for (int waited = 0;; waited++) {
		pid_t done = waitpid(pid, &status, WNOHANG);
		if (done == pid)
			break;
		if (done < 0 && errno != EINTR)
			return -ECHILD;
		if (waited >= timeout_ms) {
			fprintf(stderr,
			        "vshm-bench: helper process %d did not finish in %d ms; "
			        "killing it\n",
			        (int)pid, timeout_ms);
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
			}
			return -ECHILD;
		}
		struct timespec millisecond = { 0, 1000000 };
		nanosleep(&millisecond, NULL);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		fprintf(stderr, "vshm-bench: helper process %d was killed by signal %d\n", (int)pid,
		        WTERMSIG(status));
	return -ECHILD;
}

void bench_stream_name(char *out, size_t size, const char *what)
{
	snprintf(out, size, "bench-%d-%s", (int)benchmark_pid, what);
}
