"""fullcache_cli.verify: the caches of this process against their tables, on
SQLite and PostgreSQL, for fullcache's mixin (Fc*) and an application's own
copy of the seed's (Seed*). The tables are changed after the warm by another
connection, committed, with known answers."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, make_transient_to_detached

import fullcache_cli
from fullcache_cli.analysis import Comparison
from tests.apps import drifting, planted

PREFIXES = ["Seed", "Fc"]


def models_of(prefix):
    return [getattr(drifting, f"{prefix}Item"), getattr(drifting, f"{prefix}Holding")]


def warm_then_write(url, prefix, *statements):
    """Warm the prefix's models, then change their tables from another connection."""
    warmed = fullcache_cli.warm(url, models_of(prefix), lookup_samples=0)
    assert all(m.status == "ok" for m in warmed.models)
    drifting.write(url, prefix, statements)
    return fullcache_cli.verify(url, models_of(prefix))


def item(report, prefix):
    return next(m for m in report.models if m.model == f"{prefix}Item")


def holding(report, prefix):
    return next(m for m in report.models if m.model == f"{prefix}Holding")


@pytest.mark.parametrize("prefix", PREFIXES)
def test_no_drift_right_after_a_warm(drifting_url, prefix):
    fullcache_cli.warm(drifting_url, models_of(prefix), lookup_samples=0)
    report = fullcache_cli.verify(drifting_url, models_of(prefix))
    assert report.ok and report.drifted == []
    for model in report.models:
        assert not model.populated
        assert model.counts() == {"stale": 0, "missing": 0, "extra": 0, "key_drift": 0}
    assert (item(report, prefix).rows, item(report, prefix).cached_ids) == (4, 4)


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(
    "statement, stale, key_drift",
    [
        # A column outside the key: stale, and the key stays.
        ("UPDATE {items} SET label = 'new' WHERE id = 2", (2, {"label": ("label b", "new")}, False, "b", "b"), []),
        # The key's column: stale with its key moved, and the old key points to none.
        (
            "UPDATE {items} SET code = 'q' WHERE id = 3",
            (3, {"code": ("c", "q")}, True, "c", "q"),
            [{"key": "c", "cached_id": 3, "table_ids": []}],
        ),
    ],
    ids=["outside-the-key", "key-column"],
)
def test_a_changed_row_is_stale(drifting_url, prefix, statement, stale, key_drift):
    report = warm_then_write(drifting_url, prefix, statement)
    model = item(report, prefix)
    assert not report.ok and report.drifted == [model]
    [found] = model.stale
    assert (found.id, found.columns, found.key_moved, found.cached_key, found.table_key) == stale
    assert [k.to_json() for k in model.key_drift] == key_drift
    assert (model.missing, model.extra) == ([], [])
    assert model.counts() == {"stale": 1, "missing": 0, "extra": 0, "key_drift": len(key_drift)}


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(
    "statements, stale, extra, missing, key_drift",
    [
        # A key that moved to another row: "a" is cached for row 1, and row 2
        # has it now; nothing has "b" any more.
        (
            ["UPDATE {items} SET code = 'z' WHERE id = 1", "UPDATE {items} SET code = 'a' WHERE id = 2"],
            [(1, "a", "z", True), (2, "b", "a", True)],
            [],
            [],
            [{"key": "a", "cached_id": 1, "table_ids": [2]}, {"key": "b", "cached_id": 2, "table_ids": []}],
        ),
        # Deleted rows are extra, inserted rows missing.
        (
            [
                "DELETE FROM {items} WHERE id IN (1, 4)",
                "INSERT INTO {items} (id, code, label) VALUES (7, 'g', 'label g'), (5, 'e', 'label e')",
            ],
            [],
            [1, 4],
            [5, 7],
            [{"key": "a", "cached_id": 1, "table_ids": []}, {"key": "d", "cached_id": 4, "table_ids": []}],
        ),
    ],
    ids=["key-moved-to-another-row", "deleted-and-inserted"],
)
def test_rows_whose_keys_moved_went_or_came(drifting_url, prefix, statements, stale, extra, missing, key_drift):
    model = item(warm_then_write(drifting_url, prefix, *statements), prefix)
    assert [(s.id, s.cached_key, s.table_key, s.key_moved) for s in model.stale] == stale
    assert (model.extra, model.missing) == (extra, missing)
    assert [k.to_json() for k in model.key_drift] == key_drift
    assert (model.rows, model.cached_ids) == (4, 4)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_a_key_through_a_relationship_is_the_key_the_cache_files_the_row_under(drifting_url, prefix):
    """A book moved to another shelf: its key, (shelf code, title), moved
    with it, though only its foreign key changed; a shelf renamed moves the
    key of a book whose own row did not change (key drift, not stale)."""
    book = getattr(drifting, f"{prefix}Book")
    fullcache_cli.warm(drifting_url, [book], lookup_samples=0)
    drifting.write(drifting_url, prefix, [
        "UPDATE {books} SET shelf_id = 2 WHERE id = 1",
        "UPDATE drifting_shelves SET code = 'C' WHERE id = 2",
    ])

    [model] = fullcache_cli.verify(drifting_url, [book]).models

    [stale] = model.stale
    assert (stale.id, stale.columns) == (1, {"shelf_id": (1, 2)})
    assert (stale.cached_key, stale.table_key, stale.key_moved) == (("A", "t1"), ("C", "t1"), True)
    assert [(k.key, k.cached_id, k.table_ids) for k in model.key_drift] == [(("A", "t1"), 1, []), (("B", "t2"), 2, [])]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_composite_primary_key(drifting_url, prefix):
    report = warm_then_write(
        drifting_url, prefix,
        "UPDATE {holdings} SET shelf = 's9' WHERE library_id = 1 AND code = 'y'",
        "DELETE FROM {holdings} WHERE library_id = 2 AND code = 'x'",
        "INSERT INTO {holdings} (library_id, code, shelf) VALUES (2, 'y', 's3')",
    )
    model = holding(report, prefix)
    [stale] = model.stale
    assert (stale.id, stale.columns, stale.key_moved) == ((1, "y"), {"shelf": ("s2", "s9")}, True)
    assert model.extra == [(2, "x")]
    assert model.missing == [(2, "y")]
    # "s3" was (2, "x")'s and is (2, "y")'s now; "s2" is nobody's.
    assert [(k.key, k.cached_id, k.table_ids) for k in model.key_drift] == [
        ("s2", (1, "y"), []),
        ("s3", (2, "x"), [(2, "y")]),
    ]
    document = report.to_json()
    assert document["models"][1]["extra"] == [(2, "x")]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_verify_reads_inside_an_application_session(drifting_url, prefix):
    """verify(session) compares with what the application's transaction
    sees: a change it flushed is drift there, not through the URL (where it
    is not committed); the session's transaction, its flushed and pending
    objects are as they were."""
    fullcache_cli.warm(drifting_url, models_of(prefix), lookup_samples=0)
    model = models_of(prefix)[0]
    engine = create_engine(drifting_url)
    try:
        with Session(engine) as session:
            flushed = session.get(model, 2)
            flushed.label = "flushed by the application"
            session.flush()
            pending = model(id=9, code="p", label="pending in the application")
            session.add(pending)
            transaction, connection = session.get_transaction(), session.connection()

            report = fullcache_cli.verify(session, models_of(prefix))

            [stale] = item(report, prefix).stale
            assert (stale.id, stale.columns) == (2, {"label": ("label b", "flushed by the application")})
            assert item(report, prefix).missing == []  # the pending row was not flushed
            assert session.get_transaction() is transaction and transaction.is_active
            assert session.connection() is connection and connection.in_transaction()
            assert list(session.new) == [pending] and flushed.label == "flushed by the application"
            assert session.get(model, 2) is flushed
            session.rollback()
        assert fullcache_cli.verify(drifting_url, models_of(prefix)).ok
    finally:
        engine.dispose()


