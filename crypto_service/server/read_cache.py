"""Encoded responses of the catalog reads, kept until the catalog changes.

Building and encoding a response, not the lookup, is what a coin read costs (about 1.5 ms for a
100-coin page through upb, see `convert`). The catalog is an immutable snapshot that is
replaced on every change, so a response built from one snapshot stays right for as long as
that snapshot is current: the cache keeps the encoded bytes per request and drops them all when
`CatalogCache.current()` hands out a different snapshot. A response is built when it is first
asked for on a snapshot, so a price step costs the loop one build per response in demand,
spread over the requests that ask. `StrictCodec` sends bytes as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from google.protobuf.message import Message

from ..domain.catalog import Catalog, CatalogCache

# Requests carry free text (search queries), so the set of keys is unbounded: beyond this many
# the oldest entry goes (dicts keep insertion order).
MAX_ENTRIES = 4096

Build = Callable[[Catalog], Message]  # a catalog -> the response message


class ReadCache:
    def __init__(self, catalog: CatalogCache, max_entries: int = MAX_ENTRIES) -> None:
        self.catalog = catalog
        self.max_entries = max_entries
        self._snapshot: Catalog | None = None
        self._responses: dict[Hashable, bytes] = {}

    async def respond(self, key: Hashable, build: Build) -> bytes:
        """The encoded response for `key` on the current catalog, built on a miss. Errors
        (NotFound, InvalidArgument) are raised by `build` and never cached."""
        catalog = await self.catalog.current()
        if catalog is not self._snapshot:
            self._snapshot = catalog
            self._responses.clear()
        encoded = self._responses.get(key)
        if encoded is None:
            encoded = build(catalog).SerializeToString()
            if len(self._responses) >= self.max_entries:
                del self._responses[next(iter(self._responses))]
            self._responses[key] = encoded
        return encoded
