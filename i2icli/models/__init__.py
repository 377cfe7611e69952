"""Built-in model families; importing this package registers them."""

# One import line per model family (each module calls i2icli.registry.register).
import i2icli.models.lomit  # noqa: F401,E402
