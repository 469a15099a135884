/* Squatting stream names as another user (squat.h). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "program-util.h"
#include "squat.h"
#include "test-util.h"

#define GARBAGE "GARBAGE from the squatter: no vshm header here, only text.\n"
/* What inotify reports when a watched file is used (not merely looked at). */
#define USE_EVENTS (IN_OPEN | IN_ACCESS | IN_MODIFY)

/*
 * A mount namespace of our own with a fresh tmpfs on /dev/shm, sticky and open to all as
 * the real one is. Everything this process starts from now on sees it; it vanishes with
 * the last of them. Returns false where the kernel does not allow it (no
 * CAP_SYS_ADMIN), and the test then uses the machine's /dev/shm.
 */
static bool private_shm(void)
{
	if (unshare(CLONE_NEWNS) < 0)
		return false;
	/* Private propagation first: the new mount must not leak to the machine. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", VSHM_SHM_DIR, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0) {
		fprintf(stderr, "squat: no private %s (%s); using the machine's\n", VSHM_SHM_DIR,
		        strerror(errno));
		return false;
	}
	return true;
}

void squat_world_setup(struct squat_world *world, size_t shared_size)
{
	memset(world, 0, sizeof(*world));
	world->attacker = SQUAT_ATTACKER;
	snprintf(world->owner_words, sizeof(world->owner_words), "uid %u",
	         (unsigned)world->attacker);
	world->private_shm = private_shm();
	print_message("squatter: uid %u; %s\n", (unsigned)world->attacker,
	              world->private_shm ? "a private /dev/shm" : "the machine's /dev/shm");

	/* What the links point at: root's, in a directory the squatter cannot enter. */
	snprintf(world->private_directory, sizeof(world->private_directory), "%s/private",
	         program_temporary_directory());
	assert_int_equal(mkdir(world->private_directory, 0700), 0);
	snprintf(world->secret_path, sizeof(world->secret_path), "%s/secret",
	         world->private_directory);
	snprintf(world->trap_path, sizeof(world->trap_path), "%s/trap", world->private_directory);
	int fd = open(world->secret_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, SQUAT_SECRET "\n", strlen(SQUAT_SECRET) + 1),
	                 (ssize_t)strlen(SQUAT_SECRET) + 1);
	close(fd);
	assert_int_equal(stat(world->secret_path, &world->secret_status), 0);
	assert_int_equal(mkfifo(world->trap_path, 0600), 0);

	world->inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	assert_true(world->inotify >= 0);
	assert_true(inotify_add_watch(world->inotify, world->secret_path, USE_EVENTS) >= 0);
	assert_true(inotify_add_watch(world->inotify, world->trap_path, USE_EVENTS) >= 0);

	world->shared_size = shared_size;
	world->shared =
	    mmap(NULL, shared_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(world->shared != MAP_FAILED);
}

void squat_world_teardown(struct squat_world *world)
{
	if (world->inotify >= 0)
		close(world->inotify);
	if (world->shared)
		munmap(world->shared, world->shared_size);
	unlink(world->secret_path);
	unlink(world->trap_path);
	rmdir(world->private_directory);
}

int squat_become(uid_t uid)
{
	if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
		return -errno;
	return 0;
}

struct making {
	const struct squat_world *world;
	const struct squat *squat;
};

/* In the forked child, as the attacker: puts the file there. Returns 0 or errno. */
static int make_as_attacker(void *argument)
{
	const struct making *making = argument;
	const struct squat *squat = making->squat;
	if (squat_become(making->world->attacker) < 0)
		return 126;
	umask(0);
	switch (squat->kind) {
	case SQUAT_FIFO:
		return mkfifo(squat->path, 0666) < 0 ? errno : 0;
	case SQUAT_LINK_TO_SECRET:
		return symlink(making->world->secret_path, squat->path) < 0 ? errno : 0;
	case SQUAT_LINK_TO_FIFO:
		return symlink(making->world->trap_path, squat->path) < 0 ? errno : 0;
	case SQUAT_DIRECTORY:
		return mkdir(squat->path, 0777) < 0 ? errno : 0;
	case SQUAT_SOCKET: {
		/* A socket file stays behind its closed socket, as a crashed server's does. */
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_un address = { .sun_family = AF_UNIX };
		if (strlen(squat->path) >= sizeof(address.sun_path))
			return ENAMETOOLONG;
		memcpy(address.sun_path, squat->path, strlen(squat->path) + 1);
		int result = bind(fd, (struct sockaddr *)&address, sizeof(address));
		close(fd);
		return result < 0 ? errno : 0;
	}
	case SQUAT_GARBAGE: {
		int fd = open(squat->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd < 0)
			return errno;
		for (int i = 0; i < 4; i++) {
			if (write(fd, GARBAGE, strlen(GARBAGE)) != (ssize_t)strlen(GARBAGE))
				return EIO;
		}
		close(fd);
		return 0;
	}
	}
	return EINVAL;
}

void squat_make_named(struct squat_world *world, enum squat_kind kind, const char *name,
                      struct squat *squat)
{
	memset(squat, 0, sizeof(*squat));
	squat->kind = kind;
	snprintf(squat->name, sizeof(squat->name), "%s", name);
	test_segment_path(name, squat->path, sizeof(squat->path));
	struct making making = { .world = world, .squat = squat };
	int status = test_wait(test_fork_tied(make_as_attacker, &making), 10000);
	if (status != 0)
		fail_msg("could not make %s as uid %u: %s", squat_kind_label(kind),
		         (unsigned)world->attacker,
		         status == 126 ? "cannot become it" : strerror(status));
	assert_int_equal(lstat(squat->path, &squat->status), 0);
	assert_int_equal(squat->status.st_uid, world->attacker);
	/* The regular file may be opened (and then refused); nothing else may be. */
	if (kind != SQUAT_GARBAGE)
		assert_true(inotify_add_watch(world->inotify, squat->path,
		                              USE_EVENTS | IN_DONT_FOLLOW) >= 0);
}

void squat_make(struct squat_world *world, enum squat_kind kind, struct squat *squat)
{
	static const char *const tags[] = {
		[SQUAT_FIFO] = "squat-fifo",         [SQUAT_LINK_TO_SECRET] = "squat-link",
		[SQUAT_LINK_TO_FIFO] = "squat-trap", [SQUAT_DIRECTORY] = "squat-dir",
		[SQUAT_SOCKET] = "squat-socket",     [SQUAT_GARBAGE] = "squat-garbage",
	};
	char name[VSHM_NAME_MAX + 1];
	test_unique_name(name, sizeof(name), tags[kind]);
	squat_make_named(world, kind, name, squat);
}

void squat_remove(const struct squat *squat)
{
	if (squat->kind == SQUAT_DIRECTORY)
		rmdir(squat->path);
	else
		unlink(squat->path);
}

const char *squat_kind_label(enum squat_kind kind)
{
	static const char *const labels[] = {
		[SQUAT_FIFO] = "a FIFO",
		[SQUAT_LINK_TO_SECRET] = "a symbolic link to a secret file",
		[SQUAT_LINK_TO_FIFO] = "a symbolic link to a FIFO",
		[SQUAT_DIRECTORY] = "a directory",
		[SQUAT_SOCKET] = "a socket",
		[SQUAT_GARBAGE] = "a world-writable file of garbage",
	};
	return labels[kind];
}

bool squat_says_what(const struct squat *squat, const char *text)
{
	switch (squat->kind) {
	case SQUAT_FIFO:
		return strstr(text, "a FIFO");
	case SQUAT_LINK_TO_SECRET:
	case SQUAT_LINK_TO_FIFO:
		return strstr(text, "a symbolic link");
	case SQUAT_DIRECTORY:
		return strstr(text, "a directory");
	case SQUAT_SOCKET:
		return strstr(text, "a socket");
	case SQUAT_GARBAGE:
		/* Refused for what it holds, or for whose it is before anything is read. */
		return strstr(text, "not a vshm stream") || strstr(text, "someone else controls");
	}
	return false;
}

bool squat_says_whose(const struct squat_world *world, const char *text)
{
	const char *found = strstr(text, world->owner_words);
	/* "uid 65534", not the start of "uid 655340". */
	return found &&
	       (found[strlen(world->owner_words)] < '0' || found[strlen(world->owner_words)] > '9');
}

/* True if someone holds the FIFO at path open for reading: a writer may open it then. */
static bool fifo_has_reader(const char *path)
{
	int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return false; /* ENXIO: nobody reads it */
	close(fd);
	return true;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
	       (a->st_mode & S_IFMT) == (b->st_mode & S_IFMT) && a->st_uid == b->st_uid &&
	       a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

bool squat_untouched(struct squat_world *world, const struct squat *squat, char *why, size_t size)
{
	char events[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	uint32_t used = 0;
	ssize_t length;
	while ((length = read(world->inotify, events, sizeof(events))) > 0) {
		for (char *at = events; at < events + length;) {
			const struct inotify_event *event = (const struct inotify_event *)at;
			used |= event->mask & USE_EVENTS;
			at += sizeof(*event) + event->len;
		}
	}
	if (used) {
		snprintf(why, size, "a watched file (the squat, or a link's target) was %s",
		         used & IN_OPEN ? "opened" : "read or written");
		return false;
	}
	if (fifo_has_reader(world->trap_path) ||
	    (squat->kind == SQUAT_FIFO && fifo_has_reader(squat->path))) {
		snprintf(why, size, "a FIFO is held open for reading: someone opened it");
		return false;
	}
	struct stat now;
	if (lstat(squat->path, &now) < 0 || !same_file(&now, &squat->status)) {
		snprintf(why, size, "%s was removed, replaced or changed", squat->path);
		return false;
	}
	if (stat(world->secret_path, &now) < 0 || !same_file(&now, &world->secret_status)) {
		snprintf(why, size, "the secret file was removed or changed");
		return false;
	}
	return true;
}

static int exit_without_cleanup(void *argument)
{
	const char *name = argument;
	struct vshm_writer_options options = { .max_format = VSHM_FORMAT_GRAY8,
		                               .max_width = 64,
		                               .max_height = 48 };
	struct vshm_writer *writer = vshm_writer_create(name, &options);
	struct vshm_frame frame;
	if (!writer || vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, 64, 48, &frame) < 0 ||
	    vshm_writer_publish(writer, &frame) < 0)
		return 1;
	return 0; /* _exit() in the child: the segment stays, and its lock goes */
}

void squat_make_stale(const char *name)
{
	assert_int_equal(test_wait(test_fork_tied(exit_without_cleanup, (void *)name), 10000), 0);
	assert_true(test_segment_exists(name));
}
