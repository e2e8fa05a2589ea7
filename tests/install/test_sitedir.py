"""The dependency folder's life cycle on a real filesystem: marker, states, pending swap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from copgen_plugin.install.sitedir import MARKER, BusyError, SiteDir, pid_alive


def _complete(site: SiteDir, folder: Path, digest: str) -> None:
    folder.mkdir(parents=True)
    (folder / "pkg.py").write_text(f"WHERE = {folder.name!r}\n")
    site.write_marker(folder, {"requirements_hash": digest})


def test_states_and_activation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    site = SiteDir(tmp_path, "cp311-cp311-linux_x86_64")
    assert site.state() == "absent" and not site.activate()
    staging = site.new_staging()
    _complete(site, staging / "x", "h1")  # marker in a sub folder: staging itself is unmarked
    assert site.swap_in(staging) and site.state() == "incomplete" and not site.activate()
    assert str(site.path) not in sys.path
    staging = site.new_staging()
    (staging / "pkg.py").write_text("")
    site.write_marker(staging, {"requirements_hash": "h1"})
    assert site.swap_in(staging)
    assert site.state("h1") == "ok" and site.state("h2") == "outdated"
    assert site.activate() and sys.path[0] == str(site.path)
    assert site.activate() and sys.path.count(str(site.path)) == 1  # idempotent
    assert sorted(p.name for p in tmp_path.iterdir()) == [site.key]  # no old/staging left
    assert not (site.path / (MARKER + ".tmp")).exists()


def test_pending_install_replaces_the_active_one_at_the_next_load(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a Windows QGIS that held the old folder's DLLs leaves: the swap happens at load."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    site = SiteDir(tmp_path, "cp311-cp311-win_amd64")
    _complete(site, site.path, "old")
    _complete(site, site.pending, "new")
    assert site.activate()
    assert site.marker()["requirements_hash"] == "new"  # type: ignore[index]
    assert (site.path / "pkg.py").read_text() == "WHERE = 'cp311-cp311-win_amd64.pending'\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [site.key]


def test_a_live_install_is_not_swept_a_dead_one_is(tmp_path: Path) -> None:
    site = SiteDir(tmp_path, "cp311-cp311-linux_x86_64")
    with subprocess.Popen(["sleep", "30"]) as live:
        busy = tmp_path / f"{site.key}.staging-{live.pid}-1"
        busy.mkdir()
        with pytest.raises(BusyError, match=f"process {live.pid}"):
            site.new_staging()
        assert busy.is_dir()
        live.kill()
    dead_pid = live.pid  # reaped by the with-block: no such process any more
    assert not pid_alive(dead_pid)
    busy.rename(tmp_path / f"{site.key}.staging-{dead_pid}-2")
    fresh = site.new_staging()
    assert [p.name for p in tmp_path.iterdir()] == [fresh.name]
