"""Case 2 of issue 13: SIGTERM and SIGHUP (what kill, systemd, batch schedulers and a closed
terminal send) stop a CLI run like Ctrl-C: exit status 128 + the signal, one error line, the
partial files and the folders the run created removed. A run killed outright (SIGKILL) cannot
clean up; the next run into the same folders removes its partial files, and only those."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from copgen_plugin.cli_run import Terminated, stop_signals_as_interrupts
from tests.reliability.helpers import (
    REPO,
    cli,
    cli_args,
    cli_env,
    gapfill,
    one_error_line,
    out_folder,
    s2_with_gap,
    snapshot,
)


def _start_and_wait_for_partials(argv: list[object], out: Path) -> subprocess.Popen[str]:
    """Start a run; return once it is writing (its partial files exist)."""
    proc = subprocess.Popen(cli_args(*argv), cwd=REPO, env=cli_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (out.exists() and any(".partial-" in p.name for p in out.rglob("*"))):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never started writing"
        time.sleep(0.05)
    return proc


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_cancels_cleanly(tmp_path, ten_m_package, signum):
    target = s2_with_gap(tmp_path / "s2.tif")
    out = out_folder(tmp_path / "out")
    before = snapshot(tmp_path)
    proc = _start_and_wait_for_partials(gapfill(target, ten_m_package, out, steps=400), out)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=120)
    # the partial files and the folders the run created (samples/) are gone
    assert snapshot(tmp_path) == before, stderr
    assert proc.returncode == 128 + signum, stderr
    one_error_line(stderr, f"stopped by {signal.Signals(signum).name}",
                   "no output was written (partial files removed)")


def test_the_next_run_clears_the_partial_files_of_a_killed_one(tmp_path, ten_m_package):
    target = s2_with_gap(tmp_path / "s2.tif")
    out = out_folder(tmp_path / "out")
    killed = _start_and_wait_for_partials(gapfill(target, ten_m_package, out, steps=400), out)
    killed.kill()  # SIGKILL: no clean-up possible
    killed.communicate(timeout=60)
    left = sorted(p.name for p in out.rglob("*.partial-*"))
    assert left, "SIGKILL should have left partial files"
    # the user's files that merely look alike, and a partial file a live run holds (locked)
    samples = out / "samples"
    samples.mkdir(exist_ok=True)
    for name in ("mine.partial-12345678.tif", "sample_1.partial-notmine.tif", "notes.txt"):
        (samples / name).write_text("the user's")
    live = samples / "sample_9.partial-0a0b0c0d.tif"
    live.write_text("a live run's")
    fd = os.open(live, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        proc = cli(*gapfill(target, ten_m_package, out, "--json", samples=1))
    finally:
        os.close(fd)
    assert proc.returncode == 0, proc.stderr
    notes = json.loads(proc.stdout)["notes"]
    removed = sorted(n.split()[1].rstrip(":") for n in notes if "earlier run that was" in n)
    assert removed == sorted(p for p in left if p.endswith(".tif")), (removed, left)
    assert sorted(p.name for p in samples.iterdir()) == [
        "mine.partial-12345678.tif", "notes.txt", "sample_1.partial-notmine.tif",
        "sample_1.tif", "sample_9.partial-0a0b0c0d.tif"]
    assert live.read_text() == "a live run's"
    assert [p.name for p in out.glob("*.partial-*")] == []


def test_a_stop_swallowed_inside_the_run_is_raised_again_at_its_next_check():
    """openvino's extension import turned the raised stop into "not installed" and the run
    went on to publish everything (exit 0, about 1 run in 10): the run's cancel check must
    raise the stop again."""
    sigint = signal.getsignal(signal.SIGINT)
    with stop_signals_as_interrupts() as stopped:
        assert stopped() is False
        try:  # what the extension's import did with the raised stop
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler raises here, in the main thread
            pytest.fail("the handler did not raise")
        except KeyboardInterrupt:
            pass
        with pytest.raises(Terminated) as raised:
            stopped()
        assert raised.value.signum == signal.SIGTERM
    # the handlers are the test process's own again, Ctrl-C included
    assert signal.getsignal(signal.SIGINT) is sigint
    assert signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN
