"""Sample models for fullcache: the small, hot tables of a library circulation
server, each cached whole with fullcache's HasFullTableCache.

Run ``fullcache warm`` with no options and these are the models it warms. The
database is an SQLite file in the user's cache folder (``FULLCACHE_SAMPLE_DB``
names another path), made and filled with deterministic sample data the first
time ``DATABASE_URL`` is read. ``create_sample(engine)`` fills any other
database (the tests use it for PostgreSQL).
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

from sqlalchemy import ForeignKey, String, UniqueConstraint, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from fullcache_cli import HasFullTableCache

SAMPLE_VERSION = 1


class Base(DeclarativeBase):
    pass


class DataSource(HasFullTableCache, Base):
    """Where a book's metadata or licenses came from."""

    __tablename__ = "datasources"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    offers_licenses: Mapped[bool] = mapped_column(default=False)
    primary_identifier_type: Mapped[str | None] = mapped_column(String(64))

    def cache_key(self):
        return self.name

    def __repr__(self) -> str:
        return f"<DataSource {self.name}>"


class Genre(HasFullTableCache, Base):
    __tablename__ = "genres"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    fiction: Mapped[bool | None]

    def cache_key(self):
        return self.name

    def __repr__(self) -> str:
        return f"<Genre {self.name}>"


