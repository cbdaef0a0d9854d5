"""``jupyter collab check [--repair]``: what is wrong with the store, and a way out.

Two levels, on SQLite and PostgreSQL:

- the database itself (``persistence/repair.py`` for an SQLite file: not SQLite, truncated,
  SQLite's integrity check, schema versions; for PostgreSQL: reachable, schema versions);
- its rows (``persistence/verify.py``): updates, snapshots, versions and merge bases that do not
  decode, logs with holes or that do not replay, merge bases missing.

``--repair`` salvages a damaged SQLite file into a fresh one (``repair.py``) and deals with
damaged rows on either engine (``verify.repair_rows``); servers using the store must be stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from traitlets import Bool

from ..persistence.catalog import Catalog
from ..persistence.repair import RepairRefused, Report, _refuse_if_in_use, check, repair
from ..persistence.verify import Findings, repair_rows, verify
from ..tables import COMPONENTS
from .base import FAILED, FLAGS, OK, CollabCommandBase


@dataclass
class Outcome:
    """Everything ``check`` found (and did), as the JSON output shows it."""

    database: str
    engine: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    damaged: list[dict[str, Any]] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "database": self.database, "engine": self.engine, "ok": self.ok,
            "problems": self.problems, "notes": self.notes, "counts": self.counts,
            "damagedRows": self.damaged, "repaired": self.repaired,
        }  # fmt: skip


class CheckApp(CollabCommandBase):
    name = "jupyter-collab-check"
    description = """Check jupyter-collab's store (history, file ids, shares): the SQLite file
    at db_path, or the PostgreSQL database at database_url.

    Says whether it can be used, and if not why: damaged, truncated, written by a newer
    version; then checks every row (updates, snapshots and versions that do not decode, logs
    that do not replay, missing merge bases). With --repair, salvages a damaged SQLite file
    into a fresh one in its place (keeping the damaged file aside), and drops or rebuilds
    damaged rows (stop the servers using the store first).
    Exits with 0 when the store is sound (after the repair, with --repair), 1 otherwise.
    """
    examples = """
    jupyter collab check
    jupyter collab check --repair
    jupyter collab check --db /path/to/collab.db --json
    jupyter collab check --database-url postgresql://collab@db/collab
    """

    repair = Bool(False, config=True, help="Salvage a damaged store, drop damaged rows.")
    flags = {
        **FLAGS,
        "repair": (
            {"CheckApp": {"repair": True}},
            "Salvage a damaged store and drop damaged rows.",
        ),
    }

    # -- diagnosis ----------------------------------------------------------------------------

    def diagnose(self) -> tuple[Outcome, Report | None, Findings | None]:
        where = self.where()
        outcome = Outcome(where.shown, where.engine)
        report = None
        if where.url:
            if not self._postgres(where.url, outcome):
                return outcome, None, None
        else:
            report = check(where.db_path, COMPONENTS, self.outage_dir)
            outcome.problems += report.problems
            outcome.notes += report.notes
            outcome.counts.update(report.counts)
            if not report.ok or not Path(where.db_path).exists():
                return outcome, report, None
            if Path(where.db_path).stat().st_size == 0:
                return outcome, report, None
        findings = self._rows(where, outcome)
        return outcome, report, findings

    def _postgres(self, url: str, outcome: Outcome) -> bool:
        from ..pgstores import COMPONENTS as PG_COMPONENTS

        try:
            catalog = Catalog(url=url)
        except Exception as error:
            outcome.problems.append(f"cannot reach the database: {error}")
            return False
        with catalog:
            versions = catalog.schema_versions()
            for component in PG_COMPONENTS:
                current = versions.get(component.name)
                if current is None:
                    outcome.notes.append(
                        f"{component.name}: no tables yet (created at the next start)"
                    )
                elif current > component.version:
                    outcome.problems.append(
                        f"{component.name}: schema version {current}, written by a newer "
                        f"jupyter-collab (this one knows up to {component.version}): upgrade "
                        "jupyter-collab"
                    )
                elif current < component.version:
                    outcome.notes.append(
                        f"{component.name}: schema version {current}, migrated to "
                        f"{component.version} at the next start"
                    )
                else:
                    outcome.notes.append(f"{component.name}: schema version {current} (current)")
            tables = catalog.tables()
            for label, table in COUNTED:
                if table in tables:
                    outcome.counts[label] = catalog.rows(f"SELECT COUNT(*) FROM {table}")[0][0]
        return outcome.ok

    def _rows(self, where: Any, outcome: Outcome) -> Findings:
        with (
            Catalog(db_path=where.db_path, url=where.url) as catalog,
            self.progress(None, "checking documents", "doc") as bar,
        ):

            def update(done: int, total: int) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            findings = verify(catalog, update)
        for damage in findings.damaged:
            outcome.problems.append(f"damaged row: {damage}")
            outcome.damaged.append(
                {"table": damage.table, "key": damage.key, "problem": damage.problem}
            )
        if not findings.damaged:
            outcome.notes.append(
                f"every row reads back: {findings.documents} document(s), "
                f"{findings.updates} update(s), {findings.versions} version(s)"
            )
        return findings

    # -- output -------------------------------------------------------------------------------

    def show(self, outcome: Outcome) -> None:
        if self.json:
            return
        print(f"jupyter-collab database: {outcome.database}")
        for note in outcome.notes:
            print(f"  {note}")
        if outcome.counts:
            print("  " + ", ".join(f"{label}: {n:,}" for label, n in outcome.counts.items()))
        for problem in outcome.problems:
            print(f"  PROBLEM: {problem}")
        print("OK: no problem found." if outcome.ok else "The database has problems (above).")

    # -- the command --------------------------------------------------------------------------

    def run(self) -> int:
        self.positional()
        outcome, report, findings = self.diagnose()
        self.show(outcome)
        if outcome.ok:
            if self.json:
                self.emit(outcome.as_dict())
            return OK
        if not self.repair:
            if self.json:
                self.emit(outcome.as_dict())
            else:
                print("Run `jupyter collab check --repair` to repair it (servers stopped).")
            return FAILED
        where = self.where()
        repaired: list[str] = []
        try:
            if report is not None and not report.ok:
                if not self.json:
                    print("\nRepairing (the damaged file is kept aside, never changed):")
                done = repair(
                    where.db_path, COMPONENTS,
                    progress=lambda line: None if self.json else print(f"  {line}"),
                )  # fmt: skip
                repaired += [f"left out: {line}" for line in done.dropped]
                repaired.append(f"the damaged database is kept as {done.damaged_copy}")
                _, _, findings = self.diagnose()
            if findings is not None and findings.damaged:
                if not where.url:
                    _refuse_if_in_use(Path(where.db_path))
                else:
                    self._refuse_if_servers(where)
                with Catalog(db_path=where.db_path, url=where.url, write=True) as catalog:
                    repaired += repair_rows(catalog, findings)
        except RepairRefused as error:
            if self.json:
                self.emit({**outcome.as_dict(), "repairRefused": str(error)})
            else:
                print(f"Not repaired: {error}")
            return FAILED
        if not self.json:
            for line in repaired:
                print(f"  {line}")
            print()
        after, _, _ = self.diagnose()
        after.repaired = repaired
        self.show(after)
        if self.json:
            self.emit(after.as_dict())
        return OK if after.ok else FAILED

    def _refuse_if_servers(self, where: Any) -> None:
        from .restore import running_servers

        if running_servers(where.root_dir):
            raise RepairRefused("a Jupyter server of this folder is running: stop it first")


COUNTED = (
    ("documents with history", "collab_docs"),
    ("logged updates", "collab_updates"),
    ("version points", "collab_versions"),
    ("files with ids", "collab_files"),
    ("shares", "collab_shares"),
    ("notifications", "collab_notifications"),
    ("audit events", "collab_audit"),
)