@pytest.mark.parametrize("prefix", PREFIXES)
def test_a_reset_model_is_populated_and_says_so(drifting_url, prefix):
    drifting.reset_all()
    report = fullcache_cli.verify(drifting_url, models_of(prefix))
    assert report.ok
    assert [m.populated for m in report.models] == [True, True]
    cls = models_of(prefix)[0]
    assert sorted(cls._id_cache) == [1, 2, 3, 4]  # the caches stay populated, as warm leaves them


@pytest.mark.parametrize("prefix", PREFIXES)
def test_verify_reads_the_caches_and_leaves_them_as_they_were(drifting_url, prefix):
    fullcache_cli.warm(drifting_url, models_of(prefix), lookup_samples=0)
    cls = models_of(prefix)[0]
    id_cache, key_cache = cls._id_cache, cls._cache
    objects = dict(id_cache)
    drifting.write(drifting_url, prefix, ["UPDATE {items} SET label = 'new', code = 'k' WHERE id = 1"])

    report = fullcache_cli.verify(drifting_url, [cls])

    assert item(report, prefix).stale[0].columns == {"code": ("a", "k"), "label": ("label a", "new")}
    assert cls._id_cache is id_cache and cls._cache is key_cache
    assert dict(id_cache) == objects
    assert (objects[1].code, objects[1].label) == ("a", "label a")
    assert key_cache["a"] is objects[1] and "k" not in key_cache


