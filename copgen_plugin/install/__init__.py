"""Getting a working COP-GEN without torch: run-time dependencies (pip into a plugin-owned
folder), downloads from the hub (``download``), restricted checkpoint readers and graph
templates filled into a model package (``convert.install_from_checkpoints``).

No module here imports qgis; the QGIS doors (Processing algorithms, the dialog) call in.
"""
