"""The ``i2i`` command line: thin typer layers over the core modules."""
