"""warm on a real application's cached models (tests.apps.circulation):
relationships, joined eager collections, association tables, both mixins.
The planted flaws with their exact answers, merge failures hidden in related
objects, the phases of each model's warm, the merge check's budget, the SQL
each populate issues, the columns colliding rows differ in, copies of other
models' rows, and memory against tracemalloc; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

import fullcache_cli
from fullcache_cli.memory import cache_memory, count_copies
from tests.apps import circulation
from tests.helpers import by_model, retained_by_populate, run, run_json

APP = "tests.apps.circulation"
PHASES = ["count", "populate", "merge check", "keys", "memory", "session close", "lookups"]
DIRTY = "merge() with load=False option does not support objects marked as 'dirty'"


@pytest.fixture
def circulation_url(database_url):
    engine = create_engine(database_url)
    try:
        circulation.fill(engine)
    finally:
        engine.dispose()
    circulation.reset_all()
    yield database_url
    circulation.reset_all()


def test_warm_finds_the_planted_flaws_exactly_and_reports_phases_statements_and_copies(circulation_url):
    code, document = run_json("warm", "--models", APP, "--database-url", circulation_url)
    assert code == 0
    models = by_model(document)
    names = [cls.__name__ for cls in circulation.CACHED]
    assert [name for name in models if name in names] == names
    models = {name: models[name] for name in names}

    # The planted flaws, exactly, with the columns the colliding rows differ in.
    fulfill = {2: False, 3: True}
    (mechanisms,) = models["DeliveryMechanism"]["collisions"]
    assert mechanisms["key"] == ["text/html", None] and mechanisms["ids"] == [2, 3]
    kept = mechanisms["kept_id"]
    (other,) = {2, 3} - {kept}
    assert mechanisms["differs"] == {"default_client_can_fulfill": [fulfill[kept], fulfill[other]]}
    assert models["Genre"]["collisions"] == [
        {"key": "science fiction", "ids": [4, 5], "kept_id": 4,
         "differs": {"name": ["Science Fiction", "Science fiction"]}}
    ]
    (error,) = models["Admin"]["key_errors"]
    assert error["id"] == 7 and "AttributeError" in error["error"]
    for name, model in models.items():
        assert model["status"] == "ok"
        assert model["merge_failures"] == [], name
        if name not in circulation.FLAWS:
            assert not (model["collisions"] or model["key_errors"] or model["none_keys"]), name

    # Every phase, timed back to back: they add up to the model's total.
    for name, model in models.items():
        assert list(model["phases"]) == PHASES, name
        assert sum(model["phases"].values()) == pytest.approx(model["total_seconds"], rel=1e-9, abs=1e-9)
        assert model["warm_seconds"] <= model["phases"]["populate"]
        check = model["merge_check"]
        assert check["checked"] == check["rows"] == model["cached_ids"] and not check["cut_short"]
        assert model["cut_short"] == []

    # The SQL each populate issues, as counted by a listener of the test's own
    # on the application's own populate in a fresh session.
    for cls in (circulation.DataSource, circulation.Admin, circulation.ConfigurationSetting):
        assert models[cls.__name__]["statements"]["populate"] == _statements_of_populate(circulation_url, cls)
    assert models["DataSource"]["statements"]["populate"] == 1
    assert models["ConfigurationSetting"]["statements"]["populate"] > 1  # cache_key() lazy-loads

    # Library objects hold their own ConfigurationSetting objects, not the
    # ones in ConfigurationSetting's cache: fullcache warms each model in a
    # session of its own, as an application's first lookups do.
    held = models["Library"]["related_cached"]["ConfigurationSetting"]
    assert held["objects"] == held["copies"] > 0 and held["bytes"] > 0
    assert models["Library"]["shared_bytes"] == sum(r["bytes"] for r in models["Library"]["related_cached"].values())
    assert models["Genre"]["related_cached"] == {} and models["Genre"]["shared_bytes"] == 0


def _statements_of_populate(url: str, cls: type) -> int:
    engine = create_engine(url, poolclass=NullPool)
    count = 0

    def counted(*args):
        nonlocal count
        count += 1

    try:
        with Session(engine) as session:
            session.connection()  # the transaction begun before counting
            event.listen(engine, "before_cursor_execute", counted)
            cls.populate_cache(session)
            event.remove(engine, "before_cursor_execute", counted)
    finally:
        cls.reset_cache()
        engine.dispose()
    return count


def test_copies_are_not_counted_when_the_application_shares_one_session(circulation_url):
    engine = create_engine(circulation_url)
    try:
        with Session(engine) as session:
            circulation.warm_as_the_application_does(session)
            library = circulation.Library
            memory = cache_memory(library._id_cache, library._cache, owner=library)
            settings = memory.related_states[circulation.ConfigurationSetting]
            assert len(settings) == memory.related["ConfigurationSetting"].objects > 0
            assert count_copies(circulation.ConfigurationSetting, settings) == 0
            circulation.ConfigurationSetting.reset_cache()
            assert count_copies(circulation.ConfigurationSetting, settings) is None
    finally:
        engine.dispose()


def _plant_in_related(monkeypatch):
    """Library's populate, then: a setting of library 3 changed in place
    (dirty), a new setting appended to library 5's (pending, and library 5
    changed)."""
    populate = circulation.Library.populate_cache.__func__

    def planted(cls, session):
        populate(cls, session)
        changed = next(s for s in cls._id_cache[3].settings if s.external_integration_id is None)
        changed.value = "changed by populate"
        cls._id_cache[5].settings.append(circulation.ConfigurationSetting(key="added", value="by populate"))

    monkeypatch.setattr(circulation.Library, "populate_cache", classmethod(planted))


def _really_refused(objects) -> dict:
    """What a real merge(load=False) of each object, alone, into a fresh
    session says: the slow way, as the oracle."""
    refused = {}
    for obj in objects:
        scratch = Session()
        try:
            scratch.merge(obj, load=False)
        except Exception as error:
            refused[obj.id] = str(error)
        finally:
            scratch.close()
    return refused


def test_merge_failures_hidden_in_related_objects_are_found(circulation_url, monkeypatch):
    _plant_in_related(monkeypatch)
    report = fullcache_cli.warm(circulation_url, [circulation.Library], lookup_samples=0)
    (model,) = report.models
    failures = {f.id: f.error for f in model.merge_failures}
    assert {3, 5} <= set(failures)
    assert "related ConfigurationSetting" in failures[3] and DIRTY in failures[3]
    # Appending to a loaded collection changes library 5 itself: it is dirty.
    assert failures[5].endswith(DIRTY + ".  flush() all changes on mapped instances before merging with load=False.")
    assert "related" not in failures[5]
    # Exactly the rows a real merge of each, one by one, refuses.
    assert set(failures) == set(_really_refused(circulation.Library._id_cache.values()))
    assert model.merge_check.objects > model.merge_check.rows  # related objects visited too
    # Only the objects their state does not decide were merged for real: the
    # changed setting, library 5 and the setting appended to it.
    assert model.merge_check.merges == 3
    assert [p.kind for p in report.problems()].count("merge_failure") == len(failures)


def test_the_merge_check_cut_short_by_its_budget_says_so(circulation_url):
    report = fullcache_cli.warm(
        circulation_url, [circulation.ConfigurationSetting], lookup_samples=0, merge_check_seconds=0
    )
    (model,) = report.models
    assert model.merge_check.cut_short
    assert 0 < model.merge_check.checked < model.merge_check.rows == model.cached_ids
    assert model.cut_short == ["merge check"]
    document = model.to_json()
    assert document["cut_short"] == ["merge check"] and document["merge_check"]["cut_short"] is True


def test_max_warm_seconds_counts_every_phase(circulation_url):
    report = fullcache_cli.check(circulation_url, [circulation.Library], max_warm_seconds=0)
    (model,) = report.models
    (slow,) = [p for p in report.problems() if p.kind == "slow"]
    assert f"warmed in {model.total_seconds:.3f} s" in slow.error
    assert model.total_seconds > model.warm_seconds


# A flat table, joined eager collections (the others are alike and slow under
# tracemalloc), and a graph loaded by cache_key() through relationships.
@pytest.mark.parametrize(
    "cls", [circulation.Genre, circulation.Admin, circulation.Library, circulation.ConfigurationSetting],
    ids=lambda cls: cls.__name__,
)
def test_memory_is_within_twice_what_tracemalloc_sees_retained(circulation_url, cls):
    engine = create_engine(circulation_url)
    try:
        retained = retained_by_populate(engine, cls)
        cls.reset_cache()
        report = fullcache_cli.warm(engine, [cls], lookup_samples=0)
        (model,) = report.models
        estimate = model.memory_bytes + model.shared_bytes
        assert 0.5 < estimate / retained < 2, (estimate, retained)
    finally:
        cls.reset_cache()
        engine.dispose()


def test_people_see_differing_columns_notes_and_a_check_cut_short(circulation_url):
    result = run(
        "warm", "DeliveryMechanism", "Library", "ConfigurationSetting", "--merge-check-seconds", "0",
        "--models", APP, "--database-url", circulation_url,
    )
    assert result.exit_code == 0, result.stderr
    out = " ".join(result.stdout.split())
    fulfill = {2: "false", 3: "true"}
    kept_id = circulation.DeliveryMechanism._cache[("text/html", None)].id
    (other,) = {2, 3} - {kept_id}
    assert f"differ in default_client_can_fulfill {fulfill[kept_id]} / {fulfill[other]}" in out
    assert "ConfigurationSetting merge check cut short by its time budget:" in out
    assert "ConfigurationSetting populate issued" in out and "SQL statements, not one" in out
    # ExternalIntegration was not warmed: its copies cannot be told, Library's can.
    assert "ConfigurationSetting its objects hold their own copies of other cached models' rows (40 Library)" in out


class _Heard:
    """A progress display that writes down what it hears."""

    def __init__(self) -> None:
        self.events: list = []

    def model_started(self, model, rows):
        self.events.append(("started", rows))

    def rows_loaded(self, model, rows):
        self.events.append(("rows", rows))

    def phase_started(self, model, phase):
        self.events.append(("phase", phase))

    def model_finished(self, report):
        self.events.append(("finished", report.total_seconds))


def test_the_progress_display_hears_each_phase_and_the_merge_check_advance(circulation_url):
    heard = _Heard()
    report = fullcache_cli.warm(circulation_url, [circulation.ConfigurationSetting], progress=heard)
    (model,) = report.models
    assert [e[1] for e in heard.events if e[0] == "phase"] == PHASES
    # Rows decided by the merge check, heard while it runs: the bar moves.
    start = heard.events.index(("phase", "merge check"))
    end = heard.events.index(("phase", "keys"))
    decided = [e[1] for e in heard.events[start:end] if e[0] == "rows"]
    assert decided == list(range(256, model.cached_ids + 1, 256))
    assert heard.events[-1] == ("finished", model.total_seconds)
