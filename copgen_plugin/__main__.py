"""`python -m copgen_plugin ...`: the headless door into the same engine as the QGIS algorithms."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
