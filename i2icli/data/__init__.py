"""Datasets: the HDF5 store (written by ``i2i prepare``), readers and transforms."""
