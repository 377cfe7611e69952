"""Built-in model families; importing this package registers them."""

# One import line per model family (each module calls i2icli.registry.register).
from i2icli.models import ugatit  # noqa: F401  (U-GAT-IT, ICLR 2020)
from i2icli.models import classifier  # noqa: F401  (attribute classifier for classification accuracy)
from i2icli.models import lomit  # noqa: F401  (LOMIT, ICLR 2019 submission)
from i2icli.models import segin  # noqa: F401  (SEGIN, semantic-match guided exemplar translation)
