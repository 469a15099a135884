"""run_filter(): a filter process around one Python function, as vshm_filter_main() is
for a C function. Same command line, messages, exit statuses and behaviour, so that a
Python filter is a stage of vshm-run like any other."""

import errno
import getopt
import os
import signal
import sys
import time

from . import _vshm

_WAIT_SECONDS = 0.5
_RETRY_SECONDS = 0.05
_STATUS_INTERVAL_NS = 5_000_000_000
_TIMEOUT_SECONDS_MAX = 86400


class _Stop(BaseException):
    """Raised by the signal handler to leave the loop wherever it is."""


class _Run:
    """The state of one run_filter() call."""

    def __init__(self, process, name, description, input_formats, output_format, program):
        self.process = process
        self.name = name
        self.description = description
        self.input_formats = input_formats
        self.output_format = output_format
        self.program = program
        self.requested_format = None
        self.slots = None
        self.timeout = None
        self.group = False
        self.quiet = False
        self.lossless = False
        self.wait_readers = 0
        self.input_name = None
        self.output_name = None
        self.reader = None
        self.writer = None
        self.frames = self.torn = self.process_ns = 0
        self.status_frames = 0
        self.terminal = sys.stderr.isatty()
        self.line_open = False
        self.status_since = self.status_next = 0
        self.ended = False

    def say(self, message):
        self.break_status()
        print(f"{self.program}: {message}", file=sys.stderr, flush=True)

    def usage(self):
        formats = " ".join(self.input_formats) if self.input_formats else "all"
        description = f"{self.description}\n\n" if self.description else ""
        print(
            f"Usage: {self.program} [options] INPUT [OUTPUT]\n"
            "\n"
            f"{description}"
            f"Reads the vshm stream INPUT, applies the {self.name} filter to each new frame, and\n"
            f"publishes the result as the stream OUTPUT (default: INPUT.{self.name}).\n"
            f"Input formats: {formats}.\n"
            "\n"
            "Options:\n"
            "  -f, --format FMT    pixel format of the output, if the filter can make it\n"
            f"      --slots N       slots in the output ring, {_vshm.SLOTS_MIN}..{_vshm.SLOTS_MAX}"
            f" (default {_vshm.SLOTS_DEFAULT})\n"
            "      --timeout SEC   give up if INPUT does not appear in time (default: wait)\n"
            "      --group         let the owner's group read the output (mode 0660)\n"
            "      --lossless      take every frame of INPUT: its writer waits for this\n"
            "                      filter (for at most its lossless timeout, 1 s by\n"
            "                      default) instead of going on without it\n"
            "      --wait-readers N  publish nothing until N readers have attached\n"
            "  -q, --quiet         no status line, only errors\n"
            "  -h, --help          this text\n"
            "  -V, --version       the version\n"
            "\n"
            "Follows INPUT when its writer restarts; stops after passing on INPUT's end of\n"
            "stream, or on Ctrl-C or SIGTERM, and then removes OUTPUT.\n"
            "Exit status: 0 stopped, 1 stream or format error, 2 bad usage."
        )

    def parse(self, arguments):
        """Reads the command line. Returns None to run, or the exit status."""
        try:
            options, positional = getopt.gnu_getopt(
                arguments, "f:qhV", ["format=", "slots=", "timeout=", "group", "lossless", "wait-readers=", "quiet", "help", "version"]
            )
        except getopt.GetoptError as error:
            print(f"{self.program}: {error.msg}\nTry '{self.program} --help'.", file=sys.stderr)
            return 2
        for option, value in options:
            if option in ("-f", "--format"):
                if value.lower() not in _vshm.formats():
                    self.say(f"--format '{value}' is not a pixel format the ring carries: " + " ".join(_vshm.formats()))
                    return 2
                if self.output_format is None:
                    self.say("--format: this filter writes frames in its input's format")
                    return 2
                self.requested_format = value.lower()
            elif option == "--slots":
                if not (value.isdigit() and _vshm.SLOTS_MIN <= int(value) <= _vshm.SLOTS_MAX):
                    self.say(f"--slots '{value}' is not a whole number {_vshm.SLOTS_MIN}..{_vshm.SLOTS_MAX}")
                    return 2
                self.slots = int(value)
            elif option == "--timeout":
                seconds = _decimal(value)
                if seconds is None or seconds > _TIMEOUT_SECONDS_MAX:
                    self.say(f"--timeout '{value}' is not a number of seconds 0..{_TIMEOUT_SECONDS_MAX}")
                    return 2
                self.timeout = seconds
            elif option == "--group":
                self.group = True
            elif option == "--lossless":
                self.lossless = True
            elif option == "--wait-readers":
                if not (value.isdigit() and int(value) <= _vshm.READERS_DEFAULT):
                    self.say(f"--wait-readers '{value}' is not a whole number 0..{_vshm.READERS_DEFAULT}")
                    return 2
                self.wait_readers = int(value)
            elif option in ("-q", "--quiet"):
                self.quiet = True
            elif option in ("-h", "--help"):
                self.usage()
                return 0
            elif option in ("-V", "--version"):
                print(f"{self.program} {_vshm.__version__}")
                return 0
        if not 1 <= len(positional) <= 2:
            problem = "name the INPUT stream" if not positional else "give INPUT and OUTPUT only"
            self.say(f"{problem}; try '{self.program} --help'")
            return 2
        self.input_name = positional[0]
        if len(positional) == 2:
            self.output_name = positional[1]
        else:
            # "<input>.<filter>", the input part shortened if the whole would be too long.
            suffix = len(self.name) + 1
            keep = _vshm.NAME_MAX - (suffix if suffix < _vshm.NAME_MAX else 0)
            self.output_name = f"{self.input_name[:keep]}.{self.name}"[: _vshm.NAME_MAX]
        for which, stream in (("input", self.input_name), ("output", self.output_name)):
            try:
                _vshm.check_name(stream)
            except ValueError as error:
                self.say(f"{which}: {error}")
                return 2
        if self.input_name == self.output_name:
            self.say(f"INPUT and OUTPUT are both '{self.input_name}': they must differ")
            return 2
        return None

    def attach(self):
        """Attaches to the input, waiting for it. Returns 0, or 1 after saying why."""
        try:
            self.reader = _vshm.Reader(
                self.input_name, timeout=0, reattach=False, guard_truncation=True, lossless=self.lossless
            )
            return 0
        except _vshm.StreamError as error:
            if error.errno not in (errno.ENOENT, errno.EAGAIN, errno.ENODATA):
                self.say(f"cannot read input stream '{self.input_name}': {error.strerror}")
                return 1
        if not self.quiet:
            self.say(f"waiting for input stream '{self.input_name}'")
        try:
            self.reader = _vshm.Reader(
                self.input_name, timeout=self.timeout, reattach=False, guard_truncation=True, lossless=self.lossless
            )
        except (_vshm.StreamError, ValueError) as error:
            self.say(f"cannot read input stream '{self.input_name}': {getattr(error, 'strerror', None) or error}")
            return 1
        return 0

    def create_output(self, output_format, frame):
        interval = self.reader.stats["frame_interval_ns"]
        try:
            self.writer = _vshm.Writer(
                self.output_name,
                output_format,
                frame.width,
                frame.height,
                slots=self.slots,
                fps=min(1e9 / interval, 1000.0) if interval else None,
                group=self.group,
            )
        except _vshm.StreamError as error:
            self.say(f"cannot create output stream '{self.output_name}': {error.strerror}")
            return 1
        if not self.quiet:
            self.say(
                f"'{self.input_name}' ({frame.format}) -> '{self.output_name}' ({output_format}), "
                f"{frame.width}x{frame.height}"
            )
        return 0

    def process_one(self):
        """Takes the newest input frame and makes one output frame of it. Returns 0 or 1."""
        frame = self.reader.acquire()
        if frame is None:
            return 0  # nothing new to take after all (or a frame that failed its checks)
        if self.input_formats and frame.format not in self.input_formats:
            self.say(
                f"input '{self.input_name}' carries {frame.format} frames; "
                f"this filter takes {' '.join(self.input_formats)}"
            )
            frame.release()
            return 1
        output_format = frame.format
        if self.output_format is not None:
            output_format = self.output_format(frame.format, self.requested_format)
        if not output_format:
            self.say(f"cannot make {self.requested_format or 'any'} frames from {frame.format} input")
            frame.release()
            return 1
        if self.writer is None and self.create_output(output_format, frame):
            frame.release()
            return 1
        try:
            output = self.writer.frame(output_format, frame.width, frame.height)
        except (_vshm.StreamError, ValueError) as error:
            self.say(f"output '{self.output_name}': {error}")
            frame.release()
            return 1
        output.color_matrix = frame.color_matrix
        output.color_range = frame.color_range
        start = time.monotonic_ns()
        self.process(frame, output)
        self.process_ns += time.monotonic_ns() - start
        # Only now do we know whether the input stayed whole while it was read.
        try:
            intact = frame.release()
            if not intact:
                output.cancel()
                self.torn += 1
                return 0
            # The input's number and capture time travel on, so a chain's latency shows.
            output.frame_number = frame.frame_number
            output.capture_ns = frame.capture_ns
            output.flags = frame.flags
            if self.frames == 0:
                self.wait_for_readers()
            output.publish()
        except BufferError as error:
            self.say(f"the filter function kept a view of a frame after it returned ({error})")
            return 1
        self.frames += 1
        # The source has nothing more: the filter is done too (its readers keep the last
        # frame, which says end-of-stream).
        self.ended = frame.end_of_stream
        return 0

    def wait_for_readers(self):
        """--wait-readers: nothing is published until that many readers are there, so a
        lossless chain downstream sees the first frame too. A signal ends the wait (as
        _Stop)."""
        said = False
        while self.writer.stats["readers_attached"] < self.wait_readers:
            if not said and not self.quiet:
                plural = "" if self.wait_readers == 1 else "s"
                self.say(f"waiting for {self.wait_readers} reader{plural} of '{self.output_name}' before the first frame")
            said = True
            time.sleep(0.001)

    def break_status(self):
        if self.line_open:
            sys.stderr.write("\r\033[K")
            self.line_open = False

    def print_status(self, final):
        """The status line, and with final the summary: frames, drops, work per frame."""
        now = time.monotonic_ns()
        rate = ""
        if not final:
            fps = (self.frames - self.status_frames) * 1e9 / (now - self.status_since + 1)
            rate = f", {fps:.1f} fps"
        self.status_frames = self.frames
        self.status_since = now
        if self.quiet:
            return
        invalid = 0
        if self.reader is not None and not self.reader.closed:
            invalid = self.reader.stats["frames_invalid"]
        per_frame = self.process_ns / 1e3 / self.frames if self.frames else 0.0
        text = (
            f"{'done: ' if final else ''}'{self.input_name}' -> '{self.output_name}': "
            f"{self.frames} frames, {self.torn} torn inputs dropped, {invalid} invalid, "
            f"{per_frame:.1f} us per frame{rate}"
        )
        # On a terminal: back to the start of the line and clear it, then the new text.
        sys.stderr.write(f"{chr(13) + chr(27) + '[K' if self.terminal else ''}{self.program}: {text}")
        self.line_open = self.terminal and not final
        if not self.line_open:
            sys.stderr.write("\n")
        sys.stderr.flush()

    def loop(self):
        lost = False
        self.status_since = time.monotonic_ns()
        self.status_next = self.status_since + _STATUS_INTERVAL_NS
        while not self.ended:
            try:
                self.reader.wait(timeout=_WAIT_SECONDS)
            except _vshm.Timeout:
                pass
            except _vshm.WriterGone:
                if not lost:
                    lost = True
                    if not self.quiet:
                        self.say(f"input '{self.input_name}' lost its writer; waiting for a new one")
            except _vshm.StreamReplaced:
                # A new writer has the input's name: follow it.
                try:
                    self.reader.reattach()
                except _vshm.StreamError:
                    time.sleep(_RETRY_SECONDS)
            else:
                lost = False
                if self.process_one():
                    return 1
            if time.monotonic_ns() >= self.status_next:
                self.status_next = time.monotonic_ns() + _STATUS_INTERVAL_NS
                self.print_status(False)
        return 0

    def close(self):
        """Removes the output stream (its readers keep their last frame), detaches."""
        for what, stream in (("output", self.writer), ("input", self.reader)):
            if stream is None:
                continue
            try:
                stream.close()
            except BufferError:
                self.say(f"{what} '{stream.name}' stays open while views of its frame are alive")


