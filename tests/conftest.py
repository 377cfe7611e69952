import pathlib
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).parent))

# The suite's tensors are tiny: one intra-op thread is faster than two (no
# OpenMP synchronisation) and keeps timings sane on a shared 2-core machine.
torch.set_num_threads(1)

# Register the engine-test model before any test imports the CLI, whose `train`
# group lists the registered models when it is imported.
import toy_family  # noqa: E402,F401
