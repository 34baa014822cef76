"""warm's analyses as pure functions: plain Python objects and transient
mapped ones, no database."""

from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import DeclarativeBase, make_transient_to_detached, mapped_column

from fullcache_cli.analysis import (
    cached_objects,
    key_problems,
    lost_reason,
    model_caches,
    row_id,
)
from fullcache_cli.errors import describe
from fullcache_cli.merge_check import check_merges
from fullcache_cli.reports import Collision, ModelReport, RowError


class Row:
    """A row whose key is whatever it is given (a callable raises)."""

    def __init__(self, id, key):
        self.id = id
        self._key = key

    def cache_key(self):
        return self._key() if callable(self._key) else self._key


def _bad():
    raise ValueError("bad code")


def test_cached_objects_lists_each_object_once():
    a, b, c = Row(1, "a"), Row(2, "b"), Row(3, "c")
    assert cached_objects({1: a, 2: b}, {"a": a, "c": c}) == [a, b, c]


def test_model_caches_reads_a_reset_cache_as_empty():
    class Model:
        RESET = object()
        _id_cache = RESET
        _cache = {"a": 1}

    assert model_caches(Model) == ({}, {"a": 1})


def test_row_id_of_an_object_without_one_is_none():
    assert row_id(object()) is None
    assert row_id(Row(7, "x")) == 7


def test_key_problems_finds_collisions_errors_and_none_keys():
    one, two, three, four, five, six = (
        Row(1, "Fiction"), Row(2, _bad), Row(3, "Fiction"), Row(4, None), Row(5, ["list"]), Row(6, None),
    )
    key_cache = {"Fiction": one, None: six}
    found = key_problems([one, two, three, four, five, six], key_cache)
    assert found.collisions == [Collision("Fiction", [1, 3], 1)]
    assert found.key_errors == [
        RowError(2, "ValueError: bad code"),
        RowError(5, "TypeError: unhashable type: 'list'"),
    ]
    assert found.none_keys == [4, 6]


def test_key_problems_computes_no_key_of_a_row_the_cache_holds():
    held = Row(1, _bad)  # would raise if asked
    assert key_problems([held], {"x": held}).key_errors == []


def test_key_problems_describes_errors_as_told():
    found = key_problems([Row(2, _bad)], {}, describe=lambda error: "hidden")
    assert found.key_errors == [RowError(2, "hidden")]


class Base(DeclarativeBase):
    pass


class Shelf(Base):
    __tablename__ = "shelves"
    id = mapped_column(Integer, primary_key=True)
    code = mapped_column(String)


def _detached(id: int, code: str) -> Shelf:
    shelf = Shelf(id=id, code=code)
    make_transient_to_detached(shelf)
    return shelf


def test_merge_failures_names_dirty_objects_only():
    clean, dirty = _detached(1, "a"), _detached(2, "b")
    dirty.code = "changed"
    failures, summary = check_merges([clean, dirty], describe, row_id=row_id)
    assert summary.merges == 1  # the clean one decided by its state
    assert [failure.id for failure in failures] == [2]
    assert "dirty" in failures[0].error


def test_lost_reason_follows_what_warm_saw():
    warmed = ModelReport("Genre", "genres", "fullcache", "x.Mixin")
    warmed.collisions = [Collision("Fiction", [1, 3], 1)]
    warmed.key_errors = [RowError(2, "ValueError: bad")]
    warmed.none_keys = [4]
    warmed.merge_failures = [RowError(5, "dirty")]
    assert lost_reason(3, warmed) == "its key is held by row 1 (a collision)"
    assert lost_reason(2, warmed) == "its cache_key() failed at populate: ValueError: bad"
    assert lost_reason(4, warmed) == "its key is None"
    assert lost_reason(5, warmed) == "the cached copy cannot be merged: dirty"
    assert lost_reason(6, warmed) == "the row is not in the cache"
