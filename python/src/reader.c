/*
 * vshm.Reader: attaches to a stream by name and hands out its frames (frame.c).
 *
 * Waiting. Every wait (for the stream to appear, for a new frame, for a new writer's
 * segment) releases the GIL and sleeps in libvshm in slices of at most WAIT_SLICE_MS,
 * running Python's signal handlers between slices, so Ctrl-C raises KeyboardInterrupt
 * at once (a signal also interrupts the futex) and other threads run meanwhile. While
 * a thread waits, the reader is busy: other calls on it raise RuntimeError, because a
 * libvshm reader is used by one thread at a time.
 */
#include "vshm-python.h"

#include <errno.h>
#include <time.h>

#define WAIT_SLICE_MS 100
/* How often a missing stream, or a new writer's segment not ready yet, is looked for. */
#define RETRY_MS 50

static void sleep_ms(int milliseconds)
{
	struct timespec pause = { milliseconds / 1000, (long)(milliseconds % 1000) * 1000000 };
	nanosleep(&pause, NULL);
}

/* Gives back a slot whose frame object was freed while this reader was busy. */
static void settle_orphan(struct reader_object *self)
{
	if (self->orphan_hold && !self->busy && self->reader) {
		vshm_reader_release(self->reader);
		self->orphan_hold = false;
	}
}

/* Runs statement with the GIL released, the reader marked busy meanwhile. */
#define WITHOUT_GIL(self, statement)                                                               \
	do {                                                                                       \
		(self)->busy = true;                                                               \
		PyThreadState *saved_thread = PyEval_SaveThread();                                 \
		statement;                                                                         \
		PyEval_RestoreThread(saved_thread);                                                \
		(self)->busy = false;                                                              \
		settle_orphan(self);                                                               \
	} while (0)

static int check_usable(struct reader_object *self)
{
	if (!self->reader) {
		PyErr_Format(PyExc_ValueError, "the reader of stream '%s' is closed", self->name);
		return -1;
	}
	if (self->busy) {
		PyErr_Format(PyExc_RuntimeError,
		             "the reader of stream '%s' is waiting in another thread; a reader is "
		             "used by one thread at a time",
		             self->name);
		return -1;
	}
	return 0;
}

/* Refuses to take a frame while one is held: a reader holds one slot at a time. */
static int check_free(struct reader_object *self)
{
	if (!self->held)
		return 0;
	PyErr_Format(PyExc_RuntimeError,
	             "the reader of stream '%s' still holds frame %llu: release it first "
	             "(frame.release(), or take frames in a with block or a for loop)",
	             self->name, (unsigned long long)self->held->frame.frame_number);
	return -1;
}

int vshm_py_reader_give_back(struct reader_object *self, struct frame_object *frame)
{
	if (self->busy) {
		PyErr_Format(PyExc_RuntimeError,
		             "the reader of stream '%s' is waiting in another thread; release the "
		             "frame from that thread",
		             self->name);
		return -1;
	}
	int intact = vshm_reader_release(self->reader);
	frame->state = FRAME_RELEASED;
	self->held = NULL;
	return intact == 1;
}

void vshm_py_reader_drop(struct reader_object *self, struct frame_object *frame)
{
	frame->state = FRAME_CANCELLED;
	self->held = NULL;
	if (self->busy)
		self->orphan_hold = true;
	else
		vshm_reader_release(self->reader);
}

/* Gives back the held frame at a step that requires it (the next frame, reattach,
 * close), or raises BufferError while views of it are alive. */
static int give_back_held(struct reader_object *self, const char *action, const char *advice)
{
	if (!self->held)
		return 0;
	if (vshm_py_frame_check_unused(self->held, action, advice) < 0)
		return -1;
	return vshm_py_reader_give_back(self, self->held) < 0 ? -1 : 0;
}

static uint64_t elapsed_ms(uint64_t since_ns)
{
	return (vshm_now_ns() - since_ns) / 1000000;
}

/* Milliseconds left of timeout (seconds, negative: none) after elapsed, at most limit. */
static int slice_left(double timeout, uint64_t elapsed, int limit)
{
	if (timeout < 0)
		return limit;
	double left = timeout * 1000 - (double)elapsed;
	return left <= 0 ? 0 : left < limit ? (int)left : limit;
}

