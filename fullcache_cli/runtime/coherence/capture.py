"""Change capture in the database: the DDL of fullcache's own objects.

PostgreSQL: a schema ``fullcache`` holding an append-only change log
(``fullcache.changes``), a function that logs one row per table per
transaction and sends ``pg_notify`` on the ``fullcache`` channel, and one
statement-level trigger ``fullcache_capture`` per cached table, enabled
ALWAYS (so that logical replication's apply fires it too). A table's
generation is the sum of its log rows' weights as of a snapshot: a log, not a
counter row, so concurrent writers never queue on one row; old rows are folded
into one (same sum) every ``COMPACT_EVERY`` entries.

SQLite: a counter table ``fullcache_changes`` bumped by row triggers (SQLite
has no statement triggers; one writer at a time, so a counter is fine).

The SQL is written to be run again and again: a second install changes
nothing (every object is created only when missing or different).
"""

from __future__ import annotations

import json
from typing import Dict, List, Optional, Sequence, Tuple

CHANNEL = "fullcache"
SCHEMA = "fullcache"
LOG_TABLE = "fullcache.changes"
TRIGGER = "fullcache_capture"
SQLITE_TABLE = "fullcache_changes"
COMPACT_EVERY = 1000

# The transaction-local setting that remembers which tables this
# transaction has logged already. A rolled-back savepoint reverts it along
# with its log row and its NOTIFY, so a later write logs again.
_LOGGED = "fullcache.logged"

_NOTE_CHANGE = f"""
DECLARE
  logged text := coalesce(current_setting('{_LOGGED}', true), '');
  entry text := E'\\n' || changed || E'\\n';
  new_id bigint;
BEGIN
  IF position(entry IN logged) > 0 THEN
    RETURN;
  END IF;
  PERFORM set_config('{_LOGGED}', logged || entry, true);
  INSERT INTO {LOG_TABLE} (table_name) VALUES (changed) RETURNING id INTO new_id;
  PERFORM pg_notify('{CHANNEL}', json_build_object(
    'table', changed,
    'txid', txid_current(),
    'at', extract(epoch FROM clock_timestamp()))::text);
  IF new_id % {COMPACT_EVERY} = 0 AND pg_try_advisory_xact_lock(hashtext('{LOG_TABLE}')) THEN
    -- Fold the old entries into one per table: the sums (the generations)
    -- stay, and the log stays small. Only rows this statement deleted are
    -- summed, so a concurrent compaction cannot count a row twice.
    WITH gone AS (
      DELETE FROM {LOG_TABLE} WHERE id < new_id RETURNING table_name, weight
    )
    INSERT INTO {LOG_TABLE} (table_name, weight)
    SELECT gone.table_name, sum(weight) FROM gone GROUP BY gone.table_name;
  END IF;
END
"""

_CAPTURE = f"""
BEGIN
  PERFORM {SCHEMA}.note_change(TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME);
  RETURN NULL;
END
"""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def qualified(table: str) -> str:
    """``schema.table`` (as the trigger names it) quoted for SQL."""
    schema, _, name = table.partition(".")
    return f"{quote_ident(schema)}.{quote_ident(name)}"


def _function(name: str, parameters: str, returns: str, body: str) -> str:
    # Created only when missing or different: a second install leaves the
    # catalog as it was.
    types = ", ".join(p.split()[-1] for p in parameters.split(",") if p.strip())
    return f"""DO $install$
BEGIN
  IF NOT EXISTS (
    SELECT FROM pg_catalog.pg_proc
    WHERE oid = to_regprocedure({_literal(f"{name}({types})")}) AND prosrc = $body${body}$body$
  ) THEN
    CREATE OR REPLACE FUNCTION {name}({parameters}) RETURNS {returns}
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
      AS $body${body}$body$;
  END IF;
END
$install$;"""


def postgresql_install_sql(tables: Sequence[str]) -> str:
    """The DDL that installs change capture on ``tables`` (``schema.name``)."""
    parts = [
        "-- fullcache change capture: fullcache's own objects only.",
        f"CREATE SCHEMA IF NOT EXISTS {SCHEMA};",
        f"""CREATE TABLE IF NOT EXISTS {LOG_TABLE} (
  id bigserial PRIMARY KEY,
  table_name text NOT NULL,
  weight bigint NOT NULL DEFAULT 1,
  txid bigint NOT NULL DEFAULT txid_current(),
  logged_at timestamptz NOT NULL DEFAULT clock_timestamp()
);""",
        # The function runs as its owner (SECURITY DEFINER), so every role
        # that writes a cached table can log; readers only need to read.
        _function(f"{SCHEMA}.note_change", "changed text", "void", _NOTE_CHANGE),
        _function(f"{SCHEMA}.capture", "", "trigger", _CAPTURE),
        f"""DO $install$
BEGIN
  IF NOT has_schema_privilege('public', '{SCHEMA}', 'USAGE') THEN
    GRANT USAGE ON SCHEMA {SCHEMA} TO PUBLIC;
  END IF;
  IF NOT has_table_privilege('public', '{LOG_TABLE}', 'SELECT') THEN
    GRANT SELECT ON {LOG_TABLE} TO PUBLIC;
  END IF;
END
$install$;""",
    ]
    for table in tables:
        parts.append(_trigger_sql(table))
    return "\n\n".join(parts) + "\n"


