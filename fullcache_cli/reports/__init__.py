"""Every report fullcache's commands return, and its JSON schema: plain
data, rendered elsewhere (the render package). One module per verb; every
name is importable from here.

``to_json()`` on each report gives the documented JSON shape; keys appear as
JSON values where they are str, int, float, bool or None, tuples as arrays,
anything else as its repr. Standard library only: the command line imports
this package before it loads SQLAlchemy.
"""

from __future__ import annotations

from .common import (  # noqa: F401
    Status,
    KINDS,
    ROW_KINDS,
    UNREADABLE_KINDS,
    safe_repr,
    json_key,
    json_value,
    plural,
    ids_text,
    format_key,
    differs_text,
    PerModel,
)
from .warm import (  # noqa: F401
    SCHEMA,
    Collision,
    RowError,
    UnreachableKey,
    Lookups,
    MergeCheck,
    Related,
    Breach,
    Problem,
    finding_identity,
    allows,
    ModelReport,
    BaselineUse,
    WarmReport,
)
from .models import (  # noqa: F401
    MODELS_SCHEMA,
    ModelRow,
    ModelsReport,
)
from .inspect import (  # noqa: F401
    INSPECT_SCHEMA,
    Entry,
    InspectReport,
)
from .lookup import (  # noqa: F401
    LOOKUP_SCHEMA,
    Merge,
    LookupReport,
)
from .coherence import (  # noqa: F401
    COHERENCE_STATUS_SCHEMA,
    COHERENCE_CHANGE_SCHEMA,
    STATUS_SCHEMA,
    CHANGE_SCHEMA,
    ChangeReport,
    TableStatus,
    StatusReport,
    WatchEvent,
)
from .verify import (  # noqa: F401
    VERIFY_SCHEMA,
    VERIFY_SCOPE,
    StaleRow,
    KeyDrift,
    DRIFT_COUNTS,
    ModelDrift,
    VerifyReport,
)

__all__ = [
    "Status",
    "KINDS",
    "ROW_KINDS",
    "UNREADABLE_KINDS",
    "safe_repr",
    "json_key",
    "json_value",
    "plural",
    "ids_text",
    "format_key",
    "differs_text",
    "PerModel",
    "SCHEMA",
    "Collision",
    "RowError",
    "UnreachableKey",
    "Lookups",
    "MergeCheck",
    "Related",
    "Breach",
    "Problem",
    "finding_identity",
    "allows",
    "ModelReport",
    "BaselineUse",
    "WarmReport",
    "MODELS_SCHEMA",
    "ModelRow",
    "ModelsReport",
    "INSPECT_SCHEMA",
    "Entry",
    "InspectReport",
    "LOOKUP_SCHEMA",
    "Merge",
    "LookupReport",
    "COHERENCE_STATUS_SCHEMA",
    "COHERENCE_CHANGE_SCHEMA",
    "STATUS_SCHEMA",
    "CHANGE_SCHEMA",
    "ChangeReport",
    "TableStatus",
    "StatusReport",
    "WatchEvent",
    "VERIFY_SCHEMA",
    "VERIFY_SCOPE",
    "StaleRow",
    "KeyDrift",
    "DRIFT_COUNTS",
    "ModelDrift",
    "VerifyReport",
]