def _decimal(text):
    """A number of seconds as the C programs take it: digits and '.', nothing else."""
    if not text or text.strip("0123456789.") or text.count(".") > 1 or text == ".":
        return None
    return float(text)


# How long cleanup may take before a repeated signal ends the filter the hard way, as
# for the C programs: tools such as timeout(1) signal twice in quick succession.
_SIGNAL_GRACE_SECONDS = 3


class _Signals:
    """SIGINT, SIGTERM and SIGHUP as the C programs take them: the first stops the loop
    (as _Stop, while it runs) and is remembered; repeats within the grace period are
    absorbed so that cleanup finishes; a repeat after it ends the process at once."""

    NUMBERS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self):
        self.first = None
        self.first_time = 0.0
        self.stopping_loop = True
        self.previous = {}
        try:
            for number in self.NUMBERS:
                self.previous[number] = signal.signal(number, self.handle)
        except ValueError:
            pass  # not the main thread: signals stay with whoever handles them there

    def handle(self, number, frame):
        now = time.monotonic()
        if self.first is None:
            self.first, self.first_time = number, now
            if self.stopping_loop:
                raise _Stop()
        elif now - self.first_time >= _SIGNAL_GRACE_SECONDS:
            # The filter did not stop: a user signalling again means it.
            signal.signal(number, signal.SIG_DFL)
            os.kill(os.getpid(), number)

    def finish(self):
        """Restores the handlers; after a signal, ends the process by that signal, as a
        shell or vshm-run expects of a program that was stopped (vshm-run tells it from
        one that passed on the end of its stream this way)."""
        for number, handler in self.previous.items():
            signal.signal(number, handler)
        if self.first is not None and self.previous:
            sys.stdout.flush()
            sys.stderr.flush()
            signal.signal(self.first, signal.SIG_DFL)
            os.kill(os.getpid(), self.first)


