"""The QGIS Processing layer: a provider and one thin module per algorithm."""
