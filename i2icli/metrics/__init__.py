"""Evaluation metrics as functions over image sets, arrays and tensors.

Stable result keys (the CLI formats them; eval.jsonl stores them):

- KID: ``kid_mean, kid_std, kid_x100_mean, kid_x100_std, n_generated, n_real, subset_size, subsets, protocol,
  std_kind`` (+ ``seed`` for the ``subsets`` protocol)
- FID: ``fid, n_generated, n_real``
- IS: ``is_mean, is_std, n_generated, splits, seed``
- SSIM: ``ssim_mean, ssim_std, n_pairs, win_size, data_range, gaussian_weights, mask, mask_region``
- LPIPS: ``lpips_mean, lpips_std, n_pairs, mode, net, version, pairing`` (+ ``n_inputs`` for diversity)
- CA: ``accuracy_mean, per_attribute, n_images, threshold``

Modules: :mod:`.inputs` (folders / store selections), :mod:`.fidelity`
(KID/FID/IS in stages with a feature cache), :mod:`.ssim`, :mod:`.lpips`,
:mod:`.classification`, :mod:`.report` (eval.jsonl), :mod:`.evaluate` (one
core call per CLI command).
"""