static struct vshm_reader *attach(struct reader_object *self,
                                  const struct vshm_reader_options *options, double timeout)
{
	uint64_t start = vshm_now_ns();
	for (;;) {
		struct vshm_reader *reader = vshm_reader_attach(self->name, options);
		if (reader)
			return reader;
		int error = errno;
		if (error != ENOENT && error != EAGAIN && error != ENODATA) {
			vshm_py_raise_library(error);
			return NULL;
		}
		int pause = slice_left(timeout, elapsed_ms(start), RETRY_MS);
		if (pause == 0) {
			if (timeout == 0)
				vshm_py_raise_library(error);
			else /* with why it is not there yet, unless it simply is not */
				vshm_py_raise(ETIMEDOUT,
				              "stream '%s' did not appear within %g s%s%s",
				              self->name, timeout, error == ENOENT ? "" : ": ",
				              error == ENOENT ? "" : vshm_error());
			return NULL;
		}
		PyThreadState *saved_thread = PyEval_SaveThread();
		sleep_ms(pause);
		PyEval_RestoreThread(saved_thread);
		if (PyErr_CheckSignals() < 0)
			return NULL;
	}
}

/* Moves to the segment a new writer made under the name, if it is ready. */
static int follow_new_segment(struct reader_object *self)
{
	if (give_back_held(self, "released", "delete them before waiting for a new writer") < 0)
		return -1;
	int result = vshm_reader_reattach(self->reader);
	if (result == 0)
		return 0;
	if (result != -EAGAIN && result != -ENOENT && result != -ENODATA) {
		vshm_py_raise_library(-result);
		return -1;
	}
	WITHOUT_GIL(self, sleep_ms(RETRY_MS));
	return 0;
}

/*
 * Waits until a frame newer than the last one taken is published. follow: a gone
 * writer is waited for and a new one followed, instead of raising WriterGone or
 * StreamReplaced. Returns 0 or -1 with an exception set.
 */
static int wait_newer(struct reader_object *self, double timeout, bool follow)
{
	uint64_t start = vshm_now_ns();
	for (;;) {
		int slice = slice_left(timeout, elapsed_ms(start), WAIT_SLICE_MS);
		int result;
		WITHOUT_GIL(self, result = vshm_reader_wait(self->reader, slice));
		if (result == 0)
			return 0;
		if (PyErr_CheckSignals() < 0)
			return -1;
		if (result == -EPIPE && !follow) {
			vshm_py_raise(
			    EPIPE,
			    "the writer of stream '%s' is gone (it exited or died); its last "
			    "frame stays readable",
			    self->name);
			return -1;
		}
		if (result == -ESTALE) {
			if (!follow) {
				vshm_py_raise(
				    ESTALE,
				    "stream '%s' has a new segment (its writer restarted, or "
				    "needed bigger slots): call reattach() to follow it",
				    self->name);
				return -1;
			}
			if (follow_new_segment(self) < 0)
				return -1;
		} else if (result != -ETIMEDOUT && result != -EINTR && result != -EPIPE) {
			vshm_py_raise(-result, "waiting for a frame of stream '%s' failed",
			              self->name);
			return -1;
		}
		if (timeout >= 0 && slice_left(timeout, elapsed_ms(start), WAIT_SLICE_MS) == 0) {
			vshm_py_raise(ETIMEDOUT, "no new frame on stream '%s' within %g s",
			              self->name, timeout);
			return -1;
		}
	}
}

/* Takes the latest frame. Returns a new Frame, Py_None (nothing to take), or NULL. */
static PyObject *take(struct reader_object *self)
{
	struct vshm_frame frame;
	int result = vshm_reader_acquire(self->reader, &frame);
	/* Nothing published yet, a slot rewritten faster than it could be taken, or
	 * metadata that failed the bounds checks (libvshm dropped and counted it). */
	if (result == -EAGAIN || result == -EBADMSG)
		Py_RETURN_NONE;
	if (result < 0)
		return vshm_py_raise(-result, "taking a frame of stream '%s' failed", self->name);
	struct frame_object *object = vshm_py_frame_new((PyObject *)self, &frame, false);
	if (!object) {
		vshm_reader_release(self->reader);
		return NULL;
	}
	self->held = object;
	return (PyObject *)object;
}

