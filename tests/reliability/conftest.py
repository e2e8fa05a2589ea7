"""Reliability fixtures: the fill tests' tiny real model package and isolated user folders."""

from tests.fill.conftest import isolated_user_dirs, ten_m_package

__all__ = ["isolated_user_dirs", "ten_m_package"]
