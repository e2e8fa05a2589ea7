"""Fixtures of the download tests: the fake hub, a clean hub environment, the demo package."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.install.fake_hub import FakeHub

DEMO = Path(__file__).resolve().parents[2] / "resources" / "models" / "copgen-demo"
PACKAGE_REPO = "someone/copgen-demo-package"


def demo_files() -> dict[str, bytes]:
    """The embedded demo model's package, as a repository would hold it."""
    return {p.name: p.read_bytes() for p in sorted(DEMO.iterdir()) if p.is_file()}


@pytest.fixture
def hub_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No token, online, and a private hub cache: nothing of the user's hub setup leaks in."""
    from huggingface_hub import constants

    for key in list(os.environ):
        if key.startswith(("HF_", "HUGGING_FACE")):
            monkeypatch.delenv(key)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    cache = tmp_path / "hf-cache"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


@pytest.fixture
def start_hub() -> Iterator[Callable[..., tuple[FakeHub, str]]]:
    """Start fake hubs (stopped at the end of the test): ``start_hub(repos, **options)``."""
    started: list[FakeHub] = []

    def start(repos: dict[str, dict[str, bytes]], **options: object) -> tuple[FakeHub, str]:
        hub = FakeHub(repos, **options)  # type: ignore[arg-type]
        url = hub.start()
        started.append(hub)
        return hub, url

    yield start
    for hub in started:
        hub.stop()


def tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for folders), to compare before/after."""
    return {p.relative_to(root).as_posix(): (None if p.is_dir() else p.read_bytes())
            for p in sorted(root.rglob("*")) if not p.is_symlink() or p.exists()}
