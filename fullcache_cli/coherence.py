"""``fullcache_cli.coherence`` is :mod:`fullcache_cli.runtime.coherence`
(one module under two names: ``fullcache_cli.coherence.start(...)``)."""

import sys

from .runtime import coherence as _coherence

sys.modules[__name__] = _coherence
