/* Busy-waiting and order statistics for the benchmark. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

void bench_spin_for_ns(uint64_t duration_ns)
{
	uint64_t end = vshm_now_ns() + duration_ns;
	while (vshm_now_ns() < end)
		bench_cpu_relax();
}

bool bench_spin_until(const _Atomic uint64_t *word, uint64_t value, uint64_t timeout_ns)
{
	uint64_t deadline = vshm_now_ns() + timeout_ns;
	for (;;) {
		/* Pairs with the release store of the helper process that sets the word:
		 * what it recorded before is visible once we see the value. */
		if (atomic_load_explicit(word, memory_order_acquire) >= value)
			return true;
		if (vshm_now_ns() > deadline || bench_stopping())
			return false;
		bench_cpu_relax();
	}
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double bench_median(double *values, size_t count)
{
	if (count == 0)
		return 0;
	qsort(values, count, sizeof(values[0]), compare_doubles);
	if (count % 2)
		return values[count / 2];
	return (values[count / 2 - 1] + values[count / 2]) / 2;
}

double bench_percentile(double *values, size_t count, double fraction)
{
	if (count == 0)
		return 0;
	qsort(values, count, sizeof(values[0]), compare_doubles);
	/* Nearest rank: the smallest value with at least fraction of all at or below it. */
	double exact = fraction * (double)count;
	size_t rank = (size_t)exact;
	if ((double)rank < exact)
		rank++;
	if (rank < 1)
		rank = 1;
	if (rank > count)
		rank = count;
	return values[rank - 1];
}

int bench_samples_add(struct bench_samples *samples, const double *values, size_t count)
{
	if (samples->count + count > samples->capacity) {
		size_t capacity = samples->capacity ? samples->capacity : 4096;
		while (capacity < samples->count + count)
			capacity *= 2;
		double *grown = realloc(samples->values, capacity * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		samples->values = grown;
		samples->capacity = capacity;
	}
	memcpy(samples->values + samples->count, values, count * sizeof(*values));
	samples->count += count;
	return 0;
}

void bench_samples_free(struct bench_samples *samples)
{
	free(samples->values);
	*samples = (struct bench_samples){ 0 };
}

int bench_summarise(const double *values, size_t count, struct bench_latency *latency,
                    struct bench_samples *samples)
{
	double *sorted = malloc((count ? count : 1) * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	memcpy(sorted, values, count * sizeof(*values));
	latency->median_ns = bench_median(sorted, count);
	latency->p99_ns = bench_percentile(sorted, count, 0.99);
	free(sorted);
	return samples ? bench_samples_add(samples, values, count) : 0;
}
