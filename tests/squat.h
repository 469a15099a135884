/*
 * Squatting stream names as another local user, for the tests that check that every
 * opener of a stream name fails closed (test-squat.c, test-squat-attached.c).
 *
 * The world is what the squats point at and how the test sees that nothing was
 * followed: a directory only root may enter, holding a secret file and a FIFO (the
 * "trap": whoever opens it for reading without O_NONBLOCK blocks until a writer comes),
 * both watched with inotify; and, when the kernel allows it, a private /dev/shm (a
 * mount namespace of the test's own), so that vshm-ls --clean sees only this test's
 * files. A squat is made by a forked child running as the attacker, uid 65534.
 *
 * For the test process only (these fail the test through cmocka), except
 * squat_become(), which is for forked children. Needs root.
 */
#ifndef VSHM_TEST_SQUAT_H
#define VSHM_TEST_SQUAT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <vshm/vshm.h>

#define SQUAT_ATTACKER 65534
/* The content of the secret file: it must never show in any program's output. */
#define SQUAT_SECRET "root-only secret 5b1e0c: the squatter must never see this line"

enum squat_kind {
	SQUAT_FIFO,
	SQUAT_LINK_TO_SECRET, /* a symbolic link to the secret file */
	SQUAT_LINK_TO_FIFO,   /* a symbolic link to the trap FIFO */
	SQUAT_DIRECTORY,
	SQUAT_SOCKET,
	SQUAT_GARBAGE, /* a regular file, mode 0666, of text that is no vshm header */
};

struct squat_world {
	uid_t attacker;
	char owner_words[32]; /* "uid 65534", as messages name the owner */
	char private_directory[320];
	char secret_path[400];
	char trap_path[400];
	struct stat secret_status;
	int inotify;
	bool private_shm; /* /dev/shm is a tmpfs of this test's own */
	/* Anonymous shared memory for what forked children report back. */
	void *shared;
	size_t shared_size;
};

struct squat {
	enum squat_kind kind;
	char name[VSHM_NAME_MAX + 1];
	char path[300];
	struct stat status; /* as made, seen with lstat() */
};

/* Sets the world up (see above), with shared_size bytes of shared memory. */
void squat_world_setup(struct squat_world *world, size_t shared_size);
void squat_world_teardown(struct squat_world *world);

/* In a forked child: becomes uid (and gid), with no supplementary groups. 0 or -errno. */
int squat_become(uid_t uid);

/* Makes a squat of that kind under a fresh stream name, as the attacker. */
void squat_make(struct squat_world *world, enum squat_kind kind, struct squat *squat);

/* Makes one of that kind under the given name (which must be free). */
void squat_make_named(struct squat_world *world, enum squat_kind kind, const char *name,
                      struct squat *squat);

/* Removes the squat (as root may, in the sticky /dev/shm). */
void squat_remove(const struct squat *squat);

/* "a FIFO", "a symbolic link to a secret file", ...: for messages. */
const char *squat_kind_label(enum squat_kind kind);

/* True if text says what the squat is ("a FIFO", "a symbolic link", "not a vshm
 * stream" ...), and if it names the attacker as the owner. */
bool squat_says_what(const struct squat *squat, const char *text);
bool squat_says_whose(const struct squat_world *world, const char *text);

/*
 * True if nothing was followed or disturbed since the squat was made: it is still there,
 * the same file, unchanged; no watched file (the squat unless it is the regular file,
 * the secret, the trap) was opened; and no one holds a FIFO open for reading. Otherwise
 * false, with the reason in why. Reading the inotify events consumes them.
 */
bool squat_untouched(struct squat_world *world, const struct squat *squat, char *why, size_t size);

/* Leaves a stale vshm stream of the caller's under name: a writer that exited without
 * removing it. */
void squat_make_stale(const char *name);

#endif
