"""Built-in model families; importing this package registers them."""

# One import line per model family (each module calls i2icli.registry.register).
from i2icli.models import (
    bridge,  # noqa: F401  (BridgeGAN, ICCV 2021)
    classifier,  # noqa: F401  (attribute classifier for classification accuracy)
    egscit,  # noqa: F401  (EGSC-IT, ICLR 2019)
    lomit,  # noqa: F401  (LOMIT, ICLR 2019 submission)
    segin,  # noqa: F401  (SEGIN, semantic-match guided exemplar translation)
    ugatit,  # noqa: F401  (U-GAT-IT, ICLR 2020)
)
