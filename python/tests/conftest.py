"""Fixtures for the tests of the Python module: the real programs (paths from meson's
test environment), unique stream names, writers started as processes, a private Xvfb,
and a check after every test that it left no segment behind."""

import itertools
import os
import signal
import subprocess
import sys
import time

import pytest

import vshm

_counter = itertools.count()


def program(variable):
    """The path meson put in the environment variable, or skip the test without it."""
    path = os.environ.get(variable)
    if not path:
        pytest.skip(f"{variable} is not set (run the tests through meson test)")
    return path


def segments(prefix):
    return sorted(name for name in os.listdir("/dev/shm") if name.startswith("vshm." + prefix))


@pytest.fixture
def name(request):
    """A stream name no other test (or test run) uses; its segment must be gone at the end."""
    prefix = f"pytest-{os.getpid()}-{next(_counter)}"
    yield prefix
    # Give killed writers' leftovers a moment to be cleaned by whoever owns them.
    for _ in range(50):
        if not segments(prefix):
            break
        time.sleep(0.1)
    left = segments(prefix)
    for segment in left:
        os.unlink(os.path.join("/dev/shm", segment))
    assert not left, f"the test left segments behind: {left}"


def wait_for_stream(stream, pid=None, timeout=10.0):
    """Waits until stream's writer (the process pid, if given: not a dead one's stale
    segment) has published a frame."""
    deadline = time.monotonic() + timeout
    while True:
        with vshm.Reader(stream, timeout=max(deadline - time.monotonic(), 0)) as reader:
            if pid is None or reader.stats["writer_pid"] == pid:
                reader.next_frame(timeout=max(deadline - time.monotonic(), 0)).release()
                return
        assert time.monotonic() < deadline, f"stream {stream} has no frame of process {pid}"
        time.sleep(0.05)


class Process:
    """A program started for a test, stopped with SIGINT (then SIGKILL) at the end."""

    def __init__(self, argv, **options):
        self.argv = [str(a) for a in argv]
        self.popen = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **options)
        self.stdout = self.stderr = ""

    @property
    def pid(self):
        return self.popen.pid

    def send(self, number):
        if self.popen.poll() is None:
            self.popen.send_signal(number)

    def wait(self, timeout=10.0):
        """Waits for the exit; returns the status (negative: killed by that signal)."""
        out, err = self.popen.communicate(timeout=timeout)
        self.stdout += out
        self.stderr += err
        return self.popen.returncode

    def stop(self, number=signal.SIGINT, timeout=10.0):
        self.send(number)
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.wait()
            raise AssertionError(f"{self.argv[0]} did not stop on signal {number}; killed")


@pytest.fixture
def processes():
    """Starts programs (processes(argv)) and stops every one still running at the end."""
    started = []

    def start(argv, **options):
        process = Process(argv, **options)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.popen.poll() is None:
            try:
                process.stop(signal.SIGINT, timeout=5)
            except AssertionError:
                pass


@pytest.fixture
def capture(processes):
    """capture(stream, *options): a vshm-capture test pattern, running once it published."""
    path = program("VSHM_CAPTURE")

    def start(stream, *options, wait=True):
        process = processes([path, "test", "--name", stream, "--quiet", *options])
        if wait:
            wait_for_stream(stream, process.pid)
        return process

    return start


def helper(*arguments, timeout=30):
    """Runs the C test helper; returns its standard output (bytes)."""
    result = subprocess.run(
        [program("VSHM_TEST_HELPER"), *map(str, arguments)], capture_output=True, timeout=timeout
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


@pytest.fixture
def xvfb():
    """A private X server for the viewer; sets DISPLAY for the programs the test starts."""
    path = program("VSHM_XVFB")
    for number in range(90 + os.getpid() % 100, 400):
        if os.path.exists(f"/tmp/.X{number}-lock") or os.path.exists(f"/tmp/.X11-unix/X{number}"):
            continue
        server = subprocess.Popen(
            [path, f":{number}", "-screen", "0", "1280x720x24", "-nolisten", "tcp", "-noreset"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(500):
            if os.path.exists(f"/tmp/.X11-unix/X{number}"):
                time.sleep(0.1)
                previous = os.environ.get("DISPLAY")
                os.environ["DISPLAY"] = f":{number}"
                yield f":{number}"
                if previous is None:
                    del os.environ["DISPLAY"]
                else:
                    os.environ["DISPLAY"] = previous
                server.terminate()
                server.wait(timeout=10)
                return
            if server.poll() is not None:
                break  # lost a race for this display number: try the next
            time.sleep(0.02)
        server.kill()
        server.wait()
    pytest.fail("could not start Xvfb")


def python_program(*arguments):
    """argv that runs a Python program with the interpreter running the tests."""
    return [sys.executable, *map(str, arguments)]
