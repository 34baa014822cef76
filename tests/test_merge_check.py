"""The merge check decides, for graphs of related objects, exactly what a
real ``merge(load=False)`` of each row into a fresh session decides: checked
on generated graphs of the circulation app's models, built in memory (no
database: the objects are made detached as if loaded)."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from fullcache_cli.merge_check import check_merges
from tests.apps.circulation import ConfigurationSetting, ExternalIntegration, Library


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _row_id(obj):
    return obj.id


def _oracle(rows) -> set:
    """The rows a real merge(load=False), one per fresh session, refuses."""
    refused = set()
    for row in rows:
        scratch = Session()
        try:
            scratch.merge(row, load=False)
        except Exception:
            refused.add(row.id)
        finally:
            scratch.close()
    return refused


@st.composite
def graphs(draw):
    libraries = draw(st.integers(1, 6))
    integrations = draw(st.integers(0, 4))
    settings_of = draw(st.lists(st.tuples(st.integers(0, libraries - 1), st.integers(-1, integrations - 1)), max_size=12))
    links = draw(st.lists(st.tuples(st.integers(0, libraries - 1), st.integers(0, max(integrations - 1, 0))),
                          max_size=8 if integrations else 0))
    total = libraries + integrations + len(settings_of)
    dirty = draw(st.sets(st.integers(0, total - 1), max_size=2))
    transient = draw(st.sets(st.integers(0, len(settings_of) - 1), max_size=2) if settings_of else st.just(set()))
    return libraries, integrations, settings_of, links, dirty, transient


def _build(libraries, integrations, settings_of, links, dirty, transient):
    libs = [Library(id=n + 1, name=f"L{n}", short_name=f"L{n}", is_default=False) for n in range(libraries)]
    ints = [ExternalIntegration(id=n + 1, protocol="p", goal="g", name=f"I{n}") for n in range(integrations)]
    sets = []
    for n, (lib, integration) in enumerate(settings_of):
        setting = ConfigurationSetting(id=n + 1, key=f"k{n}", value="v", library_id=lib + 1,
                                       external_integration_id=integration + 1 if integration >= 0 else None)
        sets.append(setting)
    # Relationships set as loaded (committed), the way a query leaves them.
    for lib_index, lib in enumerate(libs):
        set_committed_value(lib, "settings", [s for s, (l, _) in zip(sets, settings_of) if l == lib_index])
        set_committed_value(lib, "integrations", sorted({ints[i] for l, i in links if l == lib_index}, key=id))
    for int_index, integration in enumerate(ints):
        set_committed_value(integration, "settings", [s for s, (_, i) in zip(sets, settings_of) if i == int_index])
        set_committed_value(integration, "libraries", sorted({libs[l] for l, i in links if i == int_index}, key=id))
    for setting, (lib, integration) in zip(sets, settings_of):
        set_committed_value(setting, "library", libs[lib])
        set_committed_value(setting, "external_integration", ints[integration] if integration >= 0 else None)
    everything = libs + ints + sets
    for n, obj in enumerate(everything):
        if not (obj in sets and sets.index(obj) in transient):
            make_transient_to_detached(obj)
    for n in dirty:
        obj = everything[n]
        if obj in sets and sets.index(obj) in transient:
            continue
        if isinstance(obj, ConfigurationSetting):
            obj.value = "changed"
        else:
            obj.name = "changed"
    return libs


@settings(max_examples=150, deadline=None)
@given(graphs())
def test_the_check_agrees_with_a_real_merge_of_every_row(graph):
    rows = _build(*graph)
    failures, summary = check_merges(rows, _describe, row_id=_row_id)
    assert {f.id for f in failures} == _oracle(rows)
    assert summary.checked == summary.rows == len(rows) and not summary.cut_short
    # Each object visited once, whatever the number of rows reaching it.
    assert summary.objects <= len(rows) + graph[1] + len(graph[2])


def test_a_failure_in_a_related_object_is_named():
    # Library 2's setting 2 is also integration 1's, which library 1 uses.
    rows = _build(3, 1, [(0, -1), (1, 0)], [(0, 0)], set(), set())
    rows[1].settings[0].value = "changed"
    failures, summary = check_merges(rows, _describe, row_id=_row_id)
    assert [f.id for f in failures] == [1, 2] == sorted(_oracle(rows))
    for failure in failures:
        assert failure.error.startswith("related ConfigurationSetting 2: InvalidRequestError: merge() with load=False")
        assert "dirty" in failure.error
    assert summary.merges == 1  # only the changed setting was merged for real


def test_a_deadline_passed_cuts_the_check_short_and_says_so():
    rows = [Library(id=n, name=f"L{n}", short_name=f"L{n}") for n in range(1, 1001)]
    for row in rows:
        make_transient_to_detached(row)
    failures, summary = check_merges(rows, _describe, row_id=_row_id, deadline=time.perf_counter() - 1)
    assert summary.cut_short and 0 < summary.checked < 1000 == summary.rows and failures == []
