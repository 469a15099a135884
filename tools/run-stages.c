/*
 * vshm-run's stages as processes: started each in its own process group (so a
 * terminal's Ctrl-C reaches vshm-run alone, which stops them in order), watched, restarted
 * with --restart, stopped last first, and their leftovers removed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "options.h"
#include "run.h"
#include "shutdown.h"

#define STOP_GRACE_MS 3000

static pid_t start_stage(struct stage *stage)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		program_say("cannot start stage %s: %s", stage->label, strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* Its own process group, so a terminal's Ctrl-C reaches only vshm-run, which
		 * stops the stages in order; and a SIGTERM if vshm-run itself dies. */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127); /* vshm-run died before the death signal was set up */
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		execv(stage->program, stage->arguments);
		program_say("cannot run %s: %s", stage->program, strerror(errno));
		_exit(127);
	}
	stage->pid = pid;
	return pid;
}

static void describe_exit(int status, char *out, size_t size)
{
	if (WIFEXITED(status))
		snprintf(out, size, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, size, "was killed by signal %d (%s)", WTERMSIG(status),
		         strsignal(WTERMSIG(status)));
	else
		snprintf(out, size, "stopped (status 0x%x)", status);
}

static struct stage *stage_of(struct pipeline *pipeline, pid_t pid)
{
	for (int i = 0; i < pipeline->count; i++) {
		if (pipeline->stages[i].pid == pid)
			return &pipeline->stages[i];
	}
	return NULL;
}

static bool any_running(const struct pipeline *pipeline)
{
	for (int i = 0; i < pipeline->count; i++) {
		if (pipeline->stages[i].pid > 0)
			return true;
	}
	return false;
}

/* SIGTERM to every stage, last first; SIGKILL to those still there after the grace. */
static void stop_all(struct pipeline *pipeline)
{
	for (int i = pipeline->count - 1; i >= 0; i--) {
		if (pipeline->stages[i].pid > 0)
			kill(pipeline->stages[i].pid, SIGTERM);
	}
	uint64_t deadline = vshm_now_ns() + (uint64_t)STOP_GRACE_MS * 1000000u;
	while (any_running(pipeline)) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid > 0) {
			struct stage *stage = stage_of(pipeline, pid);
			if (stage)
				stage->pid = 0;
			continue;
		}
		if (pid < 0 && errno == ECHILD)
			break;
		if (vshm_now_ns() > deadline) {
			for (int i = 0; i < pipeline->count; i++) {
				struct stage *stage = &pipeline->stages[i];
				if (stage->pid > 0) {
					program_say("stage %s did not stop; killing it",
					            stage->label);
					kill(stage->pid, SIGKILL);
				}
			}
			deadline = UINT64_MAX;
		}
		struct timespec pause = { 0, 10000000 };
		nanosleep(&pause, NULL);
	}
}

/* Removes what stages that were killed left behind; live streams are never touched. */
static void remove_leftovers(struct pipeline *pipeline)
{
	for (int i = 0; i < pipeline->count; i++) {
		const char *name = pipeline->stages[i].output;
		if (name[0] && vshm_stream_remove_stale(name) == 0 && pipeline->verbose)
			program_say("removed stream '%s' left by stage %s", name,
			            pipeline->stages[i].label);
	}
}

static void stop_finished_filters(struct pipeline *pipeline)
{
	uint64_t now = vshm_now_ns();
	for (int i = 0; i < pipeline->count; i++) {
		struct stage *stage = &pipeline->stages[i];
		if (stage->pid > 0 && stage->stop_at_ns && now > stage->stop_at_ns) {
			kill(stage->pid, SIGTERM); /* its own downstream follows as it ends */
			stage->stop_at_ns = 0;
			stage->stopped_by_us = true;
		}
	}
}

/* True, and the restart counted, if the stage has restarted fewer than RESTARTS_MAX
 * times within the last window. */
static bool may_restart(struct stage *stage, uint64_t window_ns)
{
	uint64_t now = vshm_now_ns();
	/* The slot the next restart takes holds the RESTARTS_MAX-th most recent one. */
	uint64_t *oldest = &stage->restart_times[stage->restarts % RESTARTS_MAX];
	if (stage->restarts >= RESTARTS_MAX && now - *oldest < window_ns)
		return false;
	*oldest = now;
	stage->restarts++;
	return true;
}

int run_pipeline(struct pipeline *pipeline)
{
	for (int i = 0; i < pipeline->count; i++) {
		if (start_stage(&pipeline->stages[i]) < 0) {
			stop_all(pipeline);
			remove_leftovers(pipeline);
			return 1;
		}
	}
	program_say("%d stage%s running, streams %s.0 .. %s.%d; Ctrl-C stops", pipeline->count,
	            pipeline->count == 1 ? "" : "s", pipeline->prefix, pipeline->prefix,
	            pipeline->count - 1);
	int exit_code = 0;
	bool done = false;
	while (!done && !program_shutdown_requested()) {
		int status;
		/* Polled, not blocking: a signal that lands between the check above and a
		 * blocking wait would otherwise go unnoticed until some stage exits. */
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid == 0) {
			stop_finished_filters(pipeline);
			struct timespec pause = { 0, 50000000 };
			nanosleep(&pause, NULL);
			continue;
		}
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break; /* no children left */
		}
		struct stage *stage = stage_of(pipeline, pid);
		if (!stage)
			continue;
		stage->pid = 0;
		char how[96];
		describe_exit(status, how, sizeof(how));
		bool last = stage == &pipeline->stages[pipeline->count - 1];
		/* Status 0 is the one way a stage says it is done: a source or filter that
		 * passed the end of its stream on, a viewer its user closed. A stage stopped
		 * by a signal ends by that signal, and any other end is a failure. */
		bool clean =
		    (WIFEXITED(status) && WEXITSTATUS(status) == 0) || stage->stopped_by_us;
		if (clean) {
			/* A source at its end, a filter passing the end on, a closed viewer: the
			 * pipeline is done when its last stage is. */
			if (!last && pipeline->verbose)
				program_say("stage %s finished", stage->label);
			/* A filter that had not attached yet never sees the end: give it a
			 * moment, then stop it. A viewer keeps showing the last frame. */
			struct stage *next = last ? NULL : stage + 1;
			if (next && next->pid > 0 && !next->viewer)
				next->stop_at_ns =
				    vshm_now_ns() + UPSTREAM_GONE_GRACE_MS * 1000000ull;
			done = last;
			continue;
		}
		program_say("stage %s (pid %d) %s", stage->label, (int)pid, how);
		if (pipeline->restart && may_restart(stage, pipeline->restart_window_ns)) {
			struct timespec pause = { 0, 300000000 };
			nanosleep(&pause, NULL);
			program_say("restarting stage %s (restart %d; at most %d in %.0f s)",
			            stage->label, stage->restarts, RESTARTS_MAX,
			            (double)pipeline->restart_window_ns / 1e9);
			if (start_stage(stage) > 0)
				continue;
		} else if (pipeline->restart) {
			program_say("stage %s failed %d times within %.0f s; stopping the pipeline",
			            stage->label, RESTARTS_MAX + 1,
			            (double)pipeline->restart_window_ns / 1e9);
		} else {
			program_say("stopping the pipeline: stage %s failed (use --restart to "
			            "restart failed stages)",
			            stage->label);
		}
		exit_code = 1;
		break;
	}
	if (program_shutdown_requested())
		program_say("%s: stopping the pipeline", strsignal(program_shutdown_signal()));
	stop_all(pipeline);
	remove_leftovers(pipeline);
	return exit_code;
}
