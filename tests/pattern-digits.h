/*
 * Reading back the frame number the test pattern draws at the bottom left of every
 * frame (docs/test-pattern.md), from the luma of a frame that went through a lossy
 * codec, a network and a decoder: a frame identifies itself wherever it ends up. Used
 * by the tests of vshm-record and by the benchmark's glass-to-glass probe. Pure, no
 * test framework.
 */
#ifndef VSHM_TEST_PATTERN_DIGITS_H
#define VSHM_TEST_PATTERN_DIGITS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Reads the number from luma (rows stride bytes apart, full or limited range) of a
 * width x height pattern frame: each dot of the 3 x 5 font is sampled at its centre.
 * Returns false if no number can be read there.
 */
bool pattern_digits_read(const uint8_t *luma, uint32_t stride, uint32_t width, uint32_t height,
                         uint64_t *number);

#endif
