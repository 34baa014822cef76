"""The kinds of problem a report names: the words of ``--allow``, of
``allow`` in pyproject.toml and of the JSON's ``kind``. Imports nothing, so
that the command line's help and the configuration can name them without
loading the reports."""

# Kinds of problem, in the order the problems section lists them.
KINDS = (
    "unreadable",
    "not_run",
    "shared_cache",
    "populate_error",
    "key_error",
    "collision",
    "none_key",
    "unreachable_key",
    "merge_failure",
    "lookup_error",
    "slow_hit",
    "escaped_transaction",
    "database_write",
    "timed_out",
    "slow",
    "growth",
    "drift",  # check --verify: the caches differ from their tables
)


# Kinds that concern one row, named by its id.
ROW_KINDS = frozenset({"key_error", "merge_failure"})


# Kinds that mean a model could not be read at all: warm itself exits 1.
UNREADABLE_KINDS = frozenset({"unreadable", "not_run"})
