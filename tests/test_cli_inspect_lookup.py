"""fullcache inspect MODEL and fullcache lookup MODEL KEY, on SQLite and
PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from tests.apps import planted
from tests.helpers import PLANTED, fill_own_app, run, run_json

DIRTY = "merge() with load=False option does not support objects marked as 'dirty'"


def planted_args(url):
    return ("--models", PLANTED, "--database-url", url)


# -- lookup ---------------------------------------------------------------


def test_lookup_tuple_key_hit(sample_url):
    code, found = run_json(
        "lookup", "DeliveryMechanism", '["application/epub+zip", "Adobe DRM"]', "--repeat", "50",
        "--database-url", sample_url,
    )
    assert code == 0
    assert set(found) >= {"model", "key", "found", "source", "id", "values", "merge", "cache_us", "db_us"}
    assert found["found"] is True and found["source"] == "cache"
    assert found["key"] == ["application/epub+zip", "Adobe DRM"]
    assert found["values"]["content_type"] == "application/epub+zip"
    assert found["values"]["drm_scheme"] == "Adobe DRM"
    assert found["merge"] == {"ok": True, "error": None}
    assert 0 < found["cache_us"] < found["db_us"]


def test_lookup_tuple_key_with_null_and_int(sample_url):
    import sample_models

    engine = create_engine(sample_url)
    with Session(engine) as session:
        setting = session.query(sample_models.ConfigurationSetting).filter_by(
            external_integration_id=None
        ).filter(sample_models.ConfigurationSetting.library_id.isnot(None)).first()
        key = f'[{setting.library_id}, null, "{setting.key}"]'
        expected = setting.id
    engine.dispose()
    code, found = run_json("lookup", "ConfigurationSetting", key, "--repeat", "5", "--database-url", sample_url)
    assert code == 0 and found["id"] == expected and found["source"] == "cache"


def test_lookup_str_key_and_by_id(sample_url):
    code, found = run_json("lookup", "Library", "LIB007", "--repeat", "5", "--database-url", sample_url)
    assert code == 0 and found["values"]["short_name"] == "LIB007"
    library_id = found["id"]
    code, by_id = run_json("lookup", "Library", str(library_id), "--id", "--repeat", "5", "--database-url", sample_url)
    assert code == 0 and by_id["source"] == "cache" and by_id["values"]["short_name"] == "LIB007"


def test_lookup_int_key(database_url):
    url = fill_own_app(database_url)
    code, found = run_json("lookup", "Volume", "103", "--repeat", "5", "--models", "tests.apps.own_app", "--database-url", url)
    assert code == 0 and found["id"] == 3 and found["key"] == 103 and found["source"] == "cache"
    result = run("lookup", "Volume", "1O3", "--models", "tests.apps.own_app", "--database-url", url)
    assert result.exit_code == 2
    assert "key '1O3' fits no key type of Volume's cache (int)" in result.stderr
    assert "'101', '102', '103'" in result.stderr


def test_lookup_not_found_suggests_closest(sample_url):
    result = run("lookup", "Genre", "Mystery Historicl", "--database-url", sample_url)
    assert result.exit_code == 1
    assert "not found" in result.stdout
    assert "'Mystery Historical'" in result.stdout
    code, found = run_json("lookup", "Genre", "Mystery Historicl", "--database-url", sample_url)
    assert code == 1 and found["found"] is False and found["source"] is None
    assert found["suggestions"][0] == "Mystery Historical"


def test_lookup_key_of_no_type_and_bad_id(sample_url):
    result = run("lookup", "DeliveryMechanism", "epub", "--database-url", sample_url)
    assert result.exit_code == 2
    assert "fits no key type" in result.stderr and '\'["application/epub+zip"' in result.stderr
    result = run("lookup", "Library", "seven", "--id", "--database-url", sample_url)
    assert result.exit_code == 2
    assert "id 'seven' fits no key type of Library's ids (int)" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("model", ["SeedSetting", "FcSetting"])
def test_lookup_shows_a_merge_failure(planted_url, model):
    code, found = run_json("lookup", model, '["b"]', "--repeat", "3", *planted_args(planted_url))
    assert code == 0
    assert found["found"] is True and found["source"] == "database" and found["id"] == 2
    assert found["merge"]["ok"] is False and DIRTY in found["merge"]["error"]
    assert "cannot be merged" in found["reason"]


@pytest.mark.parametrize("model, kept, shadowed", [("SeedGenre", 3, [1]), ("FcGenre", 1, [3])])
def test_lookup_names_the_rows_a_colliding_key_shadows(planted_url, model, kept, shadowed):
    code, found = run_json("lookup", model, "Fiction", "--repeat", "3", *planted_args(planted_url))
    assert code == 0 and found["id"] == kept and found["shadows"] == shadowed
    people = run("lookup", model, "Fiction", "--repeat", "3", *planted_args(planted_url))
    assert f"this key shadows rows {shadowed[0]}" in people.stdout


@pytest.mark.parametrize("model", ["SeedTag", "FcTag"])
def test_lookup_finds_a_row_the_cache_lost_in_the_database(planted_url, model):
    code, found = run_json("lookup", model, '["list:blue"]', "--repeat", "3", *planted_args(planted_url))
    assert code == 0
    assert found["source"] == "database" and found["id"] == 2
    assert "unhashable" in found["reason"]


def test_lookup_missing_table_is_that_models_error(planted_url):
    result = run("lookup", "FcMissing", "x", *planted_args(planted_url))
    assert result.exit_code == 1
    assert "FcMissing cannot be looked up" in result.stderr and "Traceback" not in result.output


# -- inspect ----------------------------------------------------------------


def test_inspect_lists_each_kind_of_problem(planted_url):
    for model, expected in [
        ("FcGenre", ["Collisions (1)", "key Fiction  ids 1, 3  kept 1"]),
        ("SeedShelf", ["Key errors (2)", "id 2  ValueError: bad shelf code '!S2'", "id 4", "populate error"]),
        ("SeedTag", ["Key errors (1)", "unhashable type: 'list'"]),
        ("FcLabel", ["None keys (2)", "ids 1, 2"]),
        ("FcSetting", ["Merge failures (1)", "id 2  InvalidRequestError"]),
    ]:
        result = run("inspect", model, *planted_args(planted_url))
        assert result.exit_code == 0, result.output
        for text in expected:
            assert text in result.stdout, (model, text, result.stdout)


def test_inspect_json_is_warms_model_plus_extras(planted_url):
    before = planted.FcGenre.cache_stats()
    code, document = run_json("inspect", "FcGenre", *planted_args(planted_url))
    assert code == 0
    # The caches stay warm after the command: the entries are their objects,
    # shown from their state (the model has no __repr__ of its own).
    cached = planted.FcGenre._cache
    assert [(entry["key"], entry["id"]) for entry in document["entries"]] == [
        ("Fiction", cached["Fiction"].id), ("Poetry", cached["Poetry"].id), ("Drama", cached["Drama"].id),
    ]
    assert [entry["repr"] for entry in document["entries"]] == [
        "<FcGenre id=1 name='Fiction'>", "<FcGenre id=2 name='Poetry'>", "<FcGenre id=4 name='Drama'>",
    ]
    _, warmed = run_json("warm", "FcGenre", *planted_args(planted_url))
    (model,) = warmed["models"]
    assert set(document) == set(model) | {"schema", "database", "key_types", "stats", "entries"}
    # The planted answers, not warm's output (both come from the same code).
    assert {k: document[k] for k in (
        "model", "table", "mixin", "status", "error", "rows", "cached_ids", "cached_keys", "collisions",
        "none_keys", "key_errors", "populate_error", "merge_failures", "lookup_error",
    )} == {
        "model": "FcGenre", "table": "fc_genres", "mixin": "fullcache", "status": "ok", "error": None,
        "rows": 4, "cached_ids": 4, "cached_keys": 3,
        "collisions": [{"key": "Fiction", "ids": [1, 3], "kept_id": 1, "differs": {}}],
        "none_keys": [], "key_errors": [], "populate_error": None, "merge_failures": [], "lookup_error": None,
    }
    assert document["lookups"]["samples"] == 4
    assert document["key_types"] == {"str": 3}
    # One populate; the lookups fullcache times (each of the 4 ids twice
    # from a second session) are its own, not the application's: not counted.
    stats = document["stats"]
    assert (stats["populates"] - before.populates, stats["hits"] - before.hits, stats["misses"] - before.misses,
            stats["merges"] - before.merges) == (1, 0, 0, 0)
    assert (stats["cached_ids"], stats["cached_keys"], stats["last_populate_rows"]) == (4, 3, 4)


def test_inspect_caps_lists_and_counts_the_rest(database_url):
    """A table where every key collides: people see --limit of them and a
    count of the rest; JSON has every one."""
    engine = create_engine(database_url)
    planted.Base.metadata.create_all(engine, tables=[planted.FcGenre.__table__])
    with Session(engine) as session:
        session.execute(
            planted.FcGenre.__table__.insert(),
            [dict(id=n, name=f"genre {n % 30}") for n in range(1, 91)],
        )
        session.commit()
    engine.dispose()
    args = ("--models", PLANTED, "--database-url", database_url)
    result = run("inspect", "FcGenre", "--limit", "4", *args)
    assert result.exit_code == 0
    assert "Collisions (30)" in result.stdout
    assert "… and 26 more (raise --limit, or --json for all)" in result.stdout
    assert "Entries (first 4 of 30)" in result.stdout
    code, document = run_json("inspect", "FcGenre", "--limit", "4", *args)
    assert len(document["collisions"]) == 30
    assert all(len(c["ids"]) == 3 and c["kept_id"] == min(c["ids"]) for c in document["collisions"])
    assert len(document["entries"]) == 4


def test_inspect_sample_model(sample_url):
    code, document = run_json("inspect", "DeliveryMechanism", "--database-url", sample_url)
    assert code == 0
    engine = create_engine(sample_url)
    with engine.connect() as connection:
        with_drm, without_drm = connection.execute(text(
            "SELECT count(drm_scheme), count(*) - count(drm_scheme) FROM deliverymechanisms"
        )).one()
    engine.dispose()
    assert with_drm > 0 and without_drm > 0
    assert document["key_types"] == {"tuple[str, str]": with_drm, "tuple[str, None]": without_drm}
    assert document["cached_keys"] == with_drm + without_drm
    # fullcache's own timing lookups are not the application's: not counted.
    assert document["stats"]["hits"] == 0 and document["stats"]["populates"] >= 1
