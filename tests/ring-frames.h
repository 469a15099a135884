/*
 * The ring tests' frames: every byte of frame n is a function of n, the plane and the
 * position, so a reader can tell which frame it holds and whether it is whole.
 */
#ifndef VSHM_TEST_RING_FRAMES_H
#define VSHM_TEST_RING_FRAMES_H

#include <stdint.h>

#include <vshm/vshm.h>

/* Writes frame n's pattern into every byte of every plane (strides included). */
void ring_fill_frame(struct vshm_frame *frame, uint64_t n);

/* Fails the test at the first byte that is not frame n's. */
void ring_check_frame(const struct vshm_frame *frame, uint64_t n);

/* Begins, fills with frame n's pattern, numbers and publishes a frame; fails the test if
 * begin or publish fails. */
void ring_publish(struct vshm_writer *writer, uint32_t format, uint32_t width, uint32_t height,
                  uint64_t n, struct vshm_frame *frame);

/* A lossy reader of name; fails the test if it cannot attach. */
struct vshm_reader *ring_attach(const char *name);

#endif
