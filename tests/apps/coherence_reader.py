"""A reader process for the coherence tests, driven by JSON lines on stdin:
it keeps tests.apps.coherent's models coherent with ``fullcache_cli.coherence``
and answers each request with one JSON line on stdout.

    python -m tests.apps.coherence_reader URL [START-OPTIONS-AS-JSON]
"""

import json
import os
import sys
import time

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from fullcache_cli import coherence
from tests.apps import coherent

MODELS = {"Genre": coherent.Genre, "SeedGenre": coherent.SeedGenre}


class Reader:
    def __init__(self, url, options):
        self.engine = create_engine(url, pool_pre_ping=True)  # as an application that outlives a restart
        self.handle = coherence.start(self.engine, [coherent.Genre, coherent.SeedGenre], **options)
        self.old = None

    def name(self, model, id, session=None):
        cls = MODELS[model]
        own = session is None
        session = session or Session(self.engine)
        try:
            obj = cls.by_id(session, id)
            return None if obj is None else obj.name
        finally:
            if own:
                session.close()

    def populates(self, model):
        cls = MODELS[model]
        return cls.cache_stats().populates if hasattr(cls, "cache_stats") else None

    def op_lookup(self, model="Genre", id=1):
        return {"name": self.name(model, id), "populates": self.populates(model)}

    def op_cached(self, model="Genre"):
        cls = MODELS[model]
        return {"cached": cls._id_cache is not cls.RESET}

    def op_until(self, model="Genre", id=1, name=None, timeout=10.0):
        """Look up until the row reads ``name``: a bounded wait, not a timing."""
        deadline = time.monotonic() + timeout
        lookups = 0
        while True:
            seen = self.name(model, id)
            lookups += 1
            if seen == name:
                return {"ok": True, "lookups": lookups, "populates": self.populates(model)}
            if time.monotonic() > deadline:
                return {"ok": False, "seen": seen, "status": self.handle.status()}
            time.sleep(0.002)

    def op_until_cached(self, model="Genre", id=1, name=None, timeout=10.0):
        """Wait until the cache holds the row as ``name`` without looking it
        up (an eager reload filled it)."""
        cls = MODELS[model]
        deadline = time.monotonic() + timeout
        while True:
            cache = cls._id_cache
            if cache is not cls.RESET and cache.get(id) is not None and cache[id].name == name:
                return {"ok": True, "reloads": self.handle.status().get("reloads")}
            if time.monotonic() > deadline:
                return {"ok": False, "status": self.handle.status()}
            time.sleep(0.005)

    def op_ready(self, timeout=10.0):
        return {"ready": self.handle.wait_ready(timeout), "status": self.handle.status()}

    def op_status(self):
        return self.handle.status()

    def op_until_status(self, key, value, timeout=10.0):
        deadline = time.monotonic() + timeout
        while self.handle.status()[key] != value:
            if time.monotonic() > deadline:
                return {"ok": False, "status": self.handle.status()}
            time.sleep(0.01)
        return {"ok": True, "status": self.handle.status()}

    def op_until_error(self, text, timeout=10.0):
        deadline = time.monotonic() + timeout
        while text not in (self.handle.status()["last_error"] or ""):
            if time.monotonic() > deadline:
                return {"ok": False, "status": self.handle.status()}
            time.sleep(0.01)
        return {"ok": True, "status": self.handle.status()}

    def op_old_reader_begin(self, id=1):
        """A session in REPEATABLE READ whose snapshot is taken now."""
        self.old = Session(self.engine.execution_options(isolation_level="REPEATABLE READ"))
        self.old.execute(text("SELECT 1 FROM coh_genres LIMIT 1")).all()
        return {"name": self.name("Genre", id, self.old)}

    def op_old_reader_lookup(self, id=1):
        return {"name": self.name("Genre", id, self.old)}

    def op_deafen(self):
        """From now on the listener loses every notification, as a LISTEN
        that died silently would: only the heartbeat can notice changes."""
        self.handle.follower._drain = lambda connection: connection.notifies.clear()
        return {}

    def op_fork(self, path, id=1, name=None, timeout=10.0):
        pid = os.fork()
        if pid:
            return {"child": pid}
        try:
            with open(path, "a") as out:
                cached_at_fork = coherent.Genre._id_cache is not coherent.Genre.RESET
                (self.handle,) = coherence.running()  # the child's own
                ready = self.handle.wait_ready(timeout)
                cached = coherent.Genre._id_cache is not coherent.Genre.RESET
                out.write(json.dumps({"ready": ready, "status": self.handle.status(),
                                      "cached_at_fork": cached_at_fork, "cached_after_ready": cached}) + "\n")
                out.flush()
                out.write(json.dumps(self.op_until("Genre", id, name, timeout)) + "\n")
        finally:
            os._exit(0)

    def op_stop(self):
        started = time.monotonic()
        stopped = self.handle.stop()
        return {"stopped": stopped, "seconds": time.monotonic() - started}

    def op_exit(self):
        sys.stdout.flush()
        sys.exit(0)  # without stop(): the interpreter's exit must not hang


def main():
    url = sys.argv[1]
    options = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    reader = Reader(url, options)
    print(json.dumps({"pid": os.getpid()}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        op = request.pop("op")
        try:
            reply = getattr(reader, f"op_{op}")(**request)
        except Exception as error:
            reply = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps(reply, default=str), flush=True)


if __name__ == "__main__":
    main()
