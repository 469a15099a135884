"""vshm.run_filter(): a Python filter is a filter program like the C ones. In vshm-run
chains, checked by their pixels; killed and restarted; following an upstream writer
that restarts; stopping on end of stream and on signals with its output removed; and
its command line, mirrored from vshm_filter_main()."""

import os
import re
import select
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import vshm
from conftest import helper, program, wait_for_stream
from frames import split_planes

INVERT = os.path.join(os.environ.get("VSHM_SAMPLES", ""), "python", "invert.py")


def run_program(argv, **options):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=60, **options)


def pattern_planes(fmt, width, height, n):
    return split_planes(fmt, width, height, helper("pattern", fmt, width, height, n))


def pipeline(processes, name, stages, *options):
    return processes([program("VSHM_RUN"), "--name", name, *options, stages])


def take_checked_frames(stream, count, check, timeout=20):
    """Reads count frames of stream (following restarts), checking each with check."""
    seen = []
    with vshm.Reader(stream, timeout=timeout) as reader:
        for frame in reader:
            check(frame)
            seen.append((frame.frame_number, reader.stats["writer_pid"]))
            if len(seen) == count:
                break
    return seen


def inverted_pattern(frame):
    planes = pattern_planes(frame.format, frame.width, frame.height, frame.frame_number)
    for got, want in zip(frame.planes, planes):
        assert np.array_equal(np.asarray(got), 255 - want), f"frame {frame.frame_number}"
        del got


def test_python_filters_in_a_vshm_run_chain(name, processes):
    run = pipeline(processes, name, f"test --size 320x240 --fps 30 ! {INVERT} ! {INVERT} ! {INVERT}")
    wait_for_stream(f"{name}.3")
    # Three inversions of the pattern: the pattern inverted, frame by frame.
    seen = take_checked_frames(f"{name}.3", 10, inverted_pattern)
    assert len({number for number, _ in seen}) == 10
    assert run.stop(signal.SIGINT) == -signal.SIGINT  # stopped, it ends by the signal
    assert not [s for s in os.listdir("/dev/shm") if s.startswith(f"vshm.{name}")]


def test_the_build_trees_vshm_run_gives_python_stages_its_module(name, processes):
    # Without PYTHONPATH, as a user runs build/tools/vshm-run straight after building:
    # the Python stage must import the module this build made, not fail on "import vshm".
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = processes([program("VSHM_RUN"), "--name", name, f"test --size 160x120 --fps 30 ! {INVERT}"], env=environment)
    wait_for_stream(f"{name}.1")
    take_checked_frames(f"{name}.1", 3, inverted_pattern)
    assert run.stop(signal.SIGINT) == -signal.SIGINT, run.stderr


def test_a_killed_python_stage_is_restarted(name, processes):
    run = pipeline(processes, name, f"test --size 160x120 --format rgb24 --fps 30 ! {INVERT}", "--restart")
    wait_for_stream(f"{name}.1")
    with vshm.Reader(f"{name}.1", timeout=20) as reader:
        first_pid = reader.stats["writer_pid"]
        os.kill(first_pid, signal.SIGKILL)
        # Iteration follows the restarted stage's new segment; its frames are right.
        for frame in reader:
            inverted_pattern(frame)
            if reader.stats["writer_pid"] != first_pid and reader.stats["reattaches"] >= 1:
                break
    assert run.stop(signal.SIGTERM) == -signal.SIGTERM
    assert "restarting stage 1" in run.stderr


def test_a_stage_stopped_by_a_signal_has_failed(name, processes):
    # As for a C filter: vshm-run tells a stage that was stopped from one that passed on
    # the end of its stream by how it ended, and stops the pipeline.
    run = pipeline(processes, name, f"test --size 160x120 --fps 30 ! {INVERT} ! {INVERT}")
    wait_for_stream(f"{name}.2")
    with vshm.Reader(f"{name}.1", timeout=5) as reader:
        stage_pid = reader.stats["writer_pid"]
    os.kill(stage_pid, signal.SIGTERM)
    assert run.wait(timeout=30) == 1
    assert re.search(r"stage 1 \(.*invert.py\).*(signal 15|Terminated)", run.stderr), run.stderr
    assert not [s for s in os.listdir("/dev/shm") if s.startswith(f"vshm.{name}")]


def test_the_end_of_stream_ends_the_pipeline(name, processes):
    run = pipeline(processes, name, f"test --size 160x120 --fps 60 --frames 40 ! {INVERT} ! {INVERT}")
    assert run.wait(timeout=30) == 0, run.stderr
    assert not [s for s in os.listdir("/dev/shm") if s.startswith(f"vshm.{name}")]


