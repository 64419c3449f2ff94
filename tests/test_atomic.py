"""A run that is terminated leaves no output behind, not even a temporary file."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from notus_data.synthetic import write_parquet


def test_terminated_run_leaves_nothing(tmp_path):
    data = write_parquet(tmp_path / "in.parquet", 3000, seed=1)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "notus_data.cli",
            "binarize",
            str(data),
            str(out_dir / "pairs.parquet"),
            "--batch-size",
            "2",
            "--no-progress",
        ],  # fmt: skip
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not any(out_dir.iterdir()) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be terminated: " + proc.stderr.read()
    assert [p.name.startswith(".notus-tmp-") for p in out_dir.iterdir()] == [True]
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert list(out_dir.iterdir()) == []
