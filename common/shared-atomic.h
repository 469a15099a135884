/*
 * Private: the atomic operations of the slot protocol on shared memory (acquire,
 * release, claiming a slot, publishing), named once so that one test build can take
 * them over.
 *
 * In every build but that one they are exactly C11's atomic_*_explicit(), and the
 * comment beside each use says what it pairs with. In the build of
 * tests/test-interleavings.c (VSHM_PROTOCOL_STEPS defined), each becomes a step that the
 * test schedules: writer and reader run in turn, one step at a time, in every order up
 * to a bound, and stores can be held back in a store buffer as the weaker memory
 * orders allow, so that ordering bugs show on any hardware. VSHM_STEP() marks a plain
 * access to shared memory (the metadata copy and store), where another process may run
 * first.
 */
#ifndef VSHM_SHARED_ATOMIC_H
#define VSHM_SHARED_ATOMIC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef VSHM_PROTOCOL_STEPS

/* Implemented by the test (tests/protocol-steps.c). */
uint64_t vshm_step_load(volatile void *object, size_t size, memory_order order);
void vshm_step_store(volatile void *object, size_t size, uint64_t value, memory_order order);
uint64_t vshm_step_fetch_add(volatile void *object, size_t size, uint64_t value,
                             memory_order order);
uint64_t vshm_step_exchange(volatile void *object, size_t size, uint64_t value, memory_order order);
bool vshm_step_compare_exchange(volatile void *object, size_t size, void *expected,
                                uint64_t desired, memory_order order);
void vshm_step_fence(memory_order order);
void vshm_step(void);

/* The size of a writer's and a reader's private state, so that the test can save it
 * after its set-up and restore it before each run instead of building a new stream. */
size_t vshm_step_writer_state_size(void);
size_t vshm_step_reader_state_size(void);

#define VSHM_LOAD(object, order) vshm_step_load((object), sizeof(*(object)), (order))
#define VSHM_STORE(object, value, order)                                                           \
	vshm_step_store((object), sizeof(*(object)), (uint64_t)(value), (order))
#define VSHM_FETCH_ADD(object, value, order)                                                       \
	vshm_step_fetch_add((object), sizeof(*(object)), (uint64_t)(value), (order))
#define VSHM_EXCHANGE(object, value, order)                                                        \
	vshm_step_exchange((object), sizeof(*(object)), (uint64_t)(value), (order))
#define VSHM_COMPARE_EXCHANGE(object, expected, desired, order)                                    \
	vshm_step_compare_exchange((object), sizeof(*(object)), (expected), (uint64_t)(desired),   \
	                           (order))
#define VSHM_FENCE(order) vshm_step_fence(order)
#define VSHM_STEP()       vshm_step()

#else

#define VSHM_LOAD(object, order)             atomic_load_explicit((object), (order))
#define VSHM_STORE(object, value, order)     atomic_store_explicit((object), (value), (order))
#define VSHM_FETCH_ADD(object, value, order) atomic_fetch_add_explicit((object), (value), (order))
#define VSHM_EXCHANGE(object, value, order)  atomic_exchange_explicit((object), (value), (order))
/* A strong compare-and-exchange; on failure the current value is stored in *expected,
 * with the same order (the failure order may not be stronger than it, so release and
 * acq_rel fall back to relaxed and acquire). */
#define VSHM_COMPARE_EXCHANGE(object, expected, desired, order)                                    \
	atomic_compare_exchange_strong_explicit((object), (expected), (desired), (order),          \
	                                        VSHM_FAILURE_ORDER(order))
#define VSHM_FAILURE_ORDER(order)                                                                  \
	((order) == memory_order_release   ? memory_order_relaxed                                  \
	 : (order) == memory_order_acq_rel ? memory_order_acquire                                  \
	                                   : (order))
#define VSHM_FENCE(order) atomic_thread_fence(order)
#define VSHM_STEP()       ((void)0)

#endif

#endif
