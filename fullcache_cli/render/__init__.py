"""The one renderer: a report becomes one JSON document on stdout, or rich
tables for people; progress, warnings and errors go to stderr.

Everything that comes from the database or the models' code (keys, ids,
errors, table and model names, what a model logs) reaches the terminal
through one function, :func:`terminal_text`: passwords masked where they
stand, control characters and rich markup made visible as text (the GitHub,
Markdown and XML forms spell control characters out through the same
:func:`spelled_out`). JSON carries the values exactly, passwords masked
before it is serialised. The consoles' streams mask passwords once more, for
what the models' code prints itself.

``text`` (terminal text, consoles, human units), ``output`` (``Output`` and
the ``render``/``github``/``markdown`` dispatchers), one module of renderers
per kind of report (``tables``: models, warm, inspect, lookup; ``verify``;
``coherence``), ``ci`` (GitHub workflow commands, Markdown, JUnit XML) and
``progress``; every name is importable from here.
"""

from __future__ import annotations

from .text import (  # noqa: F401
    Redact,
    spelled_out,
    terminal_text,
    PIPE_WIDTH,
    trim_lines,
    output_width,
    make_console,
    human_bytes,
    human_seconds,
    times,
    count,
)
from .output import (  # noqa: F401
    FORMATS,
    PIECE,
    Output,
    render,
    mixin_label,
    github,
    markdown,
)
from .tables import (  # noqa: F401
    render_models,
    WARM_DROPPABLE,
    WARM_COLUMNS,
    FOLDING,
    MODEL_MIN_WIDTH,
    render_warm,
    role_note,
    problem_line,
    totals,
    render_inspect,
    render_lookup,
)
from .progress import (  # noqa: F401
    RichProgress,
)
from .ci import (  # noqa: F401
    junit_xml,
    junit_error_xml,
    github_data,
    github_property,
    github_warm,
    markdown_text,
    markdown_warm,
)
from .coherence import (  # noqa: F401
    render_change,
    render_coherence_status,
    render_watch_event,
)
from .verify import (  # noqa: F401
    render_verify,
)

__all__ = [
    "Redact",
    "spelled_out",
    "terminal_text",
    "PIPE_WIDTH",
    "trim_lines",
    "output_width",
    "make_console",
    "human_bytes",
    "human_seconds",
    "times",
    "count",
    "FORMATS",
    "PIECE",
    "Output",
    "render",
    "mixin_label",
    "github",
    "markdown",
    "render_models",
    "WARM_DROPPABLE",
    "WARM_COLUMNS",
    "FOLDING",
    "MODEL_MIN_WIDTH",
    "render_warm",
    "role_note",
    "problem_line",
    "totals",
    "render_inspect",
    "render_lookup",
    "RichProgress",
    "junit_xml",
    "junit_error_xml",
    "github_data",
    "github_property",
    "github_warm",
    "markdown_text",
    "markdown_warm",
    "render_change",
    "render_coherence_status",
    "render_watch_event",
    "render_verify",
]
