/* libvshm: zero-copy video frame sharing between processes through POSIX shared memory. */
#ifndef VSHM_VSHM_H
#define VSHM_VSHM_H

#include <vshm/filter.h>
#include <vshm/format.h>
#include <vshm/frame.h>
#include <vshm/reader.h>
#include <vshm/stream.h>
#include <vshm/util.h>
#include <vshm/version.h>
#include <vshm/writer.h>

#endif
