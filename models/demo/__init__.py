"""The demo model: a synthetic world, its training script, the sample scene (issue #7).

COP-GEN's weights cannot ship in the plugin, so the project trains a small model of the same
architecture on procedurally generated scenes whose randomness is known.
"""
