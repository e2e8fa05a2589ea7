"""Desktop-only widgets (QGIS desktop with an iface); never imported under qgis_process."""