def test_a_populate_that_drops_rows_shows_them_missing_as_warm_reports_them(planted_url):
    """The seed's populate loses a row whose key is unhashable (SeedTag 2)
    and every row after a raising key (SeedShelf): those are missing, as
    many as warm found rows it did not cache."""
    url = planted_url
    names = ["SeedTag", "SeedShelf", "FcTag", "FcShelf"]
    warmed = {m.model: m for m in fullcache_cli.warm(url, planted, names, lookup_samples=0).models}
    report = fullcache_cli.verify(url, planted, names)
    verified = {m.model: m for m in report.models}

    for name in names:
        assert len(verified[name].missing) == warmed[name].rows - warmed[name].cached_ids
    assert verified["SeedTag"].missing == [e.id for e in warmed["SeedTag"].key_errors] == [2]
    # The seed's populate aborts on row 2's key: its caches stay reset, and
    # verify, populating them again, says so and that populate failed.
    assert verified["SeedShelf"].populated is True
    assert verified["SeedShelf"].populate_error == "ValueError: bad shelf code '!S2'"
    assert verified["SeedShelf"].missing == [1, 2, 3, 4, 5]
    assert not verified["FcTag"].drift and not verified["FcShelf"].drift
    assert report.drifted == [verified["SeedTag"], verified["SeedShelf"]]


def test_check_with_verify_makes_drift_a_problem(planted_url):
    url = planted_url
    report = fullcache_cli.check(url, planted, ["SeedTag", "FcFormat"], verify=True)
    drift = [p for p in report.problems() if p.kind == "drift"]
    assert [(p.model, p.ids) for p in drift] == [("SeedTag", [2])]
    assert "1 missing" in drift[0].error
    assert report.to_json()["verify"]["schema"] == "fullcache.verify/1"
    allowed = fullcache_cli.check(url, planted, ["SeedTag"], verify=True, allow=["drift", "key_error"])
    assert allowed.ok


# -- the comparison alone, without a database ----------------------------------


def test_comparison_of_a_key_cache_with_two_entries_for_one_row():
    """An entry left behind under an old key while the row is cached again
    under its new one (the seed's lookup hook inserts so): the counts show
    one entry unconfirmed, and the row read again names it."""
    cls = drifting.FcItem
    old, new, row = cls(id=1, code="a", label="x"), cls(id=1, code="n", label="x"), cls(id=1, code="n", label="x")
    for obj in (old, new, row):
        make_transient_to_detached(obj)  # as rows read from the table are
    comparison = Comparison(cls, {1: new}, {"a": old, "n": new})
    comparison.add(row)
    comparison.finish(lambda identities, objects: {(1,): row})
    assert comparison.stale == [] and comparison.missing == [] and comparison.extra == []
    assert [k.to_json() for k in comparison.key_drift] == [{"key": "a", "cached_id": 1, "table_ids": []}]


def test_warm_problems_are_not_drift_but_what_the_cache_holds_wrongly_is(planted_url):
    """Collisions, None keys and rows kept by id only are how the caches
    were built, not drift; a populate that dropped rows, and a cache_key()
    that changed its cached object (Setting 2: " padded " cached as
    "padded"), are what the application gets that the table does not say."""
    url = planted_url
    readable = [m.__name__ for m in planted.all_models() if not m.__name__.endswith("Missing")]
    fullcache_cli.warm(url, planted, readable, lookup_samples=0)
    report = fullcache_cli.verify(url, planted, readable)
    assert [m.model for m in report.drifted] == ["SeedTag", "SeedShelf", "SeedSetting", "FcSetting"]
    for name in ("SeedSetting", "FcSetting"):
        [stale] = next(m for m in report.models if m.model == name).stale
        assert (stale.id, stale.columns, stale.key_moved) == (2, {"value": ("padded", " padded ")}, False)
    assert all(not m.key_drift and not m.extra for m in report.models)


def test_comparison_starts_a_pass_again_when_another_thread_adds_to_a_cache():
    """An application thread may put a row into the caches (a lookup hook's
    find) while verify walks them: the pass starts again, and the result is
    that of the caches as they are then."""
    cls = drifting.FcItem
    kept, gone, added = cls(id=1, code="a", label="x"), cls(id=2, code="b", label="y"), cls(id=3, code="c", label="z")
    row = cls(id=1, code="a", label="x")
    for obj in (kept, gone, added, row):
        make_transient_to_detached(obj)
    id_cache, key_cache = {1: kept, 2: gone}, {"a": kept, "b": gone}
    comparison = Comparison(cls, id_cache, key_cache)
    comparison.batch_size = 1  # so that the pass is under way when the cache grows
    comparison.add(row)
    calls = []

    def present(identities, objects):
        calls.append(list(identities))
        if len(calls) == 1:
            id_cache[3] = added  # another thread, in the middle of the pass
        return {(1,): row}

    comparison.finish(present)
    assert comparison.extra == [2, 3]
    assert [(k.key, k.cached_id) for k in comparison.key_drift] == [("b", 2)]
    assert len(calls) >= 2