def test_alone_it_follows_its_input_and_stops_on_signals(name, capture, processes):
    writer = capture(name, "--format", "gray8", "--size", "64x48", "--fps", "60")
    output = f"{name}.out"
    stage = processes([INVERT, name, output])
    wait_for_stream(output, stage.pid)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    time.sleep(0.3)
    # The new writer's frames are smaller, which tells them from the old one's however
    # long this machine takes to start it.
    writer = capture(name, "--format", "gray8", "--size", "32x24", "--fps", "60")
    # The filter moved to the new writer: its frames, in order (the first one read may
    # still be the last the old writer's frames gave).
    with vshm.Reader(output, timeout=10) as reader:
        frames = [(frame.width, frame.frame_number) for _, frame in zip(range(30), reader)]
    numbers = [number for _, number in frames[-20:]]
    assert all(width == 32 for width, _ in frames[-20:]) and numbers == sorted(numbers), frames
    # Stopped by a signal: it cleans up, then ends by that signal, as the C filters do.
    assert stage.stop(signal.SIGTERM) == -signal.SIGTERM
    assert "lost its writer; waiting for a new one" in stage.stderr
    assert re.search(r"done: '.*' -> '.*': \d+ frames", stage.stderr)
    assert not os.path.exists(f"/dev/shm/vshm.{output}")


@pytest.mark.parametrize("filter_first", [True, False], ids=["filter-waits-for-input", "input-there-first"])
def test_a_lossless_python_filter_passes_every_frame(name, capture, processes, filter_first):
    # The source replays as fast as it can go, but waits for the filter; the filter
    # waits for our reader before its first frame. Every frame arrives, in order,
    # inverted, although the Python filter is far slower than the source. Both ways
    # the filter attaches: waiting for an input not there yet, and to one already there.
    frames = 120
    output = f"{name}.out"
    source = ["--format", "gray8", "--size", "160x120", "--fast", "--frames", str(frames), "--wait-readers", "1"]
    if filter_first:
        stage = processes([INVERT, "--lossless", "--wait-readers", "1", name, output])
        ready, _, _ = select.select([stage.popen.stderr], [], [], 20)
        assert ready, "the filter said nothing in 20 s"
        assert "waiting for input stream" in stage.popen.stderr.readline()
        capture(name, *source, wait=False)
    else:
        capture(name, *source, wait=False)
        deadline = time.monotonic() + 10
        while not os.path.exists(f"/dev/shm/vshm.{name}"):
            assert time.monotonic() < deadline, "the source made no stream"
            time.sleep(0.01)
        stage = processes([INVERT, "--quiet", "--lossless", "--wait-readers", "1", name, output])
    received = []
    with vshm.Reader(output, timeout=20, lossless=True) as reader:
        for frame in reader:
            # A copy, checked later: the test keeps pace however slow the machine is.
            received.append((frame.frame_number, frame.format, [np.array(p) for p in frame.planes]))
        assert reader.stats["lossless"] and not reader.stats["demoted"]
        assert reader.stats["frames_torn"] == 0
    assert [number for number, _, _ in received] == list(range(frames))
    for number, fmt, planes in received:
        for got, want in zip(planes, pattern_planes(fmt, 160, 120, number)):
            assert np.array_equal(got, 255 - want), f"frame {number}"
    assert stage.wait(timeout=20) == 0, stage.stderr


def test_wait_readers_holds_the_first_frame(name, capture, processes):
    output = f"{name}.out"
    stage = processes([INVERT, "--wait-readers", "1", name, output])
    capture(name, "--format", "gray8", "--size", "64x48", "--fps", "60")
    line = stage.popen.stderr.readline()
    while "waiting for 1 reader" not in line:
        assert line, "the filter never said it waits for a reader"
        line = stage.popen.stderr.readline()
    assert f"of '{output}' before the first frame" in line
    with vshm.Reader(output, timeout=5) as reader:
        first = reader.next_frame()
        assert first.frame_number > 0  # the input went on while the filter waited
        first.release()
    assert stage.stop(signal.SIGINT) == -signal.SIGINT


def test_ctrl_c_while_waiting_for_the_input(name, processes):
    stage = processes([INVERT, name, f"{name}.out"])
    time.sleep(0.5)
    assert "waiting for input stream" in stage.popen.stderr.readline()
    assert stage.stop(signal.SIGINT, timeout=3) == -signal.SIGINT


