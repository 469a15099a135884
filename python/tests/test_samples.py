"""The Python samples do what they say: the OpenCV edge filter draws the bars' edges,
the stats reader prints its lines, the generator publishes its pictures. (The numpy
filter, invert.py, is checked in test_filter.py.)"""

import os
import re
import signal
import subprocess

import numpy as np
import pytest

import vshm
from conftest import wait_for_stream
from test_reader import BARS

SAMPLES = os.path.join(os.environ.get("VSHM_SAMPLES", ""), "python")


@pytest.mark.parametrize("fmt", ["i420", "nv12", "rgb24"])
def test_edges_draws_the_bar_edges(name, capture, processes, fmt):
    pytest.importorskip("cv2")
    width, height = 320, 240
    capture(name, "--format", fmt, "--size", f"{width}x{height}")
    stage = processes([os.path.join(SAMPLES, "edges.py"), name, f"{name}.edges"])
    wait_for_stream(f"{name}.edges", stage.pid)
    with vshm.Reader(f"{name}.edges", timeout=5) as reader, reader.next_frame() as frame:
        assert (frame.format, frame.width, frame.height) == ("bgr24", width, height)
        picture = frame.array().copy()
    red = (picture[..., 0] == 0) & (picture[..., 1] == 0) & (picture[..., 2] == 255)
    bars = slice(0, height * 2 // 3 - 4)  # the colour bars, above the moving square
    boundaries = [k * width // 7 for k in range(1, 7)]
    # Red lines, not counting the red bar itself (bar 5), which is as red as the lines.
    columns = {c for c in np.where(red[bars].sum(axis=0) > (height // 2))[0]
               if not boundaries[4] + 2 <= c <= boundaries[5] - 2}
    assert columns and all(any(abs(c - b) <= 1 for b in boundaries) for c in columns)
    assert all(any(abs(c - b) <= 1 for c in columns) for b in boundaries)
    for k, (r, g, b) in enumerate(BARS):
        middle = picture[height // 3, (2 * k + 1) * width // 14].astype(int)
        assert np.abs(middle - (b, g, r)).max() <= 4, f"bar {k}: {middle}"
    assert stage.stop(signal.SIGINT) == -signal.SIGINT


def test_stats_prints_a_line_per_second(name, capture):
    capture(name, "--format", "nv12", "--size", "320x240", "--fps", "30")
    result = subprocess.run(
        [os.path.join(SAMPLES, "stats.py"), name, "--seconds", "3.5"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) >= 3
    for line in lines:
        match = re.match(rf"{name}: nv12 320x240, ([\d.]+) fps published, ([\d.]+) read, age \d+ us", line)
        assert match, line
        # About 30 (a loaded machine may stretch a second's window).
        assert 15 < float(match.group(1)) < 45 and 15 < float(match.group(2)) < 45


def test_stats_refuses_a_bad_name():
    result = subprocess.run([os.path.join(SAMPLES, "stats.py"), "no/slash"], capture_output=True, text=True)
    assert result.returncode == 2 and "stats.py: error:" in result.stderr


def test_generate_publishes_its_pictures(name, processes):
    width, height = 160, 120
    writer = processes(
        [os.path.join(SAMPLES, "generate.py"), "--name", name, "--size", f"{width}x{height}", "--fps", "30",
         "--frames", "40"]
    )
    y, x = np.mgrid[0:height, 0:width]
    seen = []
    with vshm.Reader(name, timeout=10) as reader:
        for frame in reader:
            n = frame.frame_number
            picture = frame.array()
            assert np.array_equal(picture[..., 0], (x + 4 * n) % 256)
            assert np.array_equal(picture[..., 1], (y + 2 * n) % 256)
            assert (picture[..., 2] == 128).all()
            del picture
            seen.append((n, frame.end_of_stream))
    assert len(seen) >= 20 and seen[-1] == (39, True)
    assert writer.wait(timeout=10) == 0
    assert not os.path.exists(f"/dev/shm/vshm.{name}")
