"""``jupyter collab documents``, ``versions PATH`` and ``audit``: what the history holds."""

from __future__ import annotations

import math
import re
import time
from typing import Any

from traitlets import Bool, Int, Unicode

from ..history.roomversions import version_json
from ..persistence import UnknownDocument
from ..persistence.catalog import Catalog, NoDatabase
from ..timestamps import parse_time
from .base import ALIASES, FLAGS, OK, CollabCommandBase, CommandError, UsageError, Where, size, when


def open_catalog(where: Where) -> Catalog:
    try:
        return Catalog(db_path=where.db_path, url=where.url)
    except NoDatabase as error:
        raise CommandError(str(error)) from None
    except Exception as error:  # psycopg's OperationalError, a damaged SQLite file...
        raise CommandError(f"cannot open the database {where.shown}: {error}") from None


def resolve(where: Where, spelling: str) -> str:
    """The room id of PATH (or of a room id / file id given as is)."""
    with open_catalog(where) as catalog:
        try:
            return catalog.find(spelling, where.root)
        except LookupError as error:
            raise CommandError(str(error)) from None


def shown_path(row: Any) -> str:
    if row.path is not None:
        return row.path
    if row.last_path is not None:
        return f"{row.last_path} (deleted)"
    return "(unknown file)"


class DocumentsApp(CollabCommandBase):
    name = "jupyter-collab-documents"
    description = """List every document with history: its path, file id, last edit, number of
    versions and the size of its update log."""
    examples = """
    jupyter collab documents
    jupyter collab documents --json
    """

    def run(self) -> int:
        self.positional()
        where = self.where()
        with open_catalog(where) as catalog:
            rows = catalog.documents()
        if self.json:
            self.emit(
                {
                    "documents": [
                        {
                            "path": r.path,
                            "lastPath": r.last_path,
                            "root": r.root,
                            "room": r.room,
                            "fileId": r.file_id,
                            "kind": r.kind,
                            "deleted": r.deleted is not None,
                            "deletedAt": _iso(r.deleted),
                            "created": _iso(r.created),
                            "lastEdit": _iso(r.last_edit),
                            "lastSeq": r.last_seq,
                            "versions": r.versions,
                            "logEntries": r.log_entries,
                            "logBytes": r.log_bytes,
                            "historyBytes": r.history_bytes,
                        }
                        for r in rows
                    ]
                }
            )
            return OK
        roots = {r.root for r in rows}
        headers = ["path", "file id", "kind", "last edit", "versions", "log", "history"]
        if len(roots) > 1:
            headers.append("folder")
        self.table(
            headers,
            [
                [shown_path(r), r.file_id, r.kind, when(r.last_edit), r.versions,
                 f"{r.log_entries} ({size(r.log_bytes)})", size(r.history_bytes)]
                + ([r.root] if len(roots) > 1 else [])
                for r in rows
            ],
        )  # fmt: skip
        print(f"{len(rows)} document(s) with history in {where.shown}")
        return OK


def _iso(epoch: float | None) -> str | None:
    from .base import iso

    return iso(epoch)


class VersionsApp(CollabCommandBase):
    name = "jupyter-collab-versions"
    description = """List the versions of a document, newest first (as the history API's
    GET /api/collab/documents/{room}/versions does). PATH is relative to the served folder,
    or a room id."""
    examples = """
    jupyter collab versions analysis.ipynb
    jupyter collab versions notes/todo.md --json
    """

    def run(self) -> int:
        (spelling,) = self.positional("path")
        where = self.where()
        doc_id = resolve(where, spelling)
        settings = self.collab_settings()

        async def work(store: Any, _ids: Any) -> list[dict[str, Any]]:
            versions: list[dict[str, Any]] = []
            before = None
            while True:
                try:
                    page = await store.list_versions(doc_id, limit=1000, before=before)
                except UnknownDocument:
                    return versions
                versions.extend(version_json(v) for v in page)
                if len(page) < 1000:
                    return versions
                before = page[-1].id

        from .base import run_with_store

        versions = run_with_store(where, work, retention=settings.history_retention)
        if self.json:
            self.emit({"path": spelling, "room": doc_id, "versions": versions})
            return OK
        self.table(
            ["id", "time", "kind", "name", "by", "authors", "size"],
            [
                [v["id"], when(parse_time(v["time"])), v["kind"], _label(v), v["createdBy"],
                 ", ".join(v["authors"]) or "-", size(v["size"])]
                for v in versions
            ],
        )  # fmt: skip
        print(f"{len(versions)} version(s) of {spelling} ({doc_id})")
        return OK