def _trigger_sql(table: str) -> str:
    target = qualified(table)
    return f"""DO $install$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_trigger
                 WHERE tgrelid = {_literal(target)}::regclass AND tgname = '{TRIGGER}') THEN
    CREATE TRIGGER {TRIGGER} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {target}
      FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.capture();
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_trigger
                 WHERE tgrelid = {_literal(target)}::regclass AND tgname = '{TRIGGER}' AND tgenabled = 'A') THEN
    ALTER TABLE {target} ENABLE ALWAYS TRIGGER {TRIGGER};
  END IF;
END
$install$;"""


def postgresql_uninstall_sql(tables: Sequence[str]) -> str:
    """The DDL that removes every object of fullcache's (``tables``: those
    carrying its trigger)."""
    parts = ["-- removes fullcache change capture: fullcache's own objects only."]
    for table in tables:
        parts.append(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {qualified(table)};")
    parts.append(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE;")
    return "\n".join(parts) + "\n"


SQLITE_CREATE = f"CREATE TABLE IF NOT EXISTS {SQLITE_TABLE} (table_name TEXT PRIMARY KEY, generation INTEGER NOT NULL);"


def sqlite_bump(table: str) -> str:
    """The statement that bumps a SQLite table's generation."""
    return (f"INSERT INTO {SQLITE_TABLE} (table_name, generation) VALUES ({_literal(table)}, 1) "
            "ON CONFLICT (table_name) DO UPDATE SET generation = generation + 1;")


def sqlite_install_sql(tables: Sequence[str]) -> str:
    """The DDL that installs the change counters on SQLite ``tables``."""
    parts = ["-- fullcache change capture: fullcache's own objects only.", SQLITE_CREATE]
    for table in tables:
        for event in ("INSERT", "UPDATE", "DELETE"):
            parts.append(
                f"CREATE TRIGGER IF NOT EXISTS {quote_ident(sqlite_trigger(table, event))} "
                f"AFTER {event} ON {quote_ident(table)} BEGIN {sqlite_bump(table)} END;"
            )
    return "\n".join(parts) + "\n"


def sqlite_trigger(table: str, event: str) -> str:
    return f"fullcache_{table}_{event.lower()}"


def sqlite_uninstall_sql(tables: Sequence[str]) -> str:
    parts = ["-- removes fullcache change capture: fullcache's own objects only."]
    for table in tables:
        for event in ("INSERT", "UPDATE", "DELETE"):
            parts.append(f"DROP TRIGGER IF EXISTS {quote_ident(sqlite_trigger(table, event))};")
    parts.append(f"DROP TABLE IF EXISTS {SQLITE_TABLE};")
    return "\n".join(parts) + "\n"


# -- reading the log ----------------------------------------------------------

GENERATIONS_SQL = f"SELECT table_name, sum(weight)::bigint FROM {LOG_TABLE} GROUP BY table_name"
INSTALLED_SQL = f"SELECT to_regclass('{LOG_TABLE}') IS NOT NULL"
SQLITE_GENERATIONS_SQL = f"SELECT table_name, generation FROM {SQLITE_TABLE}"


def postgresql_generations(cursor) -> Optional[Dict[str, int]]:
    """Every table's generation as of the cursor's snapshot, or None when
    capture is not installed (a DB-API cursor)."""
    cursor.execute(INSTALLED_SQL)
    if not cursor.fetchone()[0]:
        return None
    cursor.execute(GENERATIONS_SQL)
    return {name: int(total) for name, total in cursor.fetchall()}


def parse_payload(payload: str) -> Tuple[str, Optional[int], Optional[float]]:
    """``(table, txid, sent_at)`` from a notification's payload (the ORM
    fallback sends the table's name alone)."""
    if payload.startswith("{"):
        try:
            data = json.loads(payload)
            return str(data["table"]), data.get("txid"), data.get("at")
        except (ValueError, KeyError, TypeError):
            pass
    return payload, None, None


def sql_statements(script: str) -> List[str]:
    """The statements of a script made above (for drivers that run one at a
    time): they end at a line ending with ``;`` outside a DO block."""
    statements, current, in_block = [], [], False
    for line in script.splitlines():
        if not current and (not line.strip() or line.startswith("--")):
            continue
        current.append(line)
        if line.startswith("DO $install$"):
            in_block = True
        if (in_block and line == "$install$;") or (not in_block and line.rstrip().endswith(";")):
            statements.append("\n".join(current))
            current, in_block = [], False
    return statements
