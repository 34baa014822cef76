"""A circulation server's cached models, as real applications have them.

Not flat: nine cached models with relationships between them, written the
way such applications write them:

- one-to-many collections loaded with ``lazy="joined"`` (a library's
  settings, an integration's settings, an admin's roles);
- many-to-many through association tables (libraries and integrations,
  libraries and collections);
- a self-reference (a collection and its parent collection);
- ``cache_key()`` methods that go through relationships (a setting's key
  names its library by short name, which loads the library);
- the application's own copy of the original mixin for some models
  (``tests.apps.seed_cache``) and fullcache's for the others;
- a class that inherits the original mixin but declares no caches of its
  own, so it shares its parent class's (``ExternalIntegrationLink``);
- secrets in settings rows (a sitewide ``secret_key``, integrations'
  passwords) and in a column named like one (``Admin.password_hash``).

``fill(engine, scale=1)`` creates the tables and about 3,300 rows at scale 1
(deterministic), with the historical flaws such tables really had, each
with a known answer (``FLAWS``):

- two delivery mechanisms share a key with a NULL in it (``("text/html",
  None)``: ids 2 and 3, which also differ in ``default_client_can_fulfill``);
- two genres differ only in case, and the key folds case (ids 4 and 5);
- an admin whose email is NULL: its ``cache_key()`` raises.
"""

from __future__ import annotations

import random

from sqlalchemy import Column, ForeignKey, String, Table, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from fullcache_cli import HasFullTableCache
from tests.apps import SeedCaches, reset_caches, seed_cache

Seed = seed_cache.HasFullTableCache


class Base(DeclarativeBase):
    pass


