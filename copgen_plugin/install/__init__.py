"""Getting a working model without torch: restricted checkpoint readers and graph templates
filled into a model package (``convert.install_from_checkpoints``)."""
