"""Fixtures of the installer tests (defined in helpers.py, shared with tests/qgis)."""

from tests.install.helpers import bare_python, pip_clean, wheelhouse

__all__ = ["bare_python", "pip_clean", "wheelhouse"]
