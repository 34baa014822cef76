"""What people should know about a model's warm that is not a problem, as
plain sentences (the renderer escapes and styles them)."""

from __future__ import annotations

from typing import List

from .reports import ModelReport


def model_notes(model: ModelReport) -> List[str]:
    """Checks cut short, other cached models' rows held as copies, a
    populate that issued more than one statement."""
    notes = []
    check = model.merge_check
    if check is not None and check.cut_short:
        notes.append(f"merge check cut short by its time budget: {check.checked:,} of {check.rows:,} rows decided")
    copies = ", ".join(f"{r.copies:,} {name}" for name, r in model.related.items() if r.copies)
    if copies:
        notes.append(
            f"its objects hold their own copies of other cached models' rows ({copies}), "
            "not the objects of those models' caches"
        )
    populate = model.statements.get("populate", 0)
    if populate > 1:
        notes.append(f"populate issued {populate:,} SQL statements, not one (loads inside populate)")
    return notes