def _label(version: dict[str, Any]) -> str | None:
    if version["name"]:
        return version["name"]
    restored = version.get("restoredFrom")
    if restored:
        return f"restored {restored.get('name') or restored.get('time')}"
    return None


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.ASCII)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(value: str, now: float | None = None) -> float:
    """ISO 8601, epoch seconds, or a duration back from now (``30m``, ``2h``, ``7d``)."""
    match = _DURATION.fullmatch(value.strip())
    if match:
        return (time.time() if now is None else now) - float(match.group(1)) * _UNITS[
            match.group(2)
        ]
    try:
        result = parse_time(value)
    except (ValueError, OverflowError):
        raise UsageError(
            f"--since {value!r}: give an ISO 8601 time (2026-11-25T10:00), epoch seconds or a "
            "duration (30m, 2h, 7d)"
        ) from None
    if not math.isfinite(result):
        raise UsageError(f"--since {value!r} is not a finite time")
    return result


FOLLOW_TIMEOUT = 60.0  # seconds without a line (the server sends one every 15 s) = gone


class AuditApp(CollabCommandBase):
    name = "jupyter-collab-audit"
    description = """Show the audit log (who joined, saved, restored, shared...), newest first,
    as GET /api/collab/audit does. Filters: --path, --user, --action, --since. With --follow,
    print the events as they happen on any server of the group, through a running server
    (GET /api/collab/audit/follow), until Ctrl+C."""
    examples = """
    jupyter collab audit --since 2h
    jupyter collab audit --path analysis.ipynb --user alice
    jupyter collab audit --since 2026-11-01 --limit 0 --json
    jupyter collab audit --follow
    jupyter collab audit --follow --action save --url http://host:8888/ --token $TOKEN --json
    """

    path = Unicode("", config=True, help="Only events of this document (a path or room id).")
    user = Unicode("", config=True, help="Only events of this user.")
    action = Unicode("", config=True, help="Only events of this action (join, save, restore...).")
    since = Unicode(
        "", config=True, help="Only events at or after this time (ISO 8601, epoch, or 2h, 7d...)."
    )
    limit = Int(100, config=True, help="At most this many events (0: all).")
    follow = Bool(
        False,
        config=True,
        help="Print events as they happen, on every server of the group, through a running "
        "server, until interrupted.",
    )
    url = Unicode(
        "", config=True, help="With --follow: the server to follow through (default: found in "
        "the runtime dir).",
    )  # fmt: skip
    token = Unicode(
        "", config=True, help="Its API token (default: the found server's, or $JUPYTER_TOKEN)."
    )
    aliases = {
        **ALIASES,
        "path": "AuditApp.path",
        "user": "AuditApp.user",
        "action": "AuditApp.action",
        "since": "AuditApp.since",
        "limit": "AuditApp.limit",
        "url": "AuditApp.url",
        "token": "AuditApp.token",
    }
    flags = {
        **FLAGS,
        "follow": ({"AuditApp": {"follow": True}}, "Print events live, until Ctrl+C."),
    }

    def run(self) -> int:
        from ..persistence.model import AuditAction
        from .base import run_with_store

        self.positional()
        if self.limit < 0:
            raise UsageError(f"--limit must be 0 (all) or more, not {self.limit}")
        actions = {a.value for a in AuditAction}
        if self.action and self.action not in actions:
            raise UsageError(
                f"unknown --action {self.action!r} (one of {', '.join(sorted(actions))})"
            )
        since = parse_since(self.since) if self.since else None
        where = self.where()
        if self.follow:
            if since is not None:
                raise UsageError("--since does not go with --follow (the events from now on)")
            doc_id = None
            if self.path:
                doc_id = self.path if ":" in self.path else resolve(where, self.path)
            return self._follow(where, doc_id)
        elif self.url or self.token:
            raise UsageError("--url and --token go with --follow")
        doc_id = resolve(where, self.path) if self.path else None
        paths = {}
        with open_catalog(where) as catalog:
            for row in catalog.documents():
                paths[row.room] = shown_path(row)
        settings = self.collab_settings()

        async def work(store: Any, _ids: Any) -> list[Any]:
            events: list[Any] = []
            cursor = None
            while True:
                page = 1000 if not self.limit else min(1000, self.limit - len(events))
                found, cursor = await store.query_audit(
                    doc_id=doc_id, user=self.user or None, action=self.action or None,
                    since=since, limit=page, cursor=cursor,
                )  # fmt: skip
                events.extend(found)
                if cursor is None or (self.limit and len(events) >= self.limit):
                    return events

        events = run_with_store(where, work, retention=settings.history_retention)
        if self.json:
            self.emit(
                {
                    "events": [
                        {
                            "id": e.id,
                            "action": e.action,
                            "time": _iso(e.time),
                            "document": e.doc_id,
                            "path": paths.get(e.doc_id) if e.doc_id else None,
                            "user": e.user,
                            "details": dict(e.details),
                        }
                        for e in events
                    ]
                }
            )
            return OK
        self.table(
            ["time", "action", "user", "path", "details"],
            [
                [when(e.time), e.action, e.user, paths.get(e.doc_id, e.doc_id),
                 ", ".join(f"{k}={v}" for k, v in e.details.items()) or None]
                for e in events
            ],
        )  # fmt: skip
        print(f"{len(events)} event(s)")
        return OK

    def _follow(self, where: Where, doc_id: str | None) -> int:
        """Print the events of GET /api/collab/audit/follow of the first server that answers."""
        import json
        import sys
        import urllib.error
        import urllib.parse
        import urllib.request

        from .restore import server_targets

        targets = server_targets(self.url, self.token, where.root_dir)
        if not targets:
            raise CommandError(
                "no running server of this folder to follow through: start one, or give "
                "--url and --token"
            )
        query = {"document": doc_id, "user": self.user, "action": self.action}
        params = urllib.parse.urlencode({k: v for k, v in query.items() if v})
        errors = []
        for base, token in targets:
            request = urllib.request.Request(
                f"{base}api/collab/audit/follow" + (f"?{params}" if params else ""),
                headers={"Authorization": f"token {token}"} if token else {},
            )
            try:
                reply = urllib.request.urlopen(request, timeout=FOLLOW_TIMEOUT)
            except urllib.error.HTTPError as error:
                try:
                    message = json.loads(error.read() or b"{}").get("message", "")
                except ValueError:
                    message = ""
                errors.append(f"{base}: status {error.code} {message}".rstrip())
                continue
            except OSError as error:
                errors.append(f"{base}: {error}")
                continue
            try:
                with reply:
                    return self._print_follow(base, reply, sys.stdout)
            except KeyboardInterrupt:
                return OK
            except OSError as error:  # (a timeout: the server stopped answering)
                raise CommandError(f"following through {base} stopped: {error}") from None
        raise CommandError("cannot follow the audit log: " + "; ".join(errors))

    def _print_follow(self, base: str, reply: Any, out: Any) -> int:
        import json
        import sys

        for raw in reply:
            line = raw.strip()
            if not line:
                continue  # (a keep-alive)
            data = json.loads(line)
            if data.get("following"):
                print(f"Following the audit log through {base} (Ctrl+C to stop)", file=sys.stderr)
                sys.stderr.flush()
                continue
            if self.json:
                out.write(json.dumps(data) + "\n")
            else:
                details = ", ".join(f"{k}={v}" for k, v in (data.get("details") or {}).items())
                fields = [data.get("time"), data.get("action"), data.get("user"),
                          data.get("path") or data.get("document"), details]  # fmt: skip
                out.write("  ".join(str(f) if f else "-" for f in fields) + "\n")
            out.flush()
        raise CommandError(f"the server at {base} ended the follow (stopped, or access lost)")
