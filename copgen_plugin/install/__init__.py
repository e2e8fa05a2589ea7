"""Getting a working model without torch: downloads, the checkpoint reader, template filling."""
