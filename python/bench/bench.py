"""The Python module's costs, next to libvshm's own in C, measured in the same run (run
by scripts/bench.sh through the vshm-python-bench wrapper meson makes):

- acquire+release from Python, next to the same loop in C (target: at most 2 us);
- array() on top of it, at 64x48 and at 1080p: a view of the slot, so the same cost
  whatever the frame's size (target: at most 3 us more);
- the process's resident memory over 1,000,000 acquire/array/release cycles (target:
  no growth);
- a numpy invert filter (samples/python/invert.py) next to the C one
  (vshm-filter-invert) at 1080p, each fed as fast as vshm-capture can (target: at least
  0.8 times the C filter's frame rate). The frames each publishes per second of its own
  CPU time are the figure judged: on a small machine the observed rate is capped by the
  source, which competes for the same cores.

Figures are reported with their targets; nothing here fails on them.
"""

import os
import re
import signal
import statistics
import subprocess
import sys
import time

import vshm

BATCHES = 21
BATCH = 10_000
MEMORY_CYCLES = 1_000_000
FILTER_SECONDS = 4.0


def median_ns(work, batches=BATCHES, batch=BATCH):
    """The median over batches of the time of one call of work (which runs n calls)."""
    work(batch)  # warm up
    timings = []
    for _ in range(batches):
        start = time.perf_counter_ns()
        work(batch)
        timings.append((time.perf_counter_ns() - start) / batch)
    return statistics.median(timings)


def pairs(reader):
    def work(count):
        for _ in range(count):
            frame = reader.acquire()
            frame.release()

    return work


def triples(reader):
    def work(count):
        for _ in range(count):
            frame = reader.acquire()
            frame.array()
            frame.release()

    return work


def resident_bytes():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def verdict(passed):
    return "PASS" if passed else "MISS"


def cpu_seconds(pid):
    """User plus system CPU time a process has used, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def filter_rate(build, name, argv, seconds=FILTER_SECONDS):
    """A filter fed by a full-speed 1080p i420 source: the frames per second it publishes,
    the frames it publishes per second of its own CPU time (its rate with a core to
    itself, whatever else the machine runs), and its own figure of microseconds of work
    (the transform alone) per frame."""
    source, output = f"{name}.in", f"{name}.out"
    capture = subprocess.Popen(
        [f"{build}/capture/vshm-capture", "test", "--size", "1920x1080", "--format", "i420", "--fast", "--quiet",
         "--name", source]
    )
    stage = subprocess.Popen([*argv, source, output], stderr=subprocess.PIPE, text=True)
    try:
        with vshm.Reader(output, timeout=20) as reader:
            reader.next_frame().release()
            time.sleep(1.0)  # past the start: page faults, imports
            first, start, cpu = reader.stats["frames_published"], time.monotonic(), cpu_seconds(stage.pid)
            time.sleep(seconds)
            last, end = reader.stats["frames_published"], time.monotonic()
            cpu = cpu_seconds(stage.pid) - cpu
    finally:
        stage.send_signal(signal.SIGINT)
        _, errors = stage.communicate(timeout=20)
        capture.send_signal(signal.SIGINT)
        capture.wait(timeout=20)
    work = re.findall(r"done: .* ([\d.]+) us per frame", errors)
    per_cpu_second = (last - first) / cpu if cpu > 0 else float("nan")
    return (last - first) / (end - start), per_cpu_second, float(work[-1]) if work else float("nan")


def main():
    build = sys.argv[1]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    name = f"bench-python-{os.getpid()}"
    print("Python module vshm, next to libvshm in C (same run)")

    small = vshm.Writer(f"{name}-small", "gray8", 64, 48)
    large = vshm.Writer(f"{name}-large", "nv12", 1920, 1080)
    try:
        for writer in (small, large):
            with writer.frame():
                pass
        c_ns = float(
            subprocess.run(
                [f"{build}/python/bench/vshm-python-bench-acquire", large.name], capture_output=True, text=True,
                check=True,
            ).stdout
        )
        with vshm.Reader(small.name, timeout=0) as small_reader, vshm.Reader(large.name, timeout=0) as reader:
            python_ns = median_ns(pairs(reader))
            python_small_ns = median_ns(pairs(small_reader))
            array_ns = median_ns(triples(reader)) - python_ns
            array_small_ns = median_ns(triples(small_reader)) - python_small_ns
            print(
                f"  acquire+release               C {c_ns / 1e3:6.2f} us   Python {python_ns / 1e3:6.2f} us "
                f"(64x48: {python_small_ns / 1e3:.2f} us)   target <= 2 us   {verdict(python_ns <= 2000)}"
            )
            print(
                f"  array() on top               Python +{array_ns / 1e3:5.2f} us at 1080p nv12, "
                f"+{array_small_ns / 1e3:.2f} us at 64x48 (a view: no copy)   target <= 3 us   "
                f"{verdict(array_ns <= 3000)}"
            )
            triples(reader)(20_000)
            before = resident_bytes()
            start = time.monotonic()
            triples(reader)(MEMORY_CYCLES)
            grown = resident_bytes() - before
            print(
                f"  memory: {MEMORY_CYCLES:,} acquire/array/release cycles in {time.monotonic() - start:.1f} s: "
                f"resident {before / 2**20:.1f} MiB, grew {grown / 2**10:+.0f} KiB   target: no growth   "
                f"{verdict(grown <= 64 * 1024)}"
            )
    finally:
        small.close()
        large.close()

    c_invert = [f"{build}/samples/filters/vshm-filter-invert"]
    python_invert = [sys.executable, f"{root}/samples/python/invert.py"]
    rates = {"C": [], "numpy": []}
    for run in range(3):  # alternated, so both meet the same moments of a busy machine
        rates["C"].append(filter_rate(build, f"{name}-c{run}", c_invert))
        rates["numpy"].append(filter_rate(build, f"{name}-py{run}", python_invert))
    # Medians of each figure over the runs.
    median = {kind: [statistics.median(run[i] for run in runs) for i in range(3)] for kind, runs in rates.items()}
    print(
        "  invert filter at 1080p i420, fed by vshm-capture --fast (medians of 3 runs; frames per CPU\n"
        "  second is the filter's rate with a core to itself, whatever else the machine runs)"
    )
    for kind, label in (("C", "C vshm-filter-invert"), ("numpy", "numpy samples/python/invert.py")):
        fps, per_cpu, work = median[kind]
        print(f"    {label:32} {fps:6.1f} fps, {per_cpu:6.1f} frames per CPU second, {work:5.0f} us of work per frame")
    observed = median["numpy"][0] / median["C"][0]
    ratio = median["numpy"][1] / median["C"][1]
    print(
        f"    numpy / C: {ratio:.2f} in frames per CPU second ({observed:.2f} as observed)   target >= 0.8   "
        f"{verdict(ratio >= 0.8)}"
    )


if __name__ == "__main__":
    main()
