"""pip install . works as the README says, with Debian's meson-python (no download): the
wheel holds the module and nothing else, the module exports nothing of libvshm, and the
installed copy, away from the build tree, reads a stream."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import program


def test_pip_install_reads_a_stream(name, capture, tmp_path):
    pytest.importorskip("mesonpy")
    root = program("VSHM_SOURCE_ROOT")
    # A copy of the checkout, so that meson-python's files stay out of the real one.
    source = tmp_path / "source"
    shutil.copytree(
        root, source, ignore=shutil.ignore_patterns("build*", ".git", ".mesonpy*", "__pycache__", "*.mp4", "*.webm",
                                                    "*.mkv", "*.avi", "*.ts")
    )
    target = tmp_path / "target"
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    built = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index",
         "--target", target, source],
        capture_output=True, text=True, timeout=800, env=environment,
    )
    assert built.returncode == 0, built.stdout + built.stderr

    installed = sorted(os.listdir(target))
    assert [entry for entry in installed if not entry.endswith(".dist-info")] == ["vshm"], installed
    package = sorted(f for f in os.listdir(target / "vshm") if f != "__pycache__")
    assert package[:2] == ["__init__.py", "_filter.py"] and len(package) == 3
    extension = target / "vshm" / package[2]
    assert package[2].startswith("_vshm.") and package[2].endswith(".so")
    if shutil.which("nm"):
        symbols = subprocess.run(["nm", "-D", "--defined-only", extension], capture_output=True, text=True)
        assert [line.split()[-1] for line in symbols.stdout.splitlines()] == ["PyInit__vshm"]
    libraries = subprocess.run(["ldd", extension], capture_output=True, text=True).stdout
    assert "libvshm" not in libraries and "libpython" not in libraries

    writer = capture(name, "--format", "nv12", "--size", "320x240")
    code = (
        "import sys, vshm\n"
        f"assert vshm.__file__.startswith({str(target)!r}), vshm.__file__\n"
        f"with vshm.Reader({name!r}, timeout=5) as reader:\n"
        "    with reader.next_frame() as frame:\n"
        "        print(frame.format, frame.array().shape, frame.array()[0, 0])\n"
    )
    read = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, cwd=tmp_path,
        env=dict(environment, PYTHONPATH=str(target)),
    )
    assert read.returncode == 0, read.stderr
    assert read.stdout == "nv12 (360, 320) 235\n"  # the white bar's luma
    writer.stop()
