/*
 * The module's exceptions, and the one place that turns a libvshm failure (a negative
 * errno and vshm_error()'s sentence) into a Python exception.
 */
#include "vshm-python.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

PyObject *vshm_py_stream_error;
PyObject *vshm_py_writer_gone;
PyObject *vshm_py_timeout;
PyObject *vshm_py_stream_replaced;

static PyObject *new_exception(PyObject *module, const char *name, const char *doc, PyObject *bases)
{
	char qualified[64];
	snprintf(qualified, sizeof(qualified), "vshm.%s", name);
	PyObject *type = PyErr_NewExceptionWithDoc(qualified, doc, bases, NULL);
	if (!type)
		return NULL;
	if (PyModule_AddObjectRef(module, name, type) < 0) {
		Py_DECREF(type);
		return NULL;
	}
	return type;
}

int vshm_py_errors_add(PyObject *module)
{
	vshm_py_stream_error = new_exception(
	    module, "StreamError",
	    "A vshm stream failed: it is missing, damaged, not ours, or its writer went away.\n\n"
	    "An OSError: errno says which (ENOENT, EPROTO, EPERM, ...) and the message is\n"
	    "libvshm's sentence naming the stream and what to do.",
	    PyExc_OSError);
	if (!vshm_py_stream_error)
		return -1;
	vshm_py_writer_gone = new_exception(
	    module, "WriterGone",
	    "The stream's writer exited or died (errno EPIPE). The last frame stays readable;\n"
	    "a new writer of the same name can be followed with Reader.reattach(), which\n"
	    "iteration does by itself unless the reader was made with reattach=False.",
	    vshm_py_stream_error);
	if (!vshm_py_writer_gone)
		return -1;
	PyObject *bases = PyTuple_Pack(2, vshm_py_stream_error, PyExc_TimeoutError);
	if (!bases)
		return -1;
	vshm_py_timeout = new_exception(
	    module, "Timeout",
	    "Nothing came in time: the stream did not appear, or no new frame was published\n"
	    "(errno ETIMEDOUT). Also a TimeoutError.",
	    bases);
	Py_DECREF(bases);
	if (!vshm_py_timeout)
		return -1;
	vshm_py_stream_replaced = new_exception(
	    module, "StreamReplaced",
	    "A new segment has taken the stream's name (errno ESTALE): its writer restarted,\n"
	    "or moved to bigger slots. Call Reader.reattach() to follow it; iteration does\n"
	    "that by itself unless the reader was made with reattach=False.",
	    vshm_py_stream_error);
	if (!vshm_py_stream_replaced)
		return -1;
	return 0;
}

/* A str of a message that may hold bytes that are not UTF-8 (libvshm quotes names as
 * they were given, byte by byte): those show as \x escapes. */
static PyObject *message_text(const char *message)
{
	return PyUnicode_DecodeUTF8(message, (Py_ssize_t)strlen(message), "backslashreplace");
}

static PyObject *raise_message(int error, const char *message)
{
	PyObject *type;
	switch (error) {
	case EINVAL: {
		PyObject *text = message_text(message);
		if (text) {
			PyErr_SetObject(PyExc_ValueError, text);
			Py_DECREF(text);
		}
		return NULL;
	}
	case ENOMEM:
		return PyErr_NoMemory();
	case EPIPE:
		type = vshm_py_writer_gone;
		break;
	case ETIMEDOUT:
		type = vshm_py_timeout;
		break;
	case ESTALE:
		type = vshm_py_stream_replaced;
		break;
	default:
		type = vshm_py_stream_error;
		break;
	}
	PyObject *text = message_text(message);
	PyObject *arguments = text ? Py_BuildValue("(iN)", error, text) : NULL;
	if (arguments) {
		PyErr_SetObject(type, arguments);
		Py_DECREF(arguments);
	}
	return NULL;
}

PyObject *vshm_py_raise(int error, const char *format, ...)
{
	char message[512];
	va_list arguments;
	va_start(arguments, format);
	vsnprintf(message, sizeof(message), format, arguments);
	va_end(arguments);
	return raise_message(error, message);
}

PyObject *vshm_py_raise_library(int error)
{
	const char *sentence = vshm_error();
	return raise_message(error, sentence[0] ? sentence : strerror(error));
}

int vshm_py_check_name(const char *name)
{
	if (vshm_name_check(name) < 0) {
		raise_message(EINVAL, vshm_error());
		return -1;
	}
	return 0;
}

int vshm_py_parse_timeout(PyObject *value, double *seconds)
{
	if (value == Py_None) {
		*seconds = -1;
		return 0;
	}
	if (PyBool_Check(value) || !PyNumber_Check(value) || PyComplex_Check(value)) {
		PyErr_Format(PyExc_TypeError, "timeout must be a number of seconds or None, not %s",
		             Py_TYPE(value)->tp_name);
		return -1;
	}
	double parsed = PyFloat_AsDouble(value);
	if (parsed == -1.0 && PyErr_Occurred())
		return -1;
	if (!(parsed >= 0) || isinf(parsed)) {
		PyErr_Format(PyExc_ValueError,
		             "timeout must be 0 or more seconds (None waits without limit), not %R",
		             value);
		return -1;
	}
	*seconds = parsed;
	return 0;
}

static PyObject *format_names(void)
{
	PyObject *names = PyUnicode_FromString("");
	for (unsigned i = 0; names && vshm_format_at(i); i++) {
		PyObject *joined = PyUnicode_FromFormat("%U%s%s", names, i ? " " : "",
		                                        vshm_format_name(vshm_format_at(i)));
		Py_DECREF(names);
		names = joined;
	}
	return names;
}

int vshm_py_parse_format(PyObject *value, uint32_t *format)
{
	if (!PyUnicode_Check(value)) {
		PyErr_Format(PyExc_TypeError,
		             "format must be a name such as 'nv12' or 'rgb24', not %s",
		             Py_TYPE(value)->tp_name);
		return -1;
	}
	const char *text = PyUnicode_AsUTF8(value);
	if (!text)
		return -1;
	uint32_t parsed = vshm_format_from_name(text);
	if (!parsed) {
		PyObject *names = format_names();
		if (names) {
			PyErr_Format(PyExc_ValueError,
			             "'%s' is not a pixel format the ring carries: %U", text,
			             names);
			Py_DECREF(names);
		}
		return -1;
	}
	*format = parsed;
	return 0;
}
