"""The cyclic garbage collector, paused while a whole table loads.

Loading a table creates objects by the hundred thousand and keeps them all:
the collector, triggered by allocations, walks the growing set of survivors
again and again and finds nothing to free. Measured on 200,000 rows, that
walking was most of the difference between a warm and a plain loop over the
rows, and it made the time per row grow with the table. Reference counting
goes on freeing what it frees; only cycles wait until the load is done.

Pauses nest and may overlap across threads: the collector is enabled again
when the last one ends, and only if it was enabled when the first began.
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from typing import Iterator

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector for the block (nests, thread-safe)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