class DeliveryMechanism(HasFullTableCache, Base):
    """A content type and the DRM that protects it."""

    __tablename__ = "deliverymechanisms"
    __table_args__ = (UniqueConstraint("content_type", "drm_scheme"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    content_type: Mapped[str] = mapped_column(String(255))
    drm_scheme: Mapped[str | None] = mapped_column(String(255))
    default_client_can_fulfill: Mapped[bool] = mapped_column(default=False)

    def cache_key(self):
        return (self.content_type, self.drm_scheme)

    def __repr__(self) -> str:
        return f"<DeliveryMechanism {self.content_type} / {self.drm_scheme}>"


class Library(HasFullTableCache, Base):
    __tablename__ = "libraries"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    short_name: Mapped[str] = mapped_column(String(64), unique=True)
    is_default: Mapped[bool] = mapped_column(default=False)

    def cache_key(self):
        return self.short_name

    def __repr__(self) -> str:
        return f"<Library {self.short_name}>"


class ExternalIntegration(Base):
    """Not cached: shows that models without the protocol are left out."""

    __tablename__ = "externalintegrations"
    id: Mapped[int] = mapped_column(primary_key=True)
    protocol: Mapped[str] = mapped_column(String(64))
    goal: Mapped[str] = mapped_column(String(64))


class ConfigurationSetting(HasFullTableCache, Base):
    """A setting of the site (no library), a library, an integration, or a
    library's use of an integration."""

    __tablename__ = "configurationsettings"
    __table_args__ = (UniqueConstraint("library_id", "external_integration_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    library_id: Mapped[int | None] = mapped_column(ForeignKey("libraries.id"), index=True)
    external_integration_id: Mapped[int | None] = mapped_column(
        ForeignKey("externalintegrations.id"), index=True
    )
    key: Mapped[str] = mapped_column(String(255))
    value: Mapped[str | None] = mapped_column(String(4096))

    def cache_key(self):
        return (self.library_id, self.external_integration_id, self.key)

    def __repr__(self) -> str:
        return f"<ConfigurationSetting {self.key}>"


_CONTENT_TYPES = [
    "application/epub+zip",
    "application/pdf",
    "application/kepub+zip",
    "application/x-mobipocket-ebook",
    "application/audiobook+json",
    "audio/mpeg",
    "text/html",
    "application/vnd.librarysimplified.findaway.license+json",
    "application/vnd.overdrive.circulation.api+json",
    "Kindle via Amazon",
    "Streaming Text",
    "Streaming Video",
]
_DRM_SCHEMES = [
    None,
    "Adobe DRM",
    "application/vnd.readium.lcp.license.v1.0+json",
    "http://librarysimplified.org/terms/drm/scheme/ACS",
    "Overdrive DRM",
    "Kindle DRM",
    "Streaming",
    "Bearer Token",
]
_SOURCES = [
    "Gutenberg", "Overdrive", "Bibliotheca", "Axis 360", "OCLC Classify", "OCLC Linked Data",
    "Amazon", "Open Library", "NYT", "NoveList Select", "Library Staff", "Manual intervention",
    "Project Gutenberg", "Standard Ebooks", "Unglue.it", "Plympton", "Elib", "Enki", "Feedbooks",
    "Biblioboard", "Proquest", "Bibblio", "Content Cafe", "Internal Processing", "Library Simplified",
    "Metadata Wrangler", "Lists", "VIAF", "Adobe", "Findaway", "Odilo", "RBdigital", "Cantook",
]
_GENRE_ROOTS = [
    "Adventure", "Biography", "Business", "Classics", "Computers", "Cooking", "Crafts", "Drama",
    "Economics", "Education", "Fantasy", "Folklore", "Health", "History", "Horror", "Humor",
    "Law", "Literary Criticism", "Mathematics", "Medical", "Music", "Mystery", "Nature",
    "Parenting", "Philosophy", "Poetry", "Politics", "Psychology", "Reference", "Religion",
    "Romance", "Science", "Science Fiction", "Self-Help", "Sports", "Suspense", "Travel", "Westerns",
]
_GENRE_LEAVES = ["", "Contemporary", "Historical", "Short Stories", "Young Adult", "Anthologies"]
_SETTING_KEYS = [
    "website", "help-email", "color-scheme", "featured_lane_size", "minimum_featured_quality",
    "facets_enabled_order", "facets_default_order", "loan_limit", "hold_limit", "max_outstanding_fines",
    "library_description", "tiny_collection_languages", "large_collections", "patron_id_regex",
    "identifier_barcode_format", "enabled_entry_points", "ebook_loan_duration",
    "audio_loan_duration", "default_notification_delay", "terms-of-service",
]
_PROTOCOLS = [
    ("Overdrive", "licenses"), ("Bibliotheca", "licenses"), ("Axis 360", "licenses"),
    ("SIP2", "patron_auth"), ("Millenium", "patron_auth"), ("OPDS Import", "licenses"),
    ("NoveList Select", "metadata"), ("NYT", "metadata"), ("Google Analytics", "analytics"),
    ("S3", "storage"), ("Elasticsearch", "search"), ("CDN", "cdn"),
]


def create_sample(bind, libraries: int = 40, seed: int = 2016) -> None:
    """Create the sample tables on ``bind`` (an Engine or Connection) and fill
    them with deterministic data: tens to a few thousand rows per table."""
    rng = random.Random(seed)
    Base.metadata.create_all(bind)
    with Session(bind) as session:
        session.add_all(
            DataSource(
                name=name,
                offers_licenses=rng.random() < 0.4,
                primary_identifier_type=rng.choice([None, "ISBN", "URI", "Overdrive ID"]),
            )
            for name in _SOURCES
        )
        session.add_all(
            Genre(name=f"{root} {leaf}".strip(), fiction=rng.choice([True, False, None]))
            for root in _GENRE_ROOTS
            for leaf in _GENRE_LEAVES
        )
        session.add_all(
            DeliveryMechanism(
                content_type=content_type,
                drm_scheme=drm,
                default_client_can_fulfill=rng.random() < 0.5,
            )
            for content_type in _CONTENT_TYPES
            for drm in _DRM_SCHEMES
            if rng.random() < 0.6 or drm is None
        )
        library_rows = [
            Library(name=f"Library {n:03d}", short_name=f"LIB{n:03d}", is_default=n == 1)
            for n in range(1, libraries + 1)
        ]
        session.add_all(library_rows)
        integrations = [
            ExternalIntegration(protocol=protocol, goal=goal) for protocol, goal in _PROTOCOLS
        ]
        session.add_all(integrations)
        session.flush()
        settings = []
        owners = [(None, None)]
        owners += [(lib.id, None) for lib in library_rows]
        owners += [(None, integ.id) for integ in integrations]
        owners += [
            (lib.id, integ.id)
            for lib in library_rows
            for integ in integrations
            if rng.random() < 0.3
        ]
        for library_id, integration_id in owners:
            for key in rng.sample(_SETTING_KEYS, rng.randint(5, 14)):
                settings.append(
                    ConfigurationSetting(
                        library_id=library_id,
                        external_integration_id=integration_id,
                        key=key,
                        value=str(rng.randint(0, 10_000)),
                    )
                )
        session.add_all(settings)
        session.commit()


def _sample_path() -> Path:
    named = os.environ.get("FULLCACHE_SAMPLE_DB")
    if named:
        return Path(named)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = Path(base) / "fullcache"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        folder = Path(tempfile.gettempdir())
    return folder / f"sample-{SAMPLE_VERSION}.sqlite3"


def sample_database_url() -> str:
    """The URL of the sample database, made and filled on first use."""
    path = _sample_path()
    if not path.exists():
        # Build beside it, then rename: two first uses at once never see a
        # half-filled file.
        fd, partial = tempfile.mkstemp(prefix=path.name, suffix=".partial", dir=path.parent)
        os.close(fd)
        engine = create_engine(f"sqlite:///{partial}")
        try:
            create_sample(engine)
        finally:
            engine.dispose()
        os.replace(partial, path)
    return f"sqlite:///{path}"


def __getattr__(name: str):
    # DATABASE_URL is computed when asked for, so importing the module (or
    # pointing fullcache at another database) never creates the file.
    if name == "DATABASE_URL":
        return sample_database_url()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
