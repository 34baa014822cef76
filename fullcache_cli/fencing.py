"""Keeping stdout for the report alone, and ending the process when the
models' code would keep it alive.

The models' code runs inside fullcache's process: it may write to file
descriptor 1 directly (``os.write(1, ...)``, ``sys.__stdout__``, a
subprocess, a C library), print from an ``atexit`` handler, or leave a
non-daemon thread running. The command line (not the library: an
application's own streams are its business) therefore points descriptor 1 at
stderr for the whole process and writes its report to a duplicate of the
original stdout, and at the end exits without waiting for threads it did not
start. Standard library only.
"""

from __future__ import annotations

import io
import os
import sys
import threading
from typing import Optional, TextIO


def fence_stdout() -> Optional[TextIO]:
    """Point file descriptor 1 (and ``sys.__stdout__`` with it) at stderr,
    and return a stream on the original stdout, also made ``sys.stdout``, for
    the report, help and usage. None, and nothing changed, when stdout or
    stderr has no file descriptor (stdout captured in memory, say)."""
    try:
        sys.stdout.flush()
        out, err = sys.stdout.fileno(), sys.stderr.fileno()
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        return None
    if out != 1:
        return None
    original = sys.stdout
    report = os.fdopen(
        os.dup(out),
        "w",
        buffering=1 if getattr(original, "line_buffering", False) else -1,
        encoding=getattr(original, "encoding", None) or "utf-8",
        errors=getattr(original, "errors", None) or "strict",
    )
    os.dup2(err, out)
    sys.stdout = report
    return report


def lingering_threads() -> list:
    """Non-daemon threads still running besides the current one: the
    interpreter would wait for each before it exits."""
    current = threading.current_thread()
    return [t for t in threading.enumerate() if t is not current and not t.daemon and t.is_alive()]


def finish(code: int) -> None:
    """End the command line's process with ``code``: what is printed after
    the report (an ``atexit`` handler's output) goes to stderr, and threads
    the models' code left running do not keep the process alive (it exits
    at once, saying so on stderr)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (ValueError, OSError):
            pass
    sys.stdout = sys.stderr
    left = lingering_threads()
    if left:
        names = ", ".join(repr(t.name) for t in left[:5]) + (f" and {len(left) - 5} more" if len(left) > 5 else "")
        print(
            f"fullcache: exiting without waiting for {len(left)} thread{'s' * (len(left) != 1)} "
            f"the models' code left running ({names})",
            file=sys.stderr,
            flush=True,
        )
        os._exit(code)
    sys.exit(code)
