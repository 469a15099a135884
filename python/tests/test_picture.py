"""What a frame says of its pixels beyond format and size, in Python: the depth of P010,
colour primaries and transfer (HDR), the sample aspect ratio; read from files that
vshm-capture plays, and written by a Writer. Also what array() and publish() take, and
how P010 and I444 are reached through frame.planes instead."""

import os

import numpy as np
import pytest

import vshm
from conftest import program, wait_for_stream


@pytest.fixture
def play(processes):
    """play(stream, sample): vshm-capture plays a sample file in a loop."""

    def start(stream, sample, *options):
        path = os.path.join(program("VSHM_SAMPLES"), sample)
        process = processes([program("VSHM_CAPTURE"), path, "--loop", "--name", stream, "--quiet", *options])
        wait_for_stream(stream, process.pid)
        return process

    return start


def test_hdr_frames_say_so(name, play):
    play(name, "hdr10-pq-hevc.mp4")
    with vshm.Reader(name, timeout=10) as reader, reader.next_frame() as frame:
        assert (frame.format, frame.width, frame.height, frame.depth) == ("p010", 320, 180, 10)
        assert frame.color_matrix == vshm.COLOR_MATRIX_BT2020
        assert frame.color_primaries == vshm.COLOR_PRIMARIES_BT2020
        assert frame.color_transfer == vshm.COLOR_TRANSFER_PQ
        assert frame.sample_aspect == (1, 1)
        with pytest.raises(ValueError, match="frame.planes"):
            frame.array()
        luma = np.asarray(frame.planes[0]).view("<u2")[:, :320]
        chroma = np.asarray(frame.planes[1]).view("<u2")[:, :320]
        # P010: the 10 bits at the top of each word, the low 6 bits zero.
        assert not (luma & 0x3F).any() and not (chroma & 0x3F).any()
        assert (luma >> 6).max() > 255  # really 10-bit values, not 8-bit ones
        del luma, chroma


def test_anamorphic_frames_carry_their_aspect(name, play):
    play(name, "anamorphic-16-9-h264.mp4")
    with vshm.Reader(name, timeout=10) as reader, reader.next_frame() as frame:
        assert (frame.format, frame.width, frame.height) == ("i420", 180, 180)
        assert frame.sample_aspect == (16, 9)
        assert frame.color_transfer == vshm.COLOR_TRANSFER_UNSPECIFIED


def test_i444_planes(name, play):
    play(name, "testsrc2-h264-444.mp4")
    with vshm.Reader(name, timeout=10) as reader, reader.next_frame() as frame:
        assert (frame.format, frame.depth) == ("i444", 8)
        assert [np.asarray(p)[:, :320].shape for p in frame.planes] == [(180, 320)] * 3
        with pytest.raises(ValueError, match="frame.planes"):
            frame.array()


def test_writer_sets_what_readers_read(name):
    with vshm.Writer(name, format="p010", width=64, height=32) as writer:
        with vshm.Reader(name) as reader:
            frame = writer.frame()
            luma = np.asarray(frame.planes[0]).view("<u2")
            luma[:] = 512 << 6
            del luma
            frame.color_primaries = vshm.COLOR_PRIMARIES_BT2020
            frame.color_transfer = vshm.COLOR_TRANSFER_HLG
            frame.sample_aspect = (4, 3)
            with pytest.raises(ValueError, match="sample_aspect"):
                frame.sample_aspect = (4, 0)
            frame.publish()
            with reader.next_frame(timeout=5) as got:
                assert got.format == "p010"
                assert got.color_primaries == vshm.COLOR_PRIMARIES_BT2020
                assert got.color_transfer == vshm.COLOR_TRANSFER_HLG
                assert got.sample_aspect == (4, 3)
                assert (np.asarray(got.planes[0]).view("<u2")[:, :64] == 512 << 6).all()
            writer.publish(
                np.zeros((48, 64), np.uint8),
                format="nv12",
                color_transfer=vshm.COLOR_TRANSFER_PQ,
                sample_aspect=(16, 9),
            )
            with reader.next_frame(timeout=5) as got:
                assert (got.format, got.sample_aspect) == ("nv12", (16, 9))
                assert got.color_transfer == vshm.COLOR_TRANSFER_PQ
            with pytest.raises(ValueError, match="array_formats"):
                writer.publish(np.zeros((48, 64), np.uint8), format="p010")


def test_array_formats_are_declared():
    taken = vshm.array_formats()
    assert "nv12" in taken and "rgb24" in taken
    assert "p010" not in taken and "i444" not in taken
    assert set(taken) < set(vshm.formats())
