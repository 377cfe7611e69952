"""Datasets: the HDF5 store (written by ``i2i prepare``), readers and transforms.

- :mod:`i2icli.data.store`: the versioned schema, ``StoreWriter``, ``open_store``,
  store specs (``data.h5:test/b``) and ``iter_spec_images``;
- :mod:`i2icli.data.datasets`: ``unpaired_dataset``, ``domain_dataset`` (N domains),
  ``attribute_dataset``, ``attribute_reference_dataset``, ``paired_dataset``
  (keyed, reproducible augmentation);
- :mod:`i2icli.data.references`: reference (exemplar) samplers over labels and domains;
- :mod:`i2icli.data.transforms`: resize / crop / flip on uint8 arrays;
- :mod:`i2icli.data.synthetic`: the built-in digit and face benchmarks;
- :mod:`i2icli.data.keyed`: keyed sampling.

See docs/DATA.md.
"""
