"""Helpers of the download tests: the demo package as a repository, a folder snapshot."""

from __future__ import annotations

from pathlib import Path

DEMO = Path(__file__).resolve().parents[2] / "resources" / "models" / "copgen-demo"
PACKAGE_REPO = "someone/copgen-demo-package"


def demo_files() -> dict[str, bytes]:
    """The embedded demo model's package, as a repository would hold it."""
    return {p.name: p.read_bytes() for p in sorted(DEMO.iterdir()) if p.is_file()}


def tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for folders), to compare before/after."""
    return {p.relative_to(root).as_posix(): (None if p.is_dir() else p.read_bytes())
            for p in sorted(root.rglob("*")) if not p.is_symlink() or p.exists()}