static PyObject *next_frame(struct reader_object *self, double timeout)
{
	uint64_t start = vshm_now_ns();
	for (;;) {
		double left = -1;
		if (timeout >= 0) {
			left = timeout - (double)elapsed_ms(start) / 1000;
			left = left > 0 ? left : 0;
		}
		if (wait_newer(self, left, self->follow) < 0)
			return NULL;
		PyObject *frame = take(self);
		if (frame != Py_None)
			return frame;
		Py_DECREF(frame);
	}
}

/* An optional timeout argument: absent (or ..., as the signatures show it) means the
 * reader's own. */
static int timeout_argument(struct reader_object *self, PyObject *value, double *seconds)
{
	if (!value || value == Py_Ellipsis) {
		*seconds = self->timeout;
		return 0;
	}
	return vshm_py_parse_timeout(value, seconds);
}

static PyObject *reader_new(PyTypeObject *type, PyObject *arguments, PyObject *keywords)
{
	static char *names[] = { "name",
		                 "timeout",
		                 "reattach",
		                 "allow_foreign_owner",
		                 "allow_world_writable",
		                 "guard_truncation",
		                 "lossless",
		                 NULL };
	const char *name;
	PyObject *timeout_value = Py_None;
	int follow = 1, foreign = 0, world_writable = 0, guard = 0, lossless = 0;
	if (!PyArg_ParseTupleAndKeywords(arguments, keywords, "s|O$ppppp:Reader", names, &name,
	                                 &timeout_value, &follow, &foreign, &world_writable, &guard,
	                                 &lossless))
		return NULL;
	double timeout;
	if (vshm_py_check_name(name) < 0 || vshm_py_parse_timeout(timeout_value, &timeout) < 0)
		return NULL;
	struct reader_object *self = (struct reader_object *)type->tp_alloc(type, 0);
	if (!self)
		return NULL;
	snprintf(self->name, sizeof(self->name), "%s", name);
	self->timeout = timeout;
	self->follow = follow;
	struct vshm_reader_options options = {
		.allow_foreign_owner = foreign,
		.allow_world_writable = world_writable,
		.guard_truncation = guard,
		.lossless = lossless,
	};
	self->reader = attach(self, &options, timeout);
	if (!self->reader) {
		Py_DECREF(self);
		return NULL;
	}
	return (PyObject *)self;
}

static void reader_dealloc(PyObject *object)
{
	struct reader_object *self = (struct reader_object *)object;
	/* A held frame keeps its reader alive, so nothing is held here. */
	vshm_reader_detach(self->reader);
	Py_TYPE(object)->tp_free(object);
}

static PyObject *reader_repr(PyObject *object)
{
	struct reader_object *self = (struct reader_object *)object;
	return PyUnicode_FromFormat("<vshm.Reader of '%s'%s>", self->name,
	                            self->reader ? "" : ", closed");
}

static PyObject *reader_close(PyObject *object, PyObject *unused)
{
	struct reader_object *self = (struct reader_object *)object;
	if (!self->reader)
		Py_RETURN_NONE;
	if (check_usable(self) < 0 ||
	    give_back_held(self, "released by close()", "delete them before closing") < 0)
		return NULL;
	vshm_reader_detach(self->reader);
	self->reader = NULL;
	Py_RETURN_NONE;
}

static PyObject *reader_enter(PyObject *object, PyObject *unused)
{
	struct reader_object *self = (struct reader_object *)object;
	if (check_usable(self) < 0)
		return NULL;
	return Py_NewRef(object);
}

static PyObject *reader_exit(PyObject *object, PyObject *arguments)
{
	struct reader_object *self = (struct reader_object *)object;
	/* On an exception, views in its traceback may still be alive: the reader then
	 * closes when it is freed, rather than hide the exception behind a BufferError. */
	bool failed = PyTuple_GET_SIZE(arguments) > 0 && PyTuple_GET_ITEM(arguments, 0) != Py_None;
	if (failed && self->held && self->held->exports > 0)
		Py_RETURN_FALSE;
	PyObject *result = reader_close(object, NULL);
	if (!result)
		return NULL;
	Py_DECREF(result);
	Py_RETURN_FALSE;
}

