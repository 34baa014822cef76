"""Secrets: the one module that keeps passwords and secret values out of
every output.

A URL is printed through :func:`display_url`; any text that may hold a
password (a driver's error message, say) passes through :func:`redact`; the
command line's streams mask every password it has heard of
(:func:`redactor`, :class:`RedactingWriter`). Values read from the user's
tables are masked by :func:`mask_row` where their name says they are
secrets (:func:`names_secret`). Standard library only at import, so that
the command line starts without SQLAlchemy.
"""

from __future__ import annotations

import functools
import os
import re
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Optional, TextIO
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


# -- secret values in the user's rows ----------------------------------------

MASK = "***"

# The words that make a name a secret's, after Django's sensitive-settings
# filter (API keys, secrets, tokens, passwords, signatures, credentials),
# with their plurals and common spellings.
SECRET_WORDS = frozenset({
    "key", "secret", "token", "password", "passwd", "passphrase", "pass", "pwd", "signature", "credential",
})

# Key/value settings tables: the column that names a setting and the column
# that holds its value.
SETTING_NAME_COLUMNS = ("key", "name")
SETTING_VALUE_COLUMN = "value"


def _words(name: str) -> list[str]:
    """A name's words: split at anything not a letter or digit, and where
    camelCase changes case (``apiKey``, ``SECRET_KEY``, ``help-email``)."""
    return [word.lower() for word in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)]


def names_secret(name: Any) -> bool:
    """Whether a column or setting name says its value is a secret: one of
    its words (see :func:`_words`) is a secret word or its plural. Whole
    words only: ``secret_key``, ``password_hash``, ``apiKey`` and ``key``
    are secrets' names; ``website``, ``featured-lane-size``, ``keyboard``
    and ``passenger`` are not."""
    if not isinstance(name, str):
        return False
    return any(word in SECRET_WORDS or (word.endswith("s") and word[:-1] in SECRET_WORDS) for word in _words(name))


def secret_columns(values: Dict[str, Any]) -> set[str]:
    """The columns of a row (its values by column name) whose values are
    secrets: columns whose name names one, and in a key/value settings row
    (a ``value`` column beside a ``key`` or ``name`` column) the value when
    its setting's name names one. The column naming the setting is never a
    secret for its own name (every setting's name would be masked)."""
    setting = next((column for column in SETTING_NAME_COLUMNS if column in values), None)
    if setting is None or SETTING_VALUE_COLUMN not in values:
        return {column for column in values if names_secret(column)}
    found = {column for column in values if column not in (setting, SETTING_VALUE_COLUMN) and names_secret(column)}
    if names_secret(values[setting]):
        found.add(SETTING_VALUE_COLUMN)
    return found


def mask_row(values: Dict[str, Any], show: bool = False) -> Dict[str, Any]:
    """A row's values with its secrets (:func:`secret_columns`) masked,
    unless ``show``. None stays None: an unset secret hides nothing."""
    secret = set() if show else secret_columns(values)
    return {column: MASK if column in secret and value is not None else value for column, value in values.items()}
