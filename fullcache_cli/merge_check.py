"""Which cached objects a lookup from another session could not merge.

The seed's lookups ``merge(load=False)`` a cached object into the caller's
session, and the merge cascades through every loaded relationship that
cascades merge: one dirty or pending object anywhere in that graph fails the
lookup of every row that reaches it. Merging each row for real costs a walk
of its whole graph per row (thousands of rows times thousands of related
objects on applications with joined eager loads, and as many garbage
cycles). Instead the graph is walked once, each object visited once whatever
the number of rows reaching it, and each object is decided from its state
where its state decides, exactly as ``Session._merge`` decides it: persistent
and unmodified merges. Only the others get a real ``merge(load=False)``, into
one scratch session bound to nothing. A row fails when a failing object is
reachable from it; it is told which.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from sqlalchemy.orm import Session

from .errors import reraise_interrupt
from .loaded_graph import has_relationships, related_states, state_of
from .reports import MergeCheck, RowError

CLOCK_EVERY = 256  # objects visited between two looks at the clock


def _identity(state: Any) -> Any:
    key = state.key
    if key is None:
        return None
    ident = key[1]
    return ident[0] if len(ident) == 1 else list(ident)


def check_merges(
    cached: Sequence[Any],
    describe: Callable[[BaseException], str],
    *,
    row_id: Callable[[Any], Any],
    deadline: Optional[float] = None,
    progress: Optional[Callable[[int], None]] = None,
) -> Tuple[List[RowError], MergeCheck]:
    """Decide for every object of ``cached`` whether ``merge(load=False)``
    into another session would succeed. ``deadline`` (a
    ``time.perf_counter()`` value) cuts the check short: the rows not reached
    by then are not decided, and the result says so. ``progress`` hears the
    number of rows decided so far, now and then. Returns the failing rows
    (each with the error of the failing object it reaches) and how far the
    check got."""
    result = MergeCheck(rows=len(cached))
    if not cached:
        return [], result
    scratch: Optional[Session] = None
    # Nodes of the graph, by id() of their state (all kept alive by the caches).
    index: Dict[int, int] = {}
    states: List[Any] = []
    parents: List[List[int]] = []
    failing: Dict[int, str] = {}
    roots: List[int] = []  # node of each decided row, in the order of ``cached``
    graph = any(has_relationships(cls) for cls in set(map(type, cached)))
    visited = 0

    def node(state: Any) -> tuple[int, bool]:
        number = index.get(id(state))
        if number is not None:
            return number, False
        number = len(states)
        index[id(state)] = number
        states.append(state)
        parents.append([])
        return number, True

    def decide(number: int, state: Any) -> None:
        nonlocal scratch
        if state.key is not None and not state.modified:
            return
        if scratch is None:
            scratch = Session()
        result.merges += 1
        try:
            scratch.merge(state.obj(), load=False)
        except BaseException as error:
            reraise_interrupt(error)  # the model's own code (a merge listener) may raise anything
            failing[number] = describe(error)

    try:
        if not graph:
            return _flat(cached, describe, row_id, result), result
        for obj in cached:
            state = state_of(obj)
            if state is None:
                result.checked += 1
                continue
            root, new = node(state)
            if new:
                decide(root, state)
                stack = [root] if graph else []
                while stack:
                    current = stack.pop()
                    for child_state in related_states(states[current], merge_only=True):
                        child, fresh = node(child_state)
                        parents[child].append(current)
                        if fresh:
                            decide(child, child_state)
                            stack.append(child)
                    visited += 1
                    if deadline is not None and visited % CLOCK_EVERY == 0 and time.perf_counter() > deadline:
                        raise _OutOfTime
            roots.append(root)
            result.checked += 1
            if progress is not None and result.checked % CLOCK_EVERY == 0:
                progress(result.checked)
                if deadline is not None and time.perf_counter() > deadline:
                    raise _OutOfTime
    except _OutOfTime:
        result.cut_short = result.checked < len(cached)
    finally:
        if scratch is not None:
            scratch.close()
    result.objects = len(states)
    return _failing_rows(roots, states, parents, failing, row_id), result


class _OutOfTime(Exception):
    pass


def _flat(
    cached: Sequence[Any], describe: Callable[[BaseException], str], row_id: Callable[[Any], Any], result: MergeCheck
) -> List[RowError]:
    """Objects with no relationship to cascade into: each decided alone,
    with nothing kept per object (a table of a million rows costs a pass)."""
    failures = []
    scratch: Optional[Session] = None
    for obj in cached:
        state = state_of(obj)
        if state is not None and (state.key is None or state.modified):
            if scratch is None:
                scratch = Session()
            result.merges += 1
            try:
                scratch.merge(obj, load=False)
            except BaseException as error:
                reraise_interrupt(error)
                failures.append(RowError(row_id(obj), describe(error)))
    if scratch is not None:
        scratch.close()
    result.checked = len(cached)
    result.objects = len(cached)
    return failures


def _failing_rows(
    roots: List[int],
    states: List[Any],
    parents: List[List[int]],
    failing: Dict[int, str],
    row_id: Callable[[Any], Any],
) -> List[RowError]:
    """The rows from which a failing object is reachable, each with the
    error of the nearest one (walking the edges backwards from each)."""
    if not failing:
        return []
    cause: Dict[int, int] = {}
    frontier = list(failing)
    for number in frontier:
        cause[number] = number
    while frontier:
        following = []
        for number in frontier:
            for parent in parents[number]:
                if parent not in cause:
                    cause[parent] = cause[number]
                    following.append(parent)
        frontier = following
    found = []
    seen = set()
    for root in roots:
        if root in seen or root not in cause:
            continue
        seen.add(root)
        origin = cause[root]
        error = failing[origin]
        if origin != root:
            related = states[origin]
            error = f"related {related.class_.__name__} {_identity(related)!r}: {error}"
        found.append(RowError(row_id(states[root].obj()), error))
    return found
