/*
 * The module vshm._vshm: its types, exceptions, constants and functions. The package
 * vshm (vshm/__init__.py) re-exports them and adds run_filter() (vshm/_filter.py).
 */
#include "vshm-python.h"

#include <string.h>

static PyObject *module_formats(PyObject *module, PyObject *unused)
{
	PyObject *names = PyList_New(0);
	for (unsigned i = 0; names && vshm_format_at(i); i++) {
		PyObject *name = PyUnicode_FromString(vshm_format_name(vshm_format_at(i)));
		if (!name || PyList_Append(names, name) < 0) {
			Py_XDECREF(name);
			Py_CLEAR(names);
			break;
		}
		Py_DECREF(name);
	}
	return names;
}

static PyObject *module_array_formats(PyObject *module, PyObject *unused)
{
	PyObject *names = PyList_New(0);
	for (unsigned i = 0; names && vshm_format_at(i); i++) {
		struct array_shape shape;
		const char *why;
		if (vshm_py_array_shape(vshm_format_at(i), 2, 2, &shape, &why) < 0)
			continue;
		PyObject *name = PyUnicode_FromString(vshm_format_name(vshm_format_at(i)));
		if (!name || PyList_Append(names, name) < 0) {
			Py_XDECREF(name);
			Py_CLEAR(names);
			break;
		}
		Py_DECREF(name);
	}
	return names;
}

static PyObject *module_check_name(PyObject *module, PyObject *argument)
{
	if (!PyUnicode_Check(argument)) {
		PyErr_Format(PyExc_TypeError, "a stream name is a str, not %s",
		             Py_TYPE(argument)->tp_name);
		return NULL;
	}
	Py_ssize_t length;
	const char *name = PyUnicode_AsUTF8AndSize(argument, &length);
	if (!name)
		return NULL;
	if (strlen(name) != (size_t)length) {
		PyErr_SetString(PyExc_ValueError, "stream name contains a NUL character");
		return NULL;
	}
	if (vshm_py_check_name(name) < 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyMethodDef module_functions[] = {
	{ "formats", module_formats, METH_NOARGS,
	  "formats()\n--\n\n"
	  "The names of the pixel formats the ring carries: 'nv12', 'i420', 'yuyv', ..." },
	{ "array_formats", module_array_formats, METH_NOARGS,
	  "array_formats()\n--\n\n"
	  "The formats Frame.array() shows and Writer.publish() takes as uint8 arrays; the\n"
	  "others (p010, i444) are read and written through frame.planes. A filter whose\n"
	  "process() uses array() passes this as run_filter(input_formats=...)." },
	{ "check_name", module_check_name, METH_O,
	  "check_name(name)\n--\n\n"
	  "Raises ValueError, saying which rule it breaks, unless name is a valid stream\n"
	  "name: 1 to 64 characters from A-Z a-z 0-9 . _ -, not starting with '.'." },
	{ 0 },
};

static struct PyModuleDef module_definition = {
	PyModuleDef_HEAD_INIT,
	.m_name = "vshm._vshm",
	.m_doc = "The C part of vshm, over libvshm; use it through the package vshm.",
	.m_size = -1,
	.m_methods = module_functions,
};

static int add_type(PyObject *module, PyTypeObject *type, const char *name)
{
	if (PyType_Ready(type) < 0)
		return -1;
	return name ? PyModule_AddObjectRef(module, name, (PyObject *)type) : 0;
}

PyMODINIT_FUNC PyInit__vshm(void);

PyMODINIT_FUNC PyInit__vshm(void)
{
	PyObject *module = PyModule_Create(&module_definition);
	if (!module)
		return NULL;
	struct {
		const char *name;
		long value;
	} constants[] = {
		{ "FRAME_END_OF_STREAM", VSHM_FRAME_END_OF_STREAM },
		{ "FRAME_DISCONTINUITY", VSHM_FRAME_DISCONTINUITY },
		{ "COLOR_MATRIX_UNSPECIFIED", VSHM_COLOR_MATRIX_UNSPECIFIED },
		{ "COLOR_MATRIX_BT601", VSHM_COLOR_MATRIX_BT601 },
		{ "COLOR_MATRIX_BT709", VSHM_COLOR_MATRIX_BT709 },
		{ "COLOR_MATRIX_BT2020", VSHM_COLOR_MATRIX_BT2020 },
		{ "COLOR_RANGE_UNSPECIFIED", VSHM_COLOR_RANGE_UNSPECIFIED },
		{ "COLOR_RANGE_LIMITED", VSHM_COLOR_RANGE_LIMITED },
		{ "COLOR_RANGE_FULL", VSHM_COLOR_RANGE_FULL },
		{ "COLOR_PRIMARIES_UNSPECIFIED", VSHM_COLOR_PRIMARIES_UNSPECIFIED },
		{ "COLOR_PRIMARIES_BT709", VSHM_COLOR_PRIMARIES_BT709 },
		{ "COLOR_PRIMARIES_BT601_625", VSHM_COLOR_PRIMARIES_BT601_625 },
		{ "COLOR_PRIMARIES_BT601_525", VSHM_COLOR_PRIMARIES_BT601_525 },
		{ "COLOR_PRIMARIES_BT2020", VSHM_COLOR_PRIMARIES_BT2020 },
		{ "COLOR_PRIMARIES_DISPLAY_P3", VSHM_COLOR_PRIMARIES_DISPLAY_P3 },
		{ "COLOR_TRANSFER_UNSPECIFIED", VSHM_COLOR_TRANSFER_UNSPECIFIED },
		{ "COLOR_TRANSFER_BT709", VSHM_COLOR_TRANSFER_BT709 },
		{ "COLOR_TRANSFER_SRGB", VSHM_COLOR_TRANSFER_SRGB },
		{ "COLOR_TRANSFER_PQ", VSHM_COLOR_TRANSFER_PQ },
		{ "COLOR_TRANSFER_HLG", VSHM_COLOR_TRANSFER_HLG },
		{ "COLOR_TRANSFER_LINEAR", VSHM_COLOR_TRANSFER_LINEAR },
		{ "NAME_MAX", VSHM_NAME_MAX },
		{ "SLOTS_MIN", VSHM_SLOT_COUNT_MIN },
		{ "SLOTS_MAX", VSHM_SLOT_COUNT_MAX },
		{ "SLOTS_DEFAULT", VSHM_SLOT_COUNT_DEFAULT },
		{ "READERS_DEFAULT", VSHM_READER_CAPACITY_DEFAULT },
	};
	for (unsigned i = 0; i < sizeof(constants) / sizeof(constants[0]); i++) {
		if (PyModule_AddIntConstant(module, constants[i].name, constants[i].value) < 0)
			goto error;
	}
	if (PyModule_AddStringConstant(module, "__version__", VSHM_VERSION_STRING) < 0 ||
	    vshm_py_errors_add(module) < 0 || add_type(module, &vshm_py_view_type, NULL) < 0 ||
	    add_type(module, &vshm_py_frame_type, "Frame") < 0 ||
	    add_type(module, &vshm_py_output_frame_type, "OutputFrame") < 0 ||
	    add_type(module, &vshm_py_reader_type, "Reader") < 0 ||
	    add_type(module, &vshm_py_writer_type, "Writer") < 0)
		goto error;
	return module;
error:
	Py_DECREF(module);
	return NULL;
}
