"""``jupyter collab restore PATH --version N``: make a version the current content again.

**A running server** restores it live, so everyone connected sees it at once: the command finds
the servers of this machine that serve the folder (Jupyter's runtime dir, as ``jupyter server
list`` does; or ``--url`` and ``--token``) and asks one through the history API
(``POST /api/collab/documents/{room}/restore``). The server then does everything a restore
from the history panel does: a forward edit crediting who wrote what it brings back, a version
before and after, the notice to the room, the audit entry, the save.

**No server running**: the command does what the server's restore does, on the store and the
file: the same edit (``merge.edit_from_base`` from the history's current content, credited by
``RestoreCredits``, with the restored version's provenance), appended to the log with the
``restore`` origin; the point before it kept as a version; a ``restore`` version
(``restoredFrom``); the audit entry; the file written; and its merge base recorded, so that the
next server start finds the file is the history's content and merges nothing.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from traitlets import Bool, Unicode

from ..documents.filesync import _digest
from ..documents.kinds import detect_eol
from ..history.content import value_at
from ..history.provenance import encode
from ..history.roomversions import version_json, version_reference
from ..history.service import _prepare_restore, marks_at
from ..origins import OriginKind
from ..persistence import AuditAction, AuditEvent, NewUpdate
from ..persistence.catalog import room_kind
from .base import (
    ALIASES,
    FLAGS,
    OK,
    CollabCommandBase,
    CommandError,
    UsageError,
    VersionOption,
    Where,
    find_version,
    run_with_store,
    when,
)
from .documents import resolve


def running_servers(root_dir: str) -> list[dict[str, Any]]:
    """The Jupyter servers of this machine (this user's runtime dir) that serve ``root_dir``."""
    from jupyter_server.serverapp import list_running_servers

    wanted = os.path.realpath(root_dir)
    return [
        info
        for info in list_running_servers()
        if os.path.realpath(info.get("root_dir") or info.get("notebook_dir") or "") == wanted
    ]


def server_targets(url: str, token: str, root_dir: str) -> list[tuple[str, str]]:
    """(base URL, token) of the running servers to ask: ``url`` if given (with ``token`` or
    $JUPYTER_TOKEN), else those of this machine's runtime dir that serve ``root_dir``."""
    if url:
        base = url if url.endswith("/") else url + "/"
        return [(base, token or os.environ.get("JUPYTER_TOKEN", ""))]
    found = []
    for info in running_servers(root_dir):
        found_url = info.get("url") or ""
        base_url = info.get("base_url") or "/"
        if not found_url:
            continue
        parts = urllib.parse.urlsplit(found_url)
        base = f"{parts.scheme}://{parts.netloc}{base_url}"
        found.append((base if base.endswith("/") else base + "/", token or info.get("token", "")))
    return found


def _request(url: str, token: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"token {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=300) as reply:
            return reply.status, json.loads(reply.read() or b"{}")
    except urllib.error.HTTPError as error:
        try:
            payload = json.loads(error.read() or b"{}")
        except ValueError:
            payload = {}
        return error.code, payload


class RestoreApp(VersionOption, CollabCommandBase):
    name = "jupyter-collab-restore"
    description = """Restore a version of a document as a new edit (nothing is lost: the
    content before is kept as a version). Through a running server of this folder when there
    is one (everyone connected sees it live), else on the store and the file directly."""
    examples = """
    jupyter collab restore analysis.ipynb --version 12
    jupyter collab restore notes.md --version "Before the refactoring" --user alice
    jupyter collab restore notes.md --version 12 --url http://host:8888/ --token $TOKEN
    """

    version = Unicode("", config=True, help="The version: its id (see `versions`) or its name.")
    url = Unicode(
        "", config=True, help="The running server to ask (default: found in the runtime dir)."
    )
    token = Unicode(
        "", config=True, help="Its API token (default: the found server's, or $JUPYTER_TOKEN)."
    )
    user = Unicode(
        "",
        config=True,
        help="Who restores, when no server runs (default: this system user). A server "
        "credits the user its token belongs to.",
    )
    offline = Bool(
        False,
        config=True,
        help="Restore on the store and file even if no server answers; refuses when a server "
        "of this folder is running.",
    )
    force = Bool(
        False,
        config=True,
        help="Without a server: restore even if the file was changed on disk after the "
        "server last saved it (those changes are then lost).",
    )
    aliases = {
        **ALIASES,
        "at-version": "RestoreApp.version",
        "url": "RestoreApp.url",
        "token": "RestoreApp.token",
        "user": "RestoreApp.user",
    }
    flags = {
        **FLAGS,
        "offline": ({"RestoreApp": {"offline": True}}, "Never go through a server."),
        "force": ({"RestoreApp": {"force": True}}, "Overwrite changes made on disk meanwhile."),
    }

    def run(self) -> int:
        (spelling,) = self.positional("path")
        if not self.version:
            raise UsageError(
                "--version is required (an id from `jupyter collab versions`, or a name)"
            )
        where = self.where()
        doc_id = resolve(where, spelling)
        settings = self.collab_settings()

        async def pick(store: Any, _ids: Any) -> Any:
            return await find_version(store, doc_id, self.version)

        version = run_with_store(where, pick, retention=settings.history_retention)
        servers = [] if self.offline else self._servers(where)
        if self.offline and running_servers(where.root_dir):
            raise CommandError(
                "a Jupyter server of this folder is running: restore through it (without "
                "--offline), or stop it first"
            )
        if servers:
            result = self._live(servers, doc_id, version.id)
        elif self.url:
            raise CommandError(f"the server at {self.url} did not answer")
        else:
            result = run_with_store(
                where,
                lambda store, ids: self._offline(where, store, ids, doc_id, version),
                retention=settings.history_retention,
            )
        if self.json:
            self.emit({"path": spelling, "room": doc_id, **result})
        else:
            v = result["version"]
            label = version.name or f"the version of {when(version.time)}"
            how = f"through the server at {result['server']}" if result.get("server") else (
                "on the store and the file (no server running)"
            )  # fmt: skip
            print(f"Restored {label} of {spelling} {how}.")
            print(f"New version {v['id']}; the content before is version {result['before']['id']}.")
        return OK

    # -- through a running server --------------------------------------------------------------

    def _servers(self, where: Where) -> list[tuple[str, str]]:
        """(base URL, token) of the servers to try."""
        return server_targets(self.url, self.token, where.root_dir)

    def _live(self, servers: list[tuple[str, str]], doc_id: str, version_id: int) -> dict[str, Any]:
        errors = []
        for base, token in servers:
            try:
                status, body = _request(f"{base}api/collab/status", token)
            except OSError as error:
                errors.append(f"{base}: {error}")
                continue
            if status != 200:
                errors.append(
                    f"{base}: status {status} ({body.get('message', 'no jupyter-collab?')})"
                )
                continue
            status, body = _request(
                f"{base}api/collab/documents/{urllib.parse.quote(doc_id, safe='')}/restore",
                token, "POST", {"version": version_id},
            )  # fmt: skip
            if status == 200:
                return {**body, "server": base}
            raise CommandError(f"the server at {base} refused the restore ({status}): "
                               f"{body.get('message') or body.get('reason') or body}")  # fmt: skip
        if self.url:
            raise CommandError("; ".join(errors))
        raise CommandError(
            "a Jupyter server of this folder is running but could not be asked ("
            + "; ".join(errors)
            + "): give --url and --token, or stop it"
        )

    # -- on the store and the file --------------------------------------------------------------

    async def _offline(
        self, where: Where, store: Any, ids: Any, doc_id: str, version: Any
    ) -> dict[str, Any]:
        from jupyter_server.services.contents.filemanager import FileContentsManager

        kind, file_id = room_kind(doc_id)
        username = self.user or getpass.getuser()
        cm = FileContentsManager(root_dir=where.root_dir)
        path = await ids.path_of(file_id)
        deleted = path is None
        if deleted:
            path = await ids.last_path(file_id)
            if path is None:
                raise CommandError(f"{doc_id} has no file any more")
            if cm.file_exists(path):
                raise CommandError(
                    f"{path} exists again: the deleted document cannot be restored there"
                )
        current = await store.load(doc_id)
        assert current is not None
        current_value = await asyncio.to_thread(value_at, current, kind)
        eol = "\n"
        if not deleted and cm.file_exists(path):
            model = await asyncio.to_thread(
                cm.get, path, content=True, type=kind.contents_type, format=kind.format
            )
            on_disk = kind.from_model(model["content"])
            if kind.format == "text":
                eol = detect_eol(model["content"] or "")
            if _digest(on_disk) != _digest(current_value) and not self.force:
                raise CommandError(
                    f"{path} was changed on disk after the server last saved it: start the "
                    "server (it merges the change into the history) and restore through it, "
                    "or use --force to overwrite the change"
                )
        target = await asyncio.to_thread(value_at, version.state, kind)
        marks = await marks_at(store, doc_id, kind, version)
        provenance = await asyncio.to_thread(encode, marks)
        update, credits = await asyncio.to_thread(
            _prepare_restore, kind, current, target, marks, username
        )
        now = time.time()
        seq_before = await store.last_seq(doc_id)
        latest = await store.list_versions(doc_id, limit=1)
        if latest and latest[0].seq >= seq_before:
            before = latest[0]
        else:
            before_id = await store.add_version(doc_id, seq_before, kind="auto", time=now)
            before = (await store.list_versions(doc_id, limit=1, before=before_id + 1))[0]
            await store.audit(AuditEvent(
                AuditAction.VERSION_CREATED.value, now, doc_id, None,
                {"version": before_id, "kind": "auto"},
            ))  # fmt: skip
        if deleted:
            await store.undelete(doc_id)
        if update is not None:
            await store.append_many(doc_id, [NewUpdate(
                update, OriginKind.RESTORE.value, username, now, credits, provenance
            )])  # fmt: skip
        after_id = await store.add_version(
            doc_id, await store.last_seq(doc_id), kind="restore", user=username, time=now,
            details={"restoredFrom": version_reference(version)},
        )  # fmt: skip
        after = (await store.list_versions(doc_id, limit=1, before=after_id + 1))[0]
        await store.audit(AuditEvent(
            AuditAction.VERSION_CREATED.value, now, doc_id, username,
            {"version": after_id, "kind": "restore"},
        ))  # fmt: skip
        await store.audit(AuditEvent(
            AuditAction.RESTORE.value, now, doc_id, username,
            {"version": version.id, "result": after_id, "path": path, "via": "command line"},
        ))  # fmt: skip
        # The file, and its merge base: the next server start finds the file is the history.
        state = await store.load(doc_id)
        value = await asyncio.to_thread(value_at, state, kind)
        await ids.set_base(file_id, state, _digest(value), fresh=deleted)
        await asyncio.to_thread(
            cm.save,
            {"type": kind.contents_type, "format": kind.format,
             "content": kind.to_model(value, eol)},
            path,
        )  # fmt: skip
        if deleted:
            await ids.revive(file_id, path)
        return {
            "restored": version.id,
            "before": version_json(before),
            "version": version_json(after),
            "server": None,
            "file": path,
        }
