"""``jupyter collab check [--repair]``: what is wrong with the database, and a way out."""

from __future__ import annotations

from traitlets import Bool

from ..persistence.repair import RepairRefused, Report, check, repair
from ..tables import COMPONENTS
from .base import FLAGS, CollabCommandBase


class CheckApp(CollabCommandBase):
    name = "jupyter-collab-check"
    description = """Check jupyter-collab's database (history, file ids, shares).

    Says whether it can be used, and if not why: damaged, truncated, written by a newer
    version. With --repair, salvages every row that can still be read into a fresh database
    in its place and keeps the damaged file aside (stop the servers using it first).
    Exits with 0 when the database is sound (after the repair, with --repair), 1 otherwise.
    """
    examples = """
    jupyter collab check
    jupyter collab check --repair
    jupyter collab check --db /path/to/collab.db
    """

    repair = Bool(False, config=True, help="Salvage a damaged database into a fresh one.")
    flags = {
        **FLAGS,
        "repair": ({"CheckApp": {"repair": True}}, "Salvage a damaged database into a fresh one."),
    }

    def show(self, report: Report) -> None:
        print(f"jupyter-collab database: {report.path}")
        for note in report.notes:
            print(f"  {note}")
        if report.counts:
            print("  " + ", ".join(f"{label}: {n:,}" for label, n in report.counts.items()))
        for problem in report.problems:
            print(f"  PROBLEM: {problem}")
        print("OK: no problem found." if report.ok else "The database has problems (above).")

    def start(self) -> None:
        path = self.db_path
        report = check(path, COMPONENTS, self.outage_dir)
        self.show(report)
        if report.ok:
            self.exit(0)
        if not self.repair:
            print("Run `jupyter collab check --repair` to salvage it into a fresh database.")
            self.exit(1)
        print("\nRepairing (the damaged file is kept aside, never changed):")
        try:
            done = repair(path, COMPONENTS, progress=lambda line: print(f"  {line}"))
        except RepairRefused as exc:
            print(f"Not repaired: {exc}")
            self.exit(1)
        for line in done.dropped:
            print(f"  left out: {line}")
        print(f"The damaged database is kept as {done.damaged_copy}")
        print()
        after = check(path, COMPONENTS, self.outage_dir)
        self.show(after)
        self.exit(0 if after.ok else 1)