static PyObject *reader_acquire(PyObject *object, PyObject *unused)
{
	struct reader_object *self = (struct reader_object *)object;
	if (check_usable(self) < 0 || check_free(self) < 0)
		return NULL;
	return take(self);
}

static PyObject *reader_poll(PyObject *object, PyObject *unused)
{
	struct reader_object *self = (struct reader_object *)object;
	if (check_usable(self) < 0)
		return NULL;
	return PyBool_FromLong(vshm_reader_poll(self->reader));
}

static PyObject *reader_wait(PyObject *object, PyObject *arguments, PyObject *keywords)
{
	struct reader_object *self = (struct reader_object *)object;
	static char *names[] = { "timeout", NULL };
	PyObject *timeout_value = NULL;
	double timeout;
	if (!PyArg_ParseTupleAndKeywords(arguments, keywords, "|O:wait", names, &timeout_value) ||
	    check_usable(self) < 0 || timeout_argument(self, timeout_value, &timeout) < 0 ||
	    wait_newer(self, timeout, false) < 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *reader_next_frame(PyObject *object, PyObject *arguments, PyObject *keywords)
{
	struct reader_object *self = (struct reader_object *)object;
	static char *names[] = { "timeout", NULL };
	PyObject *timeout_value = NULL;
	double timeout;
	if (!PyArg_ParseTupleAndKeywords(arguments, keywords, "|O:next_frame", names,
	                                 &timeout_value) ||
	    check_usable(self) < 0 || check_free(self) < 0 ||
	    timeout_argument(self, timeout_value, &timeout) < 0)
		return NULL;
	return next_frame(self, timeout);
}

static PyObject *reader_iternext(PyObject *object)
{
	struct reader_object *self = (struct reader_object *)object;
	if (check_usable(self) < 0 ||
	    give_back_held(self, "released at the next step of the loop",
	                   "delete them (del array) or keep copies (array.copy()) before the "
	                   "loop takes the next frame") < 0)
		return NULL;
	if (self->ended) {
		self->ended = false;
		return NULL; /* StopIteration: the source said it has no more frames */
	}
	PyObject *frame = next_frame(self, self->timeout);
	if (frame && ((struct frame_object *)frame)->frame.flags & VSHM_FRAME_END_OF_STREAM)
		self->ended = true;
	return frame;
}

static PyObject *reader_reattach(PyObject *object, PyObject *unused)
{
	struct reader_object *self = (struct reader_object *)object;
	if (check_usable(self) < 0 ||
	    give_back_held(self, "released by reattach()", "delete them before reattaching") < 0)
		return NULL;
	int result = vshm_reader_reattach(self->reader);
	if (result < 0)
		return vshm_py_raise_library(-result);
	self->ended = false;
	Py_RETURN_NONE;
}

static PyObject *reader_name(PyObject *object, void *closure)
{
	return PyUnicode_FromString(((struct reader_object *)object)->name);
}

static PyObject *reader_closed(PyObject *object, void *closure)
{
	return PyBool_FromLong(((struct reader_object *)object)->reader == NULL);
}

static PyObject *reader_get_timeout(PyObject *object, void *closure)
{
	double timeout = ((struct reader_object *)object)->timeout;
	if (timeout < 0)
		Py_RETURN_NONE;
	return PyFloat_FromDouble(timeout);
}

static int reader_set_timeout(PyObject *object, PyObject *value, void *closure)
{
	if (!value) {
		PyErr_SetString(PyExc_AttributeError, "timeout cannot be deleted (None: no limit)");
		return -1;
	}
	return vshm_py_parse_timeout(value, &((struct reader_object *)object)->timeout);
}

static PyObject *reader_writer_state(PyObject *object, void *closure)
{
	struct reader_object *self = (struct reader_object *)object;
	if (check_usable(self) < 0)
		return NULL;
	switch (vshm_reader_writer_state(self->reader)) {
	case VSHM_WRITER_ALIVE:
		return PyUnicode_FromString("alive");
	case VSHM_WRITER_GONE:
		return PyUnicode_FromString("gone");
	case VSHM_WRITER_REPLACED:
		return PyUnicode_FromString("replaced");
	}
	Py_RETURN_NONE;
}

static PyObject *reader_stats(PyObject *object, void *closure)
{
	struct reader_object *self = (struct reader_object *)object;
	if (check_usable(self) < 0)
		return NULL;
	struct vshm_reader_stats s;
	vshm_reader_get_stats(self->reader, &s);
	return Py_BuildValue(
	    "{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:I,s:I,s:I,s:K,s:O,s:O}", "frames_acquired",
	    (unsigned long long)s.frames_acquired, "frames_torn", (unsigned long long)s.frames_torn,
	    "acquire_retries", (unsigned long long)s.acquire_retries, "frames_invalid",
	    (unsigned long long)s.frames_invalid, "reattaches", (unsigned long long)s.reattaches,
	    "frames_published", (unsigned long long)s.frames_published, "overwrites",
	    (unsigned long long)s.overwrites, "frames_dropped",
	    (unsigned long long)s.frames_dropped, "readers_attached",
	    (unsigned int)s.readers_attached, "slot_count", (unsigned int)s.slot_count,
	    "writer_pid", (unsigned int)s.writer_pid, "frame_interval_ns",
	    (unsigned long long)s.frame_interval_ns, "lossless", s.lossless ? Py_True : Py_False,
	    "demoted", s.demoted ? Py_True : Py_False);
}

static PyMethodDef reader_methods[] = {
	{ "acquire", reader_acquire, METH_NOARGS,
	  "acquire()\n--\n\n"
	  "Takes the stream's latest frame now, without waiting: a Frame, or None if nothing\n"
	  "was published yet. It may be the frame taken last time (compare frame.sequence).\n"
	  "Raises RuntimeError while this reader still holds a frame." },
	{ "poll", reader_poll, METH_NOARGS,
	  "poll()\n--\n\n"
	  "True if a frame newer than the last one taken is published, else False; never\n"
	  "waits. For a loop that spins instead of sleeping in wait(): poll, then\n"
	  "acquire() once it says True (acquire() writes to the stream's shared state on\n"
	  "every call, and a loop of them slows the writer). It says nothing of the writer\n"
	  "(False also once the stream was truncated): a loop that has seen no frame for a\n"
	  "while calls wait(), which tells it the writer is gone or the stream replaced." },
	{ "wait", (PyCFunction)(void (*)(void))reader_wait, METH_VARARGS | METH_KEYWORDS,
	  "wait(timeout=...)\n--\n\n"
	  "Sleeps until a frame newer than the last one taken is published, at most\n"
	  "timeout seconds (default: the reader's timeout; None: no limit), without\n"
	  "taking it (acquire() does). Raises Timeout, WriterGone when the writer exited or\n"
	  "died, StreamReplaced when a new writer has the name (call reattach()). Waits\n"
	  "with the GIL released; Ctrl-C raises KeyboardInterrupt." },
	{ "next_frame", (PyCFunction)(void (*)(void))reader_next_frame,
	  METH_VARARGS | METH_KEYWORDS,
	  "next_frame(timeout=...)\n--\n\n"
	  "Waits for a frame newer than the last one taken (at most timeout seconds,\n"
	  "by default the reader's) and takes it: what iteration\n"
	  "does, without releasing a frame first (release it yourself, or use `with`).\n"
	  "Follows a new writer of the name unless the reader has reattach=False (then\n"
	  "raises WriterGone or StreamReplaced). Raises Timeout, and RuntimeError while a\n"
	  "frame is held." },
	{ "reattach", reader_reattach, METH_NOARGS,
	  "reattach()\n--\n\n"
	  "Moves to the segment now under the stream's name (after StreamReplaced or\n"
	  "WriterGone), releasing a held frame first. Raises StreamError (errno EAGAIN)\n"
	  "while no new segment is there, BufferError while views of a held frame live." },
	{ "close", reader_close, METH_NOARGS,
	  "close()\n--\n\n"
	  "Releases a held frame and detaches from the stream; later calls raise\n"
	  "ValueError. Raises BufferError while views of a held frame are alive." },
	{ "__enter__", reader_enter, METH_NOARGS, NULL },
	{ "__exit__", reader_exit, METH_VARARGS, "Closes the reader." },
	{ 0 },
};

static PyGetSetDef reader_getset[] = {
	{ "name", reader_name, NULL, "The stream's name.", NULL },
	{ "closed", reader_closed, NULL, "True once close() was called.", NULL },
	{ "timeout", reader_get_timeout, reader_set_timeout,
	  "Seconds that waits (iteration, next_frame(), wait()) last at most; None: no limit.",
	  NULL },
	{ "writer_state", reader_writer_state, NULL,
	  "'alive', 'gone' (exited or died) or 'replaced' (a new segment has the name),\n"
	  "asked of the kernel now.",
	  NULL },
	{ "stats", reader_stats, NULL,
	  "A dict of counts: this reader's (frames_acquired, frames_torn, acquire_retries,\n"
	  "frames_invalid, reattaches) and the stream's (frames_published, overwrites,\n"
	  "frames_dropped, readers_attached, slot_count, writer_pid, frame_interval_ns),\n"
	  "and whether it is lossless, or was until the writer demoted it (lossless,\n"
	  "demoted).",
	  NULL },
	{ 0 },
};

PyTypeObject vshm_py_reader_type = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vshm.Reader",
	.tp_basicsize = sizeof(struct reader_object),
	.tp_dealloc = reader_dealloc,
	.tp_repr = reader_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_iter = PyObject_SelfIter,
	.tp_iternext = reader_iternext,
	.tp_methods = reader_methods,
	.tp_getset = reader_getset,
	.tp_new = reader_new,
	.tp_doc = "Reader(name, timeout=None, *, reattach=True, allow_foreign_owner=False, "
	          "allow_world_writable=False, guard_truncation=False, lossless=False)\n--\n\n"
	          "Reads the vshm stream `name`: the newest frame each time, its pixels where the\n"
	          "writer left them (no copy).\n\n"
	          "    with vshm.Reader('cam', timeout=5) as reader:\n"
	          "        for frame in reader:          # waits for each new frame\n"
	          "            img = frame.array()       # a numpy view of the slot\n"
	          "            level = img.mean()\n"
	          "            del img                   # views go before the frame does\n"
	          "            if not frame.release():   # False: overwritten meanwhile,\n"
	          "                continue              # so level may be wrong\n\n"
	          "Waits up to `timeout` seconds (None: without limit) for the stream to appear,\n"
	          "and as long for each new frame, then raises vshm.Timeout. Iteration releases\n"
	          "the previous frame at each step, follows a writer that restarts (a new\n"
	          "segment under the name) unless reattach=False, and stops after a frame that\n"
	          "says end of stream. Segments owned by another user or writable by others are\n"
	          "refused unless allowed. guard_truncation: survive a segment cut short under\n"
	          "the reader (a writer's bug): its pixels then read as zeros and the frame as\n"
	          "torn, instead of SIGBUS ending the process; it installs a process-wide SIGBUS\n"
	          "handler that passes other faults on. run_filter() turns it on.\n\n"
	          "lossless: take every frame published after the reader attached, in order,\n"
	          "instead of the newest: the writer waits for this reader before it reuses a\n"
	          "slot, for at most its lossless timeout (1 s by default); a reader slower than\n"
	          "that is demoted to taking the newest frame (stats['demoted']).\n\n"
	          "Views: an array() or plane of a frame must be gone before that frame is\n"
	          "released (by release(), a `with` block or the next loop step), or the release\n"
	          "raises BufferError and the frame stays held: a released slot is rewritten by\n"
	          "the writer, so no view may see it. See Frame.release().\n\n"
	          "Errors: ValueError for a bad name, vshm.Timeout, vshm.WriterGone,\n"
	          "vshm.StreamReplaced, and vshm.StreamError (an OSError with errno and libvshm's\n"
	          "sentence) for a stream that is damaged, foreign or full.",
};