def shows(*columns: str):
    """A ``__repr__`` naming the class and the given columns' values."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {' / '.join(str(getattr(self, column)) for column in columns)}>"

    return __repr__


class KeyedByName:
    """Keyed and shown by its name."""

    def cache_key(self):
        return self.name

    __repr__ = shows("name")


libraries_integrations = Table(
    "libraries_externalintegrations",
    Base.metadata,
    Column("library_id", ForeignKey("libraries.id"), primary_key=True),
    Column("externalintegration_id", ForeignKey("externalintegrations.id"), primary_key=True),
)

libraries_collections = Table(
    "libraries_collections",
    Base.metadata,
    Column("library_id", ForeignKey("libraries.id"), primary_key=True),
    Column("collection_id", ForeignKey("collections.id"), primary_key=True),
)


class DataSource(KeyedByName, SeedCaches, Base):
    __tablename__ = "datasources"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    offers_licenses: Mapped[bool] = mapped_column(default=False)


class Genre(HasFullTableCache, Base):
    __tablename__ = "genres"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    fiction: Mapped[bool | None]

    def cache_key(self):
        return self.name.lower()

    __repr__ = shows("name")


class DeliveryMechanism(SeedCaches, Base):
    __tablename__ = "deliverymechanisms"
    id: Mapped[int] = mapped_column(primary_key=True)
    default_client_can_fulfill: Mapped[bool] = mapped_column(default=False)
    content_type: Mapped[str] = mapped_column(String(255))
    drm_scheme: Mapped[str | None] = mapped_column(String(255))

    def cache_key(self):
        return (self.content_type, self.drm_scheme)

    __repr__ = shows("content_type", "drm_scheme")


class Library(HasFullTableCache, Base):
    __tablename__ = "libraries"
    id: Mapped[int] = mapped_column(primary_key=True)
    short_name: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    is_default: Mapped[bool] = mapped_column(default=False)
    settings: Mapped[list["ConfigurationSetting"]] = relationship(
        back_populates="library", lazy="joined", cascade="all, delete-orphan"
    )
    integrations: Mapped[list["ExternalIntegration"]] = relationship(
        secondary=libraries_integrations, back_populates="libraries", lazy="joined"
    )
    collections: Mapped[list["Collection"]] = relationship(
        secondary=libraries_collections, back_populates="libraries"
    )

    def cache_key(self):
        return self.short_name

    __repr__ = shows("short_name")


class ExternalIntegration(SeedCaches, Base):
    __tablename__ = "externalintegrations"
    id: Mapped[int] = mapped_column(primary_key=True)
    protocol: Mapped[str] = mapped_column(String(64))
    goal: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(255), unique=True)
    settings: Mapped[list["ConfigurationSetting"]] = relationship(
        back_populates="external_integration", lazy="joined", cascade="all, delete-orphan"
    )
    libraries: Mapped[list[Library]] = relationship(
        secondary=libraries_integrations, back_populates="integrations", lazy="joined"
    )

    def cache_key(self):
        return self.name

    __repr__ = shows("protocol", "goal", "name")


class ExternalIntegrationLink(Seed, Base):
    """Inherits the mixin and declares no caches: it shares its parent's
    (here the original mixin class, which has none), so the original protocol
    cannot work for it."""

    __tablename__ = "externalintegrationslinks"
    id: Mapped[int] = mapped_column(primary_key=True)
    external_integration_id: Mapped[int] = mapped_column(ForeignKey("externalintegrations.id"))
    other_integration_id: Mapped[int] = mapped_column(ForeignKey("externalintegrations.id"))
    purpose: Mapped[str] = mapped_column(String(64))

    def cache_key(self):
        return (self.external_integration_id, self.purpose)


class ConfigurationSetting(SeedCaches, Base):
    __tablename__ = "configurationsettings"
    __table_args__ = (UniqueConstraint("library_id", "external_integration_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255))
    value: Mapped[str | None] = mapped_column(String(4096))
    library_id: Mapped[int | None] = mapped_column(ForeignKey("libraries.id"), index=True)
    external_integration_id: Mapped[int | None] = mapped_column(ForeignKey("externalintegrations.id"), index=True)
    library: Mapped[Library | None] = relationship(back_populates="settings")
    external_integration: Mapped[ExternalIntegration | None] = relationship(back_populates="settings")

    def cache_key(self):
        # Through the relationships, as the application writes it: loads the
        # library and the integration of every setting.
        library = self.library.short_name if self.library is not None else None
        integration = self.external_integration.id if self.external_integration is not None else None
        return (library, integration, self.key)

    __repr__ = shows("key")


class Admin(HasFullTableCache, Base):
    __tablename__ = "admins"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    roles: Mapped[list["AdminRole"]] = relationship(back_populates="admin", lazy="joined")

    def cache_key(self):
        return self.email.lower()  # raises for an admin without an email

    __repr__ = shows("email")


class AdminRole(HasFullTableCache, Base):
    __tablename__ = "adminroles"
    id: Mapped[int] = mapped_column(primary_key=True)
    admin_id: Mapped[int] = mapped_column(ForeignKey("admins.id"), index=True)
    library_id: Mapped[int | None] = mapped_column(ForeignKey("libraries.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    admin: Mapped[Admin] = relationship(back_populates="roles")
    library: Mapped[Library | None] = relationship()

    def cache_key(self):
        return (self.admin_id, self.library_id, self.role)

    def __repr__(self) -> str:
        return f"<AdminRole {self.role} of {self.admin.email}>"


class Collection(KeyedByName, SeedCaches, Base):
    __tablename__ = "collections"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    external_integration_id: Mapped[int | None] = mapped_column(ForeignKey("externalintegrations.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("collections.id"))
    external_integration: Mapped[ExternalIntegration | None] = relationship(lazy="joined")
    parent: Mapped["Collection | None"] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list["Collection"]] = relationship(back_populates="parent")
    libraries: Mapped[list[Library]] = relationship(secondary=libraries_collections, back_populates="collections")


CACHED = [
    DataSource, Genre, DeliveryMechanism, Library, ExternalIntegration,
    ConfigurationSetting, Admin, AdminRole, Collection,
]

# The planted flaws, with their known answers.
FLAWS = {
    "DeliveryMechanism": {"collision": {"key": ("text/html", None), "ids": [2, 3]}},
    "Genre": {"collision": {"key": "science fiction", "ids": [4, 5]}},
    "Admin": {"key_error": {"ids": [7]}},
}

# The flaws of its design, each a problem of its own kind: a class without
# caches of its own, and hits slower than the database (the original mixin
# merges on every call, and the merge cascades through settings, libraries
# and integrations).
DESIGN_FLAWS = {
    "ExternalIntegrationLink": "shared_cache",
    "ConfigurationSetting": "slow_hit",
}

SECRET_VALUE = "sitewide-secret-7f3a9c"
INTEGRATION_PASSWORD = "integration-pw-51d2"

_PROTOCOLS = ["OPDS Import", "Overdrive", "Bibliotheca", "Axis 360", "Enki", "ODL", "Feedbooks", "Marc Export"]
_GOALS = ["licenses", "metadata", "search", "analytics", "patron_auth", "storage"]
_CONTENT = ["application/epub+zip", "application/pdf", "audio/mpeg", "application/audiobook+json",
            "application/kepub+zip", "Streaming Text", "Streaming Video", "Kindle via Amazon"]
_DRM = ["Adobe DRM", "application/vnd.readium.lcp.license.v1.0+json", "Overdrive DRM", "Kindle DRM",
        "http://librarysimplified.org/terms/drm/scheme/ACS", "Findaway DRM"]
_LIBRARY_KEYS = ["website", "help-email", "featured-lane-size", "minimum-featured-quality", "library-description",
                 "color-scheme", "max-outstanding-fines", "loan-limit", "hold-limit", "facets-enabled-order",
                 "large-collection-languages", "small-collection-languages", "tiny-collection-languages",
                 "patron-web-client", "logo", "web-header-links", "web-header-labels", "hidden-content-types"]
_INTEGRATION_KEYS = ["url", "username", "password", "library_id", "website_id", "ils_name", "default_loan_duration",
                     "default_reservation_period", "data_source", "external_account_id", "auth_mode", "timeout"]


def fill(engine, scale: int = 1) -> None:
    """Create the tables and their rows (about 3,300 at scale 1)."""
    Base.metadata.create_all(engine)
    rng = random.Random(20261128)
    rows: dict = {}
    rows["datasources"] = [dict(id=n, name=f"Source {n}", offers_licenses=n % 3 == 0) for n in range(1, 41)]
    rows["genres"] = [
        dict(id=1, name="Fantasy", fiction=True),
        dict(id=2, name="Mystery", fiction=True),
        dict(id=3, name="History", fiction=False),
        dict(id=4, name="Science Fiction", fiction=True),
        dict(id=5, name="Science fiction", fiction=True),
    ] + [dict(id=n, name=f"Genre {n}", fiction=n % 2 == 0) for n in range(6, 700 * scale)]
    mechanisms = [
        dict(id=1, content_type="application/epub+zip", drm_scheme=None, default_client_can_fulfill=True),
        dict(id=2, content_type="text/html", drm_scheme=None, default_client_can_fulfill=False),
        dict(id=3, content_type="text/html", drm_scheme=None, default_client_can_fulfill=True),
    ]
    next_id = 4
    for content in _CONTENT:
        for drm in _DRM:
            if content == "application/epub+zip" and drm is None:
                continue
            mechanisms.append(dict(id=next_id, content_type=content, drm_scheme=drm,
                                   default_client_can_fulfill=rng.random() < 0.5))
            next_id += 1
    rows["deliverymechanisms"] = mechanisms
    library_count = 40 * scale
    rows["libraries"] = [
        dict(id=n, name=f"Library {n}", short_name=f"LIB{n:03d}", is_default=n == 1) for n in range(1, library_count + 1)
    ]
    integration_count = 60 * scale
    rows["externalintegrations"] = [
        dict(id=n, protocol=_PROTOCOLS[n % len(_PROTOCOLS)], goal=_GOALS[n % len(_GOALS)], name=f"integration-{n}")
        for n in range(1, integration_count + 1)
    ]
    rows["externalintegrationslinks"] = [
        dict(id=n, external_integration_id=n, other_integration_id=n % integration_count + 1, purpose="covers")
        for n in range(1, 21)
    ]
    settings = [dict(id=1, library_id=None, external_integration_id=None, key="secret_key", value=SECRET_VALUE),
                dict(id=2, library_id=None, external_integration_id=None, key="base_url", value="https://cm.example")]
    setting_id = 3
    for library in range(1, library_count + 1):
        for key in _LIBRARY_KEYS:
            settings.append(dict(id=setting_id, library_id=library, external_integration_id=None, key=key,
                                 value=f"{key}-{library}"))
            setting_id += 1
    for integration in range(1, integration_count + 1):
        for key in _INTEGRATION_KEYS:
            value = INTEGRATION_PASSWORD if key == "password" else f"{key}-{integration}"
            settings.append(dict(id=setting_id, library_id=None, external_integration_id=integration, key=key,
                                 value=value))
            setting_id += 1
    # A library's use of an integration: settings with both.
    links = []
    for library in range(1, library_count + 1):
        for integration in rng.sample(range(1, integration_count + 1), 5):
            links.append(dict(library_id=library, externalintegration_id=integration))
            settings.append(dict(id=setting_id, library_id=library, external_integration_id=integration,
                                 key="ils_name", value=f"ils-{library}-{integration}"))
            setting_id += 1
    rows["libraries_externalintegrations"] = links
    rows["configurationsettings"] = settings
    admins = [dict(id=n, email=f"admin{n}@example.org", password_hash=f"$2b$12$hash{n:04d}") for n in range(1, 61)]
    admins[6]["email"] = None  # id 7
    rows["admins"] = admins
    roles = []
    role_id = 1
    for admin in range(1, 61):
        for library in rng.sample(range(1, library_count + 1), 5):
            roles.append(dict(id=role_id, admin_id=admin, library_id=library, role="librarian"))
            role_id += 1
    rows["adminroles"] = roles
    collections = []
    for n in range(1, 80 * scale + 1):
        parent = None if n <= 20 else rng.randint(1, 20)
        collections.append(dict(id=n, name=f"Collection {n}", external_integration_id=(n % integration_count) + 1,
                                parent_id=parent))
    rows["collections"] = collections
    rows["libraries_collections"] = [
        dict(library_id=library, collection_id=collection)
        for library in range(1, library_count + 1)
        for collection in rng.sample(range(1, 80 * scale + 1), 4)
    ]
    order = ["datasources", "genres", "deliverymechanisms", "libraries", "externalintegrations",
             "externalintegrationslinks", "configurationsettings", "libraries_externalintegrations", "admins",
             "adminroles", "collections", "libraries_collections"]
    with Session(engine) as session:
        for name in order:
            session.execute(Base.metadata.tables[name].insert(), rows[name])
        session.commit()


def reset_all() -> None:
    """Every model's caches cleared."""
    reset_caches(CACHED)


def warm_as_the_application_does(session: Session) -> None:
    """Every cached model's own populate, in one session, as the application
    does at start-up (the baseline of the real-application benchmark)."""
    for model in CACHED:
        model.populate_cache(session)
