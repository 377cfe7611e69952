"""i2i: exemplar-guided and attention-based unpaired image-to-image translation.

Every CLI command is a thin layer over a function in this package; see
docs/ARCHITECTURE.md for the layout.
"""

__version__ = "0.1.0"
