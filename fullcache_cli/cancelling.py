"""Stopping what runs too long, or what the user interrupted.

A statement blocks the main thread inside the driver, where Python's own
Ctrl-C handling cannot reach it: the driver is asked to cancel it from
another thread (psycopg2's ``cancel()``, sqlite3's ``interrupt()``), and the
server stops it. Then:

- Ctrl-C (:func:`cancel_on_interrupt`): SIGINT wakes a watcher thread (through
  the signal wakeup file descriptor) that cancels the running statements;
  Python raises KeyboardInterrupt in the main thread as usual.
- A model's time limit (:func:`time_limit`): a timer cancels the running
  statement and raises :class:`ModelTimeout` in the main thread, which also
  stops a populate busy in Python between statements (streamed fetches).
- SQLite's statement timeout (:func:`sqlite_statement_timeout`): a progress
  handler, asked by SQLite every few thousand instructions, ends a statement
  that has run too long.
"""

from __future__ import annotations

import ctypes
import signal
import socket
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

from .errors import ModelTimeout

# SQLite instructions between two calls of the progress handler (a call costs
# about a microsecond; SQLite runs some tens of millions a second).
PROGRESS_INSTRUCTIONS = 10_000


def cancel_statement(dbapi_connection: Any) -> None:
    """Cancel what runs on the DB-API connection; safe from any thread, and
    harmless when nothing runs."""
    cancel = getattr(dbapi_connection, "cancel", None) or getattr(dbapi_connection, "interrupt", None)
    if cancel is None:
        return
    try:
        cancel()
    except Exception:
        pass  # the connection is closed or broken: nothing runs on it


def _raise_in(thread_id: int, exception: Optional[type]) -> None:
    """Raise ``exception`` in the thread at its next bytecode (None withdraws
    one not raised yet)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exception) if exception else None
    )


class Limit:
    """A time limit on a block of the main thread (see time_limit)."""

    def __init__(self, seconds: Optional[float], dbapi_connection: Any = None) -> None:
        self.seconds = seconds
        self.expired = False
        self._dbapi_connection = dbapi_connection
        self._target = threading.get_ident()
        self._lock = threading.Lock()
        self._done = False
        self._shielded = 0
        self._pending = False

    @contextmanager
    def shielded(self) -> Iterator[None]:
        """fullcache's own work inside the block: the limit waits for it to
        end (its statements are not cancelled, its state not left half-done)."""
        with self._lock:
            self._shielded += 1
        try:
            yield
        finally:
            with self._lock:
                self._shielded -= 1
                due = self._pending and not self._shielded
                self._pending = self._pending and not due
            if due:
                raise ModelTimeout()

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            if self._shielded:
                self._pending = True
                return
            _raise_in(self._target, ModelTimeout)
            cancel_statement(self._dbapi_connection)

    def _end(self) -> None:
        with self._lock:
            self._done = True
            self._pending = False
            if self.expired:
                _raise_in(self._target, None)  # not raised yet: withdrawn


@contextmanager
def time_limit(dbapi_connection: Any, seconds: Optional[float]) -> Iterator[Limit]:
    """Run the block for at most ``seconds``: then the statement running on
    the connection is cancelled and the block stops (``limit.expired``).
    Pure Python code is stopped at its next bytecode; only a call into C that
    never returns (other than the driver's) cannot be."""
    limit = Limit(seconds, dbapi_connection)
    if seconds is None:
        yield limit
        return
    stop = threading.Event()

    def expire() -> None:
        if not stop.wait(seconds):
            limit._expire()

    timer = threading.Thread(target=expire, name="fullcache model time limit", daemon=True)
    timer.start()
    try:
        yield limit
    except ModelTimeout:
        pass
    finally:
        stop.set()
        while True:
            try:
                limit._end()
                break
            except ModelTimeout:
                continue  # it arrived while the block was ending: it is spent now
        timer.join()


@contextmanager
def cancel_on_interrupt(cancel: Callable[[], None]) -> Iterator[None]:
    """While the block runs, Ctrl-C also calls ``cancel`` (from a thread of
    its own), so that a statement blocking the main thread stops and Python's
    KeyboardInterrupt is raised promptly. Only the main thread can watch
    signals; elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    try:
        previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    except ValueError:
        reader.close()
        writer.close()
        yield
        return

    def watch() -> None:
        while True:
            try:
                data = reader.recv(64)
            except OSError:
                return
            if not data:
                return
            if signal.SIGINT in data:
                cancel()

    watcher = threading.Thread(target=watch, name="fullcache interrupt", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous)
        writer.close()  # the watcher reads the end of the stream and stops
        watcher.join()
        reader.close()


class _StatementClock:
    """When the statement running on a SQLite connection must end."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = float("inf")
        self.fired = False

    def started(self) -> None:
        self.deadline = time.monotonic() + self.seconds
        self.fired = False

    def overdue(self) -> bool:
        if time.monotonic() > self.deadline:
            self.fired = True
        return self.fired


def sqlite_statement_timeout(engine: Any, seconds: float) -> None:
    """On each SQLite connection of ``engine``, end a statement that runs
    longer than ``seconds`` (counted from its start to its last row read:
    SQLite runs a query as its rows are read)."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, record):
        clock = _StatementClock(seconds)
        record.info["fullcache_clock"] = clock
        dbapi_connection.set_progress_handler(clock.overdue, PROGRESS_INSTRUCTIONS)

    @event.listens_for(engine, "before_cursor_execute")
    def _started(conn, cursor, statement, parameters, context, executemany):
        clock = conn.info.get("fullcache_clock")
        if clock is not None:
            clock.started()



def _say_why(context: Any) -> Any:
    """SQLite says "interrupted" alone: say what PostgreSQL says."""
    connection = context.connection
    clock = connection.info.get("fullcache_clock") if connection is not None else None
    if clock is None or not clock.fired or context.sqlalchemy_exception is None:
        return None
    import sqlite3

    from sqlalchemy import exc as sa_exc

    why = sqlite3.OperationalError(f"canceling statement due to statement timeout ({clock.seconds:g} s)")
    return sa_exc.OperationalError(context.statement, context.parameters, why)


def _keep_connection(context: Any) -> None:
    """A time limit stops the model's code, not the connection: SQLAlchemy
    would take an exception that is no Exception, raised inside a driver
    call, for a connection in an unknown state, and drop it."""
    if isinstance(context.original_exception, ModelTimeout):
        context.is_disconnect = False
        context.invalidate_pool_on_disconnect = False


def handle_errors(engine: Any) -> None:
    """Install the error handlers above on ``engine``'s dialect (once: an
    application's engine shares its dialect with fullcache's)."""
    from sqlalchemy import event

    for handler in (_say_why, _keep_connection):
        if not event.contains(engine.dialect, "handle_error", handler):
            event.listen(engine.dialect, "handle_error", handler)
