"""An application's own copy of the original full-table cache mixin, with
every behaviour the original has (written for fullcache's tests): fullcache
must find and report models that use it exactly as they behave."""

import logging


def get_one(db, model, **filters):
    return db.query(model).filter_by(**filters).one_or_none()


class HasFullTableCache(object):
    RESET = object()

    # Each subclass declares its own:
    #   _cache = HasFullTableCache.RESET
    #   _id_cache = HasFullTableCache.RESET

    @classmethod
    def reset_cache(cls):
        cls._cache = cls.RESET
        cls._id_cache = cls.RESET

    def cache_key(self):
        raise NotImplementedError()

    @classmethod
    def _cache_insert(cls, obj, cache, id_cache):
        key = obj.cache_key()  # an exception here escapes to the caller
        id = obj.id
        try:
            if cache != cls.RESET:
                cache[key] = obj  # a later row with the same key replaces it
            if id_cache != cls.RESET:
                id_cache[id] = obj
        except TypeError:
            # Meant for a reset racing the insert; also swallows an
            # unhashable key, and the row is then in neither cache.
            pass

    @classmethod
    def populate_cache(cls, _db):
        cache = {}
        id_cache = {}
        for obj in _db.query(cls):
            cls._cache_insert(obj, cache, id_cache)
        cls._cache = cache
        cls._id_cache = id_cache

    @classmethod
    def _cache_lookup(cls, _db, cache, cache_name, cache_key, lookup_hook):
        new = False
        obj = None
        if cache == cls.RESET:
            cls.populate_cache(_db)
            cache = getattr(cls, cache_name)
        if cache != cls.RESET:
            try:
                obj = cache.get(cache_key)
            except TypeError:
                pass
        if not obj:  # a falsy object counts as a miss
            if lookup_hook:
                obj, new = lookup_hook()
            else:
                obj = None
            if not obj:
                return obj, new
            cls._cache_insert(obj, cls._cache, cls._id_cache)
        if obj and obj not in _db:
            try:
                obj = _db.merge(obj, load=False)
            except Exception as e:
                logging.error("Unable to merge cached object %r into database session", obj, exc_info=e)
                obj, new = lookup_hook()
                if obj and obj in _db:
                    logging.error("Was able to look up a fresh copy of %r", obj)
                    return obj, new
                logging.error("Unable to look up a fresh copy of %r", obj)
                raise
        return obj, new

    @classmethod
    def by_id(cls, _db, id):
        def lookup_hook():
            return get_one(_db, cls, id=id), False

        obj, is_new = cls._cache_lookup(_db, cls._id_cache, "_id_cache", id, lookup_hook)
        return obj

    @classmethod
    def by_cache_key(cls, _db, cache_key, lookup_hook):
        return cls._cache_lookup(_db, cls._cache, "_cache", cache_key, lookup_hook)
