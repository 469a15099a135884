/*
 * The SIGBUS guard (sigbus-guard.h). The handler may run in any thread at any moment,
 * so the table it reads is a fixed array of atomic words, filled and emptied under a
 * mutex by the registering threads; the handler only reads it and sets flags. Inside
 * the handler, mmap() is a plain system call on Linux (as Wayland's own guard relies
 * on), and nothing else but atomics is used.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sigbus-guard.h"

/* Mappings guarded at once: two per attached reader. */
#define GUARDED_MAX 256

struct guarded {
	_Atomic uintptr_t start; /* 0: the entry is free */
	_Atomic size_t length;
	_Atomic bool writable;
	_Atomic bool broken;
};

static struct guarded guarded[GUARDED_MAX];
static pthread_mutex_t registration = PTHREAD_MUTEX_INITIALIZER;
static bool installed;
static struct sigaction previous;

/* The handler a SIGBUS outside our mappings belongs to, as it was before us. */
static void pass_on(int signal_number, siginfo_t *info, void *context)
{
	if (previous.sa_flags & SA_SIGINFO) {
		previous.sa_sigaction(signal_number, info, context);
		return;
	}
	if (previous.sa_handler == SIG_IGN)
		return;
	if (previous.sa_handler != SIG_DFL) {
		previous.sa_handler(signal_number);
		return;
	}
	/* The default action: with it restored, the faulting access faults again on return
	 * and ends the process, with the same signal and core dump as without us. */
	signal(SIGBUS, SIG_DFL);
}

static void on_sigbus(int signal_number, siginfo_t *info, void *context)
{
	uintptr_t address = (uintptr_t)info->si_addr;
	long page = sysconf(_SC_PAGESIZE);
	for (int i = 0; i < GUARDED_MAX; i++) {
		uintptr_t start = atomic_load(&guarded[i].start);
		size_t length = atomic_load(&guarded[i].length);
		if (!start || address < start || address - start >= length)
			continue;
		/* Zero pages from the faulting one to the end of the mapping: the access that
		 * faulted goes on and reads zeros, as does every later one. Private pages: a
		 * write to a writable mapping lands in them, seen by nobody, instead of
		 * faulting again with SIGSEGV. */
		uintptr_t from = address & ~((uintptr_t)page - 1);
		int protection =
		    atomic_load(&guarded[i].writable) ? PROT_READ | PROT_WRITE : PROT_READ;
		void *zeros = mmap((void *)from, start + length - from, protection,
		                   MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (zeros == MAP_FAILED)
			break; /* cannot save it: let the signal do what it would have done */
		atomic_store(&guarded[i].broken, true);
		return;
	}
	pass_on(signal_number, info, context);
}

static int install(void)
{
	struct sigaction action;
	memset(&action, 0, sizeof(action));
	action.sa_sigaction = on_sigbus;
	action.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&action.sa_mask);
	if (sigaction(SIGBUS, &action, &previous) < 0)
		return -errno;
	installed = true;
	return 0;
}

int vshm_sigbus_guard_add(void *start, size_t length, bool writable)
{
	pthread_mutex_lock(&registration);
	int result = installed ? 0 : install();
	if (result == 0) {
		result = -ENOSPC;
		for (int i = 0; i < GUARDED_MAX; i++) {
			if (atomic_load(&guarded[i].start))
				continue;
			atomic_store(&guarded[i].broken, false);
			atomic_store(&guarded[i].length, length);
			atomic_store(&guarded[i].writable, writable);
			/* Last: the handler looks at an entry only once its start is set. */
			atomic_store(&guarded[i].start, (uintptr_t)start);
			result = i;
			break;
		}
	}
	pthread_mutex_unlock(&registration);
	return result;
}

void vshm_sigbus_guard_remove(int handle)
{
	if (handle < 0 || handle >= GUARDED_MAX)
		return;
	pthread_mutex_lock(&registration);
	atomic_store(&guarded[handle].start, 0);
	atomic_store(&guarded[handle].length, 0);
	pthread_mutex_unlock(&registration);
}

bool vshm_sigbus_guard_broken(int handle)
{
	return handle >= 0 && handle < GUARDED_MAX && atomic_load(&guarded[handle].broken);
}
