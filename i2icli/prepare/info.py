"""``i2i prepare info``: what a store holds (counts, labels, size, provenance)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from i2icli.data.store import is_store_spec, open_store, parse_store_spec


def store_info(path: str | Path, verify: bool = False) -> dict[str, Any]:
    """:meth:`Store.summary` of a store (a ``FILE.h5[:split[/domain]]`` spec is accepted); with
    ``verify`` also ``checksum_ok`` (the content checksum recomputed)."""
    file = parse_store_spec(str(path))[0] if is_store_spec(str(path)) else Path(path)
    with open_store(file) as store:
        info = store.summary()
        if verify:
            info["checksum_ok"] = store.verify()
    return info


def cache_info(path: str | Path, verify: bool = False) -> dict[str, Any]:
    """:meth:`WarpCache.summary` of a warp cache written by ``i2i prepare match``; ``verify`` rechecks ``index``."""
    from i2icli.match.cache import WarpCache

    cache = WarpCache(path)
    try:
        info = cache.summary()
        if verify:
            info["checksum_ok"] = cache.verify()
    finally:
        cache.close()
    return info