def test_the_input_does_not_appear_in_time(name):
    result = run_program([INVERT, name, "--timeout", "0.3"])
    assert result.returncode == 1
    assert f"cannot read input stream '{name}'" in result.stderr and "0.3 s" in result.stderr


@pytest.mark.parametrize(
    "arguments, message",
    [
        ([], "name the INPUT stream"),
        (["a", "b", "c"], "give INPUT and OUTPUT only"),
        (["bad/name"], "input:"),
        (["in", "x" * 65], "output:"),
        (["same", "same"], "they must differ"),
        (["in", "--slots", "2"], "--slots '2' is not a whole number 3..64"),
        (["in", "--timeout", "-1"], "--timeout '-1'"),
        (["in", "--timeout", "soon"], "is not a number of seconds"),
        (["in", "--format", "nv13"], "is not a pixel format"),
        (["in", "--wait-readers", "x"], "--wait-readers 'x' is not a whole number 0..64"),
        (["in", "--wait-readers", "65"], "--wait-readers '65' is not a whole number 0..64"),
        (["in", "--format", "rgb24"], "this filter writes frames in its input's format"),
        (["in", "--bogus"], "Try 'invert.py --help'"),
    ],
)
def test_bad_usage(arguments, message):
    result = run_program([INVERT, *arguments])
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.startswith("invert.py:")


def test_help_and_version():
    result = run_program([INVERT, "--help"])
    assert result.returncode == 0 and result.stdout.startswith("Usage: invert.py [options] INPUT [OUTPUT]")
    for option in ("--format", "--slots", "--timeout", "--group", "--quiet", "--help", "--version"):
        assert option in result.stdout
    result = run_program([INVERT, "-V"])
    assert result.returncode == 0 and result.stdout == f"invert.py {vshm.__version__}\n"


def filter_program(tmp_path, body):
    path = tmp_path / "filter.py"
    path.write_text("#!/usr/bin/python3\nimport os, sys, numpy, vshm\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return path


def test_an_exception_in_the_function_stops_the_filter(name, capture, tmp_path):
    capture(name, "--format", "gray8", "--size", "64x48")
    path = filter_program(
        tmp_path,
        """
        def broken(frame, output):
            image = frame.array()
            raise ZeroDivisionError("the filter's own bug")
        sys.exit(vshm.run_filter(broken))
        """,
    )
    result = run_program([path, name, f"{name}.out"])
    assert result.returncode == 1
    assert "ZeroDivisionError: the filter's own bug" in result.stderr and "Traceback" in result.stderr
    assert not os.path.exists(f"/dev/shm/vshm.{name}.out")


def test_a_function_that_keeps_a_view(name, capture, tmp_path):
    capture(name, "--format", "gray8", "--size", "64x48")
    path = filter_program(
        tmp_path,
        """
        kept = []
        def hoard(frame, output):
            kept.append(frame.array())
        sys.exit(vshm.run_filter(hoard))
        """,
    )
    result = run_program([path, name, f"{name}.out"])
    assert result.returncode == 1
    assert "kept a view of a frame after it returned" in result.stderr
    # The process ended, so its output is gone with it.
    assert not os.path.exists(f"/dev/shm/vshm.{name}.out")


def test_input_formats_and_output_format(name, capture, tmp_path):
    capture(name, "--format", "rgb24", "--size", "64x48")
    path = filter_program(
        tmp_path,
        """
        def gray(frame, output):
            output.array()[...] = frame.array().mean(axis=2)
        sys.exit(vshm.run_filter(gray, input_formats=os.environ.get("FORMATS", "").split() or None,
                                 output_format=lambda fmt, asked: "gray8" if asked in (None, "gray8") else None))
        """,
    )
    result = run_program([path, name, f"{name}.out"], env=dict(os.environ, FORMATS="nv12"))
    assert result.returncode == 1 and "carries rgb24 frames; this filter takes nv12" in result.stderr
    stage = subprocess.Popen([path, name, f"{name}.out", "--quiet"], stderr=subprocess.PIPE, text=True)
    try:
        wait_for_stream(f"{name}.out", stage.pid)
        with vshm.Reader(f"{name}.out", timeout=5) as reader, reader.next_frame() as frame:
            assert frame.format == "gray8" and frame.array()[5, 2] == 255  # the white bar
    finally:
        stage.send_signal(signal.SIGINT)
        assert stage.wait(timeout=10) == -signal.SIGINT
    assert stage.stderr.read() == ""  # --quiet: nothing at all after a clean stop
    result = run_program([path, name, f"{name}.out", "--format", "bgr24", "--timeout", "5"])
    assert result.returncode == 1 and "cannot make bgr24 frames from rgb24 input" in result.stderr

