"""The baseline: the seed's HasFullTableCache, written out as the benchmark's
own code (see /work/shared/seed/hasfulltablecache.txt for the original).

It keeps the seed's two dicts on an instance instead of on the class, so that
it can serve any mapped class (the benchmark's model, whose class-level caches
belong to fullcache's mixin) without touching fullcache's state. Every step of
a lookup is the seed's: the RESET comparisons, the closure built per
``by_id`` call, ``cache.get``, ``if not obj``, ``obj not in _db`` and
``_db.merge(obj, load=False)`` when the object is not in the caller's session.
"""

from __future__ import annotations

import logging

RESET = object()


class SeedCache:
    def __init__(self, model: type) -> None:
        self.model = model
        self.cache = RESET
        self.id_cache = RESET

    def _insert(self, obj, cache, id_cache) -> None:
        key = obj.cache_key()
        id = obj.id
        try:
            if cache != RESET:
                cache[key] = obj
            if id_cache != RESET:
                id_cache[id] = obj
        except TypeError:
            pass

    def populate(self, _db) -> None:
        """The seed's populate_cache: ``for obj in _db.query(cls)`` into two dicts."""
        cache = {}
        id_cache = {}
        for obj in _db.query(self.model):
            self._insert(obj, cache, id_cache)
        self.cache = cache
        self.id_cache = id_cache

    def _lookup(self, _db, cache, cache_name, cache_key, lookup_hook):
        new = False
        obj = None
        if cache == RESET:
            self.populate(_db)
            cache = getattr(self, cache_name)
        if cache != RESET:
            try:
                obj = cache.get(cache_key)
            except TypeError:
                pass
        if not obj:
            if lookup_hook:
                obj, new = lookup_hook()
            else:
                obj = None
            if not obj:
                return obj, new
            self._insert(obj, self.cache, self.id_cache)
        if obj and obj not in _db:
            try:
                obj = _db.merge(obj, load=False)
            except Exception as e:
                logging.error("Unable to merge cached object %r into database session", obj, exc_info=e)
                obj, new = lookup_hook()
                if obj and obj in _db:
                    return obj, new
                raise
        return obj, new

    def by_id(self, _db, id):
        def lookup_hook():
            return _db.query(self.model).filter_by(id=id).one_or_none(), False

        obj, is_new = self._lookup(_db, self.id_cache, "id_cache", id, lookup_hook)
        return obj
