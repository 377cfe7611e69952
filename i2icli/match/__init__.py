"""SEGIN's semantic matching (Eq. 1-2): exact matcher, warp reconstruction, perturbations and the HDF5 warp cache."""
