"""Models whose code writes to stdout every way a process can, and keeps the
process alive: only for tests that run the console script in a process of
its own (tests/test_cli_stdout.py). Importing this module prints; warming
``Noisy`` registers an atexit handler, warming ``Lingers`` starts a thread
that never ends.

- ``Noisy``: populate_cache prints, writes to ``sys.__stdout__`` and to
  file descriptor 1, runs a subprocess that writes to its stdout, registers
  an ``atexit`` print, then warms. Its rows share one key, a tuple holding text with a lone surrogate,
  non-ASCII text, and an object whose ``__repr__`` prints
- ``BadRepr``: its rows share one key whose ``__repr__`` raises
- ``Lingers``: populate_cache starts a non-daemon thread that never ends
- ``Quiet``: a clean model
"""

import atexit
import os
import subprocess
import sys
import threading

from tests.apps import fill_named, named_models

print("noisy: printed at import")

NEVER = threading.Event()
Base = named_models("noisy")


class _PrintsWhenShown:
    def __hash__(self):
        return 1

    def __eq__(self, other):
        return isinstance(other, _PrintsWhenShown)

    def __repr__(self):
        print("noisy: printed by a key's repr")
        return "PrintsWhenShown()"


class _ReprRaises:
    def __hash__(self):
        return 2

    def __eq__(self, other):
        return isinstance(other, _ReprRaises)

    def __repr__(self):
        raise RuntimeError("no repr for you")


class Noisy(Base):
    def cache_key(self):
        return ("café \udcff", _PrintsWhenShown())

    @classmethod
    def populate_cache(cls, _db):
        print("noisy: print()")
        sys.__stdout__.write("noisy: sys.__stdout__\n")
        sys.__stdout__.flush()
        os.write(1, b"noisy: os.write(1)\n")
        subprocess.run([sys.executable, "-c", "print('noisy: a subprocess')"], check=True)
        atexit.register(print, "noisy: printed at exit")
        super().populate_cache(_db)


class BadRepr(Base):
    def cache_key(self):
        return _ReprRaises()


class Lingers(Base):
    @classmethod
    def populate_cache(cls, _db):
        threading.Thread(target=NEVER.wait, name="noisy forever", daemon=False).start()
        super().populate_cache(_db)


class Quiet(Base):
    """A clean model."""


MODELS = [Noisy, BadRepr, Lingers, Quiet]


def fill(engine):
    fill_named(engine, Base, MODELS, ids=(1, 2))
