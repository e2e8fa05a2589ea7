"""Getting a working COP-GEN without torch: run-time dependencies and model installation.

No module here imports qgis; the QGIS doors (Processing algorithms, the dialog) call in.
"""
