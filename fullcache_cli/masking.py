"""Secrets: the one module that keeps database passwords out of every output.

A URL is printed through :func:`display_url`; any text that may hold a
password (a driver's error message, say) passes through :func:`redact`; the
command line's streams mask every password it has heard of
(:func:`redactor`, :class:`RedactingWriter`). Standard library only at
import, so that the command line starts without SQLAlchemy.
"""

from __future__ import annotations

import functools
import os
import re
from typing import TYPE_CHECKING, Callable, Iterable, Optional, TextIO
from urllib.parse import quote, quote_plus, unquote

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

# A password this short is masked only where it stands as a password
# (``user:password@``): masking it everywhere would garble every message
# that happens to contain those letters.
SHORT_PASSWORD = 4

# Query parameters that hold a password (libpq reads ?password=...).
SECRET_PARAMETERS = ("password", "sslpassword")

# Where the command line finds a URL besides its options: their passwords
# are masked whichever URL was used.
URL_VARIABLES = ("FULLCACHE_DATABASE_URL", "DATABASE_URL")


def url_secrets(url: "URL") -> list[str]:
    """The URL's password, and any given as a query parameter."""
    found = [str(url.password)] if url.password else []
    for name in SECRET_PARAMETERS:
        value = url.query.get(name)
        found += [str(v) for v in (value if isinstance(value, tuple) else (value,)) if v]
    return found


def display_url(url: "URL") -> str:
    """The URL as it may be printed: every password masked."""
    hidden = {name: "***" for name in SECRET_PARAMETERS if url.query.get(name)}
    if not hidden:
        return url.render_as_string(hide_password=True)
    text = url.update_query_dict(hidden).render_as_string(hide_password=True)
    return text.replace("=%2A%2A%2A", "=***")


def redact(text: str, url: Optional["URL"]) -> str:
    """``text`` with the URL's passwords (plain and URL-quoted) masked."""
    if url is None:
        return text
    for secret in url_secrets(url):
        text = redact_password(text, secret)
    return text


def redact_password(text: str, password: str) -> str:
    """``text`` with ``password`` (plain and URL-quoted) masked."""
    for form in sorted({password, quote(password, safe=""), quote_plus(password)}, key=len, reverse=True):
        if not form:
            continue
        if len(form) >= SHORT_PASSWORD:
            text = text.replace(form, "***")
        else:
            text = text.replace(f":{form}@", ":***@")
    return text


@functools.lru_cache(maxsize=32)
def secrets_of(url: str) -> tuple:
    """The passwords in a URL given as text, parsed or not."""
    from sqlalchemy.engine import make_url

    try:
        return tuple(url_secrets(make_url(url)))
    except Exception:
        # A URL SQLAlchemy cannot parse may still hold user:password@.
        match = re.search(r"://[^:/@]*:([^@]*)@", url)
        return (unquote(match.group(1)),) if match and match.group(1) else ()


def redactor(urls: Callable[[], Iterable[str]]) -> Callable[[str], str]:
    """A function that masks the passwords of ``urls()`` and of the URLs in
    the environment. ``urls`` is called at each use, not now: a command makes
    its output before it learns the models module's URL."""

    def redact_text(text: str) -> str:
        known = list(urls()) + [os.environ[name] for name in URL_VARIABLES if os.environ.get(name)]
        for secret in (secret for url in known for secret in secrets_of(url)):
            text = redact_password(text, secret)
        return text

    return redact_text


class RedactingWriter:
    """A text stream that masks secrets in everything written to it."""

    def __init__(self, stream: TextIO, redact: Callable[[str], str]) -> None:
        self._stream = stream
        self._redact = redact

    def write(self, text: str) -> int:
        return self._stream.write(self._redact(text))

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return bool(getattr(self._stream, "isatty", lambda: False)())

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self._stream, "encoding", "utf-8") or "utf-8"
