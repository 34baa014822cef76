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
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional, TextIO
from urllib.parse import quote, quote_plus, unquote

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

# Query and DSN parameters that hold a password (libpq reads ?password=...).
SECRET_PARAMETERS = ("password", "sslpassword")

# Where the command line finds a URL besides its options: their passwords
# are masked whichever URL was used.
URL_VARIABLES = ("FULLCACHE_DATABASE_URL", "DATABASE_URL")

MASK = "***"

# scheme://user:PASSWORD@host: the password runs to the last "@" of the
# text's word (a host never holds one; a password written out plainly may).
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@?#]*:)(?P<password>\S*?)@(?=[^\s@]*(?:\s|$))"
)
# password=VALUE in a query string or a libpq DSN, quoted or not.
_PARAMETER = re.compile(
    r"(?P<head>\b(?:%s)\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*'|\"[^\"]*\"|[^\s&;,'\")\]}]+)" % "|".join(SECRET_PARAMETERS),
    re.IGNORECASE,
)


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
    """``text`` with every password masked where it stands (see
    :func:`mask_secrets`), this URL's included."""
    return mask_secrets(text, url_secrets(url) if url is not None else ())


def mask_secrets(text: str, passwords: Iterable[str] = ()) -> str:
    """``text`` with passwords masked where they stand, and nowhere else:
    after ``scheme://user:`` (any URL's, plain or URL-quoted) and as the
    value of a ``password=`` parameter. ``passwords`` (known ones) are
    masked in those places whatever characters they hold; a word of the
    text that merely equals a password is left alone."""
    if not text:
        return text
    for password in passwords:
        for form in sorted({password, quote(password, safe=""), quote_plus(password)}, key=len, reverse=True):
            if form and form in text:
                text = text.replace(f":{form}@", f":{MASK}@")
                text = re.sub(
                    r"(\b(?:%s)\s*=\s*)(['\"]?)%s\2" % ("|".join(SECRET_PARAMETERS), re.escape(form)),
                    lambda m: f"{m.group(1)}{m.group(2)}{MASK}{m.group(2)}",
                    text,
                    flags=re.IGNORECASE,
                )
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}{MASK}@" if m.group("password") else m.group(0), text)
    if "=" in text:
        text = _PARAMETER.sub(
            lambda m: m.group(0) if m.group("value").startswith(MASK) else f"{m.group('head')}{MASK}", text
        )
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
    """A function that masks passwords where they stand (see
    :func:`mask_secrets`), those of ``urls()`` and of the URLs in the
    environment whatever characters they hold. ``urls`` is called at each
    use, not now: a command makes its output before it learns the models
    module's URL."""

    def redact_text(text: str) -> str:
        known = list(urls()) + [os.environ[name] for name in URL_VARIABLES if os.environ.get(name)]
        return mask_secrets(text, [secret for url in known for secret in secrets_of(url)])

    return redact_text


def mask_data(value: Any, redact: Callable[[str], str]) -> Any:
    """A JSON-shaped value (dicts, lists, text) with ``redact`` applied to
    every string in it, before it is serialised: masking the serialised
    text would miss a password that JSON or XML escaping changed."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {mask_data(k, redact): mask_data(v, redact) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_data(v, redact) for v in value]
    return value


class RedactingWriter:
    """A text stream that masks secrets in everything written to it, and
    never fails on a character its encoding cannot take (written as an
    escape instead: a report is never lost to ``PYTHONIOENCODING=ascii``
    or a lone surrogate)."""

    def __init__(self, stream: TextIO, redact: Callable[[str], str]) -> None:
        self._stream = stream
        self._redact = redact

    def write(self, text: str) -> int:
        return self.write_exact(self._redact(text))

    def write_exact(self, text: str) -> int:
        """Write ``text`` as it is (already masked, a JSON document say)."""
        try:
            return self._stream.write(text)
        except UnicodeEncodeError:
            encoding = self.encoding
            return self._stream.write(text.encode(encoding, "backslashreplace").decode(encoding))

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return bool(getattr(self._stream, "isatty", lambda: False)())

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self._stream, "encoding", "utf-8") or "utf-8"
