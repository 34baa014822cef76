"""The coherence commands' reports: status, a change made, a watched event
(``fullcache.coherence-status/1``, ``fullcache.coherence-change/1``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional


COHERENCE_STATUS_SCHEMA = "fullcache.coherence-status/1"


COHERENCE_CHANGE_SCHEMA = "fullcache.coherence-change/1"


STATUS_SCHEMA = "fullcache.coherence-status/1"


CHANGE_SCHEMA = "fullcache.coherence-change/1"


@dataclass
class ChangeReport:
    """What coherence install, uninstall or invalidate did (or, with
    ``written`` False, the SQL it would run)."""

    action: str
    database: str
    backend: str
    tables: List[str]
    sql: str
    written: bool
    created: List[str] = field(default_factory=list)
    removed: List[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "schema": COHERENCE_CHANGE_SCHEMA, "action": self.action, "database": self.database, "backend": self.backend,
            "tables": self.tables, "written": self.written, "created": self.created, "removed": self.removed,
            "sql": self.sql,
        }


@dataclass
class TableStatus:
    """One cached table's change capture."""

    model: str
    table: str
    trigger: Optional[str]  # "enabled always", "enabled", "disabled", or None: missing
    generation: Optional[int]
    commits_last_minute: Optional[int]

    def to_json(self) -> dict:
        return {"model": self.model, "table": self.table, "trigger": self.trigger, "generation": self.generation,
                "commits_last_minute": self.commits_last_minute}


@dataclass
class StatusReport:
    """Change capture on one database: ``fullcache coherence status``."""

    database: str
    backend: str
    installed: bool
    tables: List[TableStatus]
    listeners: List[dict]
    queue_usage: Optional[float]
    warnings: List[str]

    @property
    def ok(self) -> bool:
        return self.installed and all(t.trigger in ("enabled always", "sqlite") for t in self.tables)

    def to_json(self) -> dict:
        return {
            "schema": COHERENCE_STATUS_SCHEMA, "database": self.database, "backend": self.backend, "installed": self.installed,
            "capture": "database" if self.installed else "orm (raw SQL invisible)",
            "tables": [t.to_json() for t in self.tables], "listeners": self.listeners,
            "notification_queue_usage": self.queue_usage, "warnings": self.warnings, "ok": self.ok,
        }


@dataclass
class WatchEvent:
    """One change notification, as ``fullcache watch`` shows it."""

    table: str
    txid: Optional[int]
    sender_pid: int
    delay_ms: Optional[float]
    received_at: float

    def to_json(self) -> dict:
        return {"table": self.table, "txid": self.txid, "sender_pid": self.sender_pid,
                "delay_ms": self.delay_ms, "received_at": self.received_at}