def run_filter(process, *, name=None, description=None, input_formats=None, output_format=None, argv=None):
    """Runs a filter program around process(input, output), like vshm_filter_main() in C.

    process(input, output) is called for each new frame of the input stream, with the
    input Frame (read-only, in the upstream slot) and an OutputFrame laid out for the
    output format at the input's size (the downstream slot): read input.array() or
    input.planes and write output.array() or output.planes, in one pass and without a
    copy. Views of both must be gone when process returns (locals are). Afterwards the
    output is published with the input's frame number, capture time and flags, unless
    the input turned out torn (then it is dropped). An exception in process stops the
    filter with exit status 1 and its traceback.

    The input is read with guard_truncation on, as the C filters read theirs: an input
    segment cut short under the filter drops the frame instead of ending the process.

    The command line (argv, default sys.argv) is the C filters': INPUT [OUTPUT] and
    -f/--format, --slots, --timeout, --group, -q/--quiet, -h/--help, -V/--version;
    see --help. The filter waits for INPUT, follows it when its writer restarts, stops
    after passing on a frame that says end of stream, or on SIGINT, SIGTERM or SIGHUP,
    and removes OUTPUT when it stops. Stopped by a signal, it then ends the process by
    that signal, as the C filters do, so that a shell or vshm-run sees how it ended
    (repeats of the signal within 3 seconds are absorbed so that cleanup finishes).

    name: used in --help and the default output name INPUT.name (default: the program's
    file name without .py). description: one line for --help. input_formats: the
    format names process takes (default all); a stream in another stops the filter.
    output_format(input_format, requested) -> name or None: the output format for an
    input format given the one --format asked for (None if none); returning None stops
    the filter. Without it, the output has the input's format and --format is refused.

    Returns the exit status, unless a signal stopped the filter: 0 after passing on the
    end of the stream, 1 on a stream, format or process error, 2 on bad usage. Use it
    as sys.exit(vshm.run_filter(process)).
    """
    if not callable(process):
        raise TypeError(f"run_filter() takes a function process(input, output), not {type(process).__name__}")
    if output_format is not None and not callable(output_format):
        raise TypeError("output_format must be a function (input_format, requested) -> format name")
    argv = list(sys.argv if argv is None else argv)
    program = os.path.basename(argv[0]) if argv and argv[0] else "filter"
    if name is None:
        name = os.path.splitext(program)[0] or "filter"
    if input_formats is not None:
        input_formats = [str(f).lower() for f in input_formats]
        unknown = [f for f in input_formats if f not in _vshm.formats()]
        if unknown or not input_formats:
            raise ValueError(f"input_formats: {' '.join(unknown) or 'an empty list'} is not a list of formats the ring carries")
    run = _Run(process, name, description, input_formats, output_format, program)
    status = run.parse(argv[1:])
    if status is not None:
        return status

    signals = _Signals()
    status = 1
    try:
        try:
            status = run.attach()
            if status == 0:
                status = run.loop()
        except _Stop:
            status = 0
        except Exception:  # process() failed: say how, and stop like a C filter would
            import traceback

            run.break_status()
            traceback.print_exc()
            status = 1
        # Stopping now anyway: a signal during the cleanup is remembered, not raised.
        signals.stopping_loop = False
        # Here the frames of the last step are freed (they lived in the traceback), so
        # their slots are given back before the streams close.
        # The summary, also after a failure: it says how far the filter got.
        try:
            run.quiet = run.quiet and status == 0
            run.print_status(True)
        finally:
            run.close()
    finally:
        signals.finish()
    return status
