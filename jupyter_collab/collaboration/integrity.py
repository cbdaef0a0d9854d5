"""What may enter a room's document: verified updates, and refused edits that stay refused.

Three rules, each for a way a room used to lose or split content:

1. **Nothing is applied that would leave part of it waiting.** pycrdt (yrs 0.28) keeps the
   structs of an update whose dependencies are missing as "pending", and then integrates a
   later struct of the same client even though the client's earlier struct is still pending:
   the room shows (and saves) content whose clock it does not count, its update event is empty
   so live clients never receive it, a fresh client does, and a reload of the room from its log
   drops it. So every update from a client is read first (``protocol/updates.py``) and its
   integration is simulated against the room's state vector. An update that would leave
   anything waiting is not applied; the client is asked to resync (sync step 1: a Yjs client
   answers with everything the room lacks), and if its answer still lacks what its edits build
   on, its copy has diverged: it is told so and closed with ``4409`` (reload the document).

2. **A refused edit is never applied later.** An update from a viewer is refused, but it stays
   in the viewer's document, and a stock client (y-websocket) sends it again on reconnect and
   builds its later edits on it. The room consumes the clock ranges of a refused update with
   tombstones (deleted items, no content) and deletes them in the same update: the refused
   content can never enter the room, the client's later edits integrate (their clocks follow
   on), and the client itself sees its refused text removed. The client keeps its refused
   items (deleted) where it typed them and anchors its later edits on them, and Yjs files an
   item in the parent of its origin, so a tombstone keeps the refused item's place whenever
   that hides nothing: every item of a sequence (text, array; an append at the end or the
   first item of an empty sequence too) whose anchors the room has. Only map entries (whose
   tombstone in place would hide the value they replaced) and items whose neighbours the room
   lacks become tombstones in a root nobody reads (:data:`HIDDEN_ROOT`); the room remembers
   where they stood, and an editor's later item anchored on one is re-anchored there (its
   author shows it in the same place), or, if that place is unknown, handled like an update
   building on something the room lacks (resync, else a reload notice). Before, an append was
   hidden, and a promoted client's next append was filed under the hidden root: nobody else
   saw it and the file never got it. Deletions in a refused update cannot be tombstoned: the
   room remembers them per user and strips them from that user's later state dumps (sync
   step 2), where a stock client sends them again. Only client ids that belong to the viewer
   (never seen, or seen only from the same user) are tombstoned, so a viewer cannot burn the
   clocks of someone else's client.

3. **What the room shows is what it saves and broadcasts.** With rule 1 nothing is ever pending
   in the room, so the document that autosave, versions and fresh clients read is the sum of
   the updates live clients received. After each applied update the room's state vector is
   compared with the simulation, and a difference is logged as an error.

Costs: reading an update is linear in its size (about 20 us for a keystroke; a 450 KB
notebook state dump about 0.1 s) and the check needs the room's state vector (linear in the
number of client ids), never a copy of the document. An update of 64 KiB or more is read and
checked on a worker thread (``Room._admit_off_loop``, :meth:`RoomIntegrity.check`), so that a
reconnect with lots of offline work does not stall every room of the server; only if the room
changed meanwhile is the simulation run again (not the reading), on the loop.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from ..protocol.updates import (
    ID,
    SKIP_REF,
    Struct,
    Update,
    decode_state_vector,
    encode_delete_set,
    encode_structs,
    moved,
    read_update,
    tombstone,
    with_delete_set,
)

HIDDEN_ROOT = "jupyter-collab:refused"
"""The root type holding tombstones of refused edits that cannot keep their place."""

DIVERGED_TEXT = (
    "your copy of the document holds changes the room does not have and cannot take: "
    "reload the document"
)

_HIDDEN_MARK = HIDDEN_ROOT.encode()

MAX_REMEMBERED_RANGES = 10_000  # refused deletions remembered per room
MAX_HIDDEN_ITEMS = 10_000  # anchors of hidden tombstones remembered per room (see _replace)
MAX_WAITING_UPDATES = 200  # updates ignored while waiting for a resync answer

Ranges = dict[int, list[tuple[int, int]]]  # client -> [(start, end)], sorted, disjoint


def resolve(update: Update, known: dict[int, int]) -> dict[int, int] | None:
    """Simulate integrating ``update`` into a document whose state vector is ``known``.

    Returns the state vector afterwards, or None if some struct or deletion would have to wait
    for something neither the document nor the update holds (or for a cycle within the update).
    Each struct is visited once.
    """
    state = dict(known)
    position = dict.fromkeys(update.blocks, 0)
    blocks = update.blocks

    def satisfied(dep: tuple[int, int]) -> bool:
        return dep[1] < state.get(dep[0], 0)

    for target, structs in blocks.items():
        last = max((s.end for s in structs if s.ref != SKIP_REF), default=0)
        if last == 0:
            continue  # nothing but Skips
        stack: list[tuple[int, int]] = [(target, last - 1)]
        waiting = {target}
        while stack:
            client, needed = stack[-1]
            if state.get(client, 0) > needed:
                stack.pop()
                waiting.discard(client)
                continue
            own = blocks.get(client)
            index = position.get(client, 0)
            if own is None or index >= len(own):
                return None  # the room lacks what the update builds on
            struct = own[index]
            have = state.get(client, 0)
            if struct.clock > have:
                return None  # a gap before this client's struct
            if struct.end <= have:
                position[client] = index + 1  # already in the document
                continue
            if struct.ref == SKIP_REF:
                return None  # the update leaves out a range the document lacks
            blocked = None
            for dep in struct.dependencies():
                if satisfied(dep) or (struct.clock < have and dep == struct.origin):
                    continue
                if dep[0] == client or dep[0] in waiting:
                    return None  # depends on itself, a later struct, or a cycle
                blocked = dep
                break
            if blocked is not None:
                stack.append(blocked)
                waiting.add(blocked[0])
                continue
            state[client] = struct.end
            position[client] = index + 1
    for client, ranges in update.delete_set.items():
        have = state.get(client, 0)
        if any(start + length > have for start, length in ranges):
            return None  # deletes something the room does not have (it would wait)
    return state


def _add_range(ranges: Ranges, client: int, start: int, end: int) -> None:
    spans = ranges.setdefault(client, [])
    spans.append((start, end))
    spans.sort()
    merged = [spans[0]]
    for s, e in spans[1:]:
        if s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    ranges[client] = merged


def _remove_range(ranges: Ranges, client: int, start: int, end: int) -> None:
    spans = ranges.get(client)
    if spans:
        kept = [(s, s + n) for s, n in _subtract([(a, b - a) for a, b in spans], [(start, end)])]
        ranges[client] = kept


def _contains(ranges: Ranges, client: int, clock: int) -> bool:
    return any(s <= clock < e for s, e in ranges.get(client, ()))


def _subtract(
    deletes: list[tuple[int, int]], refused: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """``deletes`` ((clock, len) pairs) without the clock ranges in ``refused``."""
    out = []
    for start, length in deletes:
        pieces = [(start, start + length)]
        for rs, re_ in refused:
            next_pieces = []
            for s, e in pieces:
                if re_ <= s or rs >= e:
                    next_pieces.append((s, e))
                    continue
                if s < rs:
                    next_pieces.append((s, rs))
                if re_ < e:
                    next_pieces.append((re_, e))
            pieces = next_pieces
        out += [(s, e - s) for s, e in pieces]
    return out


@dataclass
class Verdict:
    """What the room should do with a client's update."""

    update: bytes | None  # the update to apply (possibly with refused deletions stripped)
    expected: dict[int, int] | None  # the room's state vector once it is applied
    missing: bool = False  # it builds on something the room lacks
    stripped: bool = False  # deletions this user had been refused were removed from it
    replaced: int = 0  # items anchored on hidden refused items, moved to where they show
    parsed: Update | None = field(default=None, repr=False)  # the update, as read
    known: dict[int, int] | None = field(default=None, repr=False)  # room's SV when checked


class RoomIntegrity:
    """The per-room memory and checks behind the three rules above."""

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self._refused_deletes: dict[str, Ranges] = {}  # username -> items not to delete
        self.unsaved: set[str] = set()  # users whose refused deletions the store lacks
        self._remembered = 0
        self._hidden: Ranges = {}  # clock ranges tombstoned in HIDDEN_ROOT
        self._placed: Ranges = {}  # clock ranges tombstoned in place (deleted, no content)
        # the refused items behind hidden tombstones, per client in clock order: where their
        # author placed them (their anchors), for later items anchored on them (_replace)
        self._hidden_items: dict[int, list[Struct]] = {}
        self._hidden_count = 0
        self._owners: dict[int, str] = {}  # client id -> the user whose connection sent it
        self._waiting: WeakKeyDictionary[Any, int] = WeakKeyDictionary()  # resync asked
        self.mismatches = 0  # updates integrated differently than simulated (rule 3)

    # -- updates from editors --------------------------------------------------------------

    def admit(
        self, username: str, state_dump: bool, payload: bytes, state: bytes
    ) -> Verdict:  # fmt: skip
        """Check an editor's update against the room's state vector ``state``.

        ``state_dump`` is true for a sync step 2, which carries the sender's whole delete set:
        deletions refused to this user before are taken out of it.
        """
        return self.accept(username, self.check(username, state_dump, payload, state))

    def check(self, username: str, state_dump: bool, payload: bytes, state: bytes) -> Verdict:
        """:meth:`admit` without recording anything: safe to run on a worker thread (a large
        state dump takes ~0.1 s per 450 KB to read and resolve, which must not stall the
        event loop), then :meth:`accept` it on the loop, once :meth:`recheck`-ed if the room
        changed meanwhile."""
        update = read_update(payload)
        stripped = False
        refused = self._refused_deletes.get(username)
        if state_dump and refused and update.delete_set:
            delete_set = {}
            for client, deletes in update.delete_set.items():
                kept = _subtract(deletes, list(refused.get(client, [])))
                if kept:
                    delete_set[client] = kept
            if delete_set != update.delete_set:
                payload = with_delete_set(payload, update, delete_set)
                update.delete_set = delete_set
                stripped = True
        replaced = 0
        if self._hidden:
            rewritten = self._replace(payload, update)
            if rewritten is None:  # anchored on a hidden item whose place is not known
                return Verdict(None, None, missing=True, parsed=update)
            payload, update, replaced = rewritten
        known = decode_state_vector(state)
        after = resolve(update, known)
        if after is None:
            return Verdict(None, None, missing=True, parsed=update, known=known)
        return Verdict(
            payload, after, stripped=stripped, replaced=replaced, parsed=update, known=known
        )

    def recheck(self, verdict: Verdict, state: bytes) -> Verdict:
        """``verdict`` (from :meth:`check` against an older state of the room) against the
        room's state vector now: only the simulation runs again, not the reading."""
        update = verdict.parsed
        assert update is not None
        known = decode_state_vector(state)
        after = resolve(update, known)
        if after is None or self._anchored_on_hidden(update):
            # (a refusal meanwhile hid an item this update builds on: it would have been
            # re-anchored, so the client is asked for it again, to be checked afresh)
            return Verdict(None, None, missing=True, parsed=update, known=known)
        payload = verdict.update
        return Verdict(
            payload, after, stripped=verdict.stripped, replaced=verdict.replaced, parsed=update,
            known=known,
        )  # fmt: skip

    def accept(self, username: str, verdict: Verdict) -> Verdict:
        """Record who owns the client ids an admitted update brings (see :meth:`refuse`)."""
        if verdict.missing or verdict.parsed is None or verdict.expected is None:
            return verdict
        known = verdict.known or {}
        for client in verdict.parsed.blocks:
            if verdict.expected.get(client, 0) > known.get(client, 0):
                self._owners.setdefault(client, username)
        return verdict

    def check_applied(self, expected: dict[int, int] | None, state: bytes, room_id: str) -> bool:
        """Whether the room's state vector is what the simulation said (rule 3's tripwire)."""
        if expected is None:
            return True
        actual = decode_state_vector(state)
        if all(actual.get(c, 0) == clock for c, clock in expected.items() if clock):
            return True
        self.mismatches += 1
        self.log.error(
            "Room %s integrated an update differently than verified: expected %s, got %s",
            room_id,
            expected,
            actual,
        )
        return False

    # -- resync when an update builds on something missing -------------------------------

    def missing(self, participant: Any, state_dump: bool) -> str:
        """What to do about an update with missing dependencies: ``"resync"`` (ask the client
        for everything the room lacks), ``"wait"`` (a resync is under way: its answer will
        carry this too) or ``"diverged"`` (the client's own answer lacks it: close it)."""
        asked = self._waiting.get(participant)
        if asked is None:
            self._waiting[participant] = 0
            return "resync"
        if state_dump or asked >= MAX_WAITING_UPDATES:
            self._waiting.pop(participant, None)
            return "diverged"
        self._waiting[participant] = asked + 1
        return "wait"

    def synced(self, participant: Any) -> None:
        """A state dump from the participant was applied: any resync is over."""
        self._waiting.pop(participant, None)

    # -- updates from viewers --------------------------------------------------------------

    def refuse(self, username: str, payload: bytes, state: bytes) -> bytes | None:
        """A viewer's update is refused: return the update that consumes its clock ranges
        (tombstones, deleted), or None if it inserts nothing the room could take later.

        Its deletions are remembered for ``username`` (see :meth:`admit`).
        """
        update = read_update(payload)
        known = decode_state_vector(state)
        self._remember_deletes(username, update, known)
        blocks: dict[int, list[bytes]] = {}
        starts: dict[int, int] = {}
        placed: Ranges = {}  # in-place tombstones of this update
        for client, structs in update.blocks.items():
            start = known.get(client, 0)
            end = max((s.end for s in structs if s.ref != SKIP_REF), default=0)
            if end <= start or not self._may_tombstone(client, username, start):
                continue
            encoded = self._tombstones(client, structs, start, end, placed, known)
            if encoded:
                blocks[client] = encoded
                starts[client] = start
                self._owners.setdefault(client, username)
        if not blocks:
            return None
        deletes = {c: [(starts[c], _block_end(update.blocks[c], starts[c]) - starts[c])]
                   for c in blocks}  # fmt: skip
        result = encode_structs(blocks, starts) + encode_delete_set(deletes)
        if resolve(read_update(result), known) is None:  # never expected: be safe all the same
            self.log.error("Tombstones for a refused update would wait; hiding them all")
            for client in blocks:
                blocks[client] = [
                    tombstone(
                        Struct(client, starts[client], deletes[client][0][1], SKIP_REF), HIDDEN_ROOT
                    )  # fmt: skip
                ]
            result = encode_structs(blocks, starts) + encode_delete_set(deletes)
            for client, spans in placed.items():
                for start, end in spans:
                    _remove_range(self._placed, client, start, end)
            placed = {}
        for client, ranges in deletes.items():
            for start, length in ranges:
                for s, e in _subtract([(start, length)], placed.get(client, [])):
                    _add_range(self._hidden, client, s, s + e)
        return result

    def _may_tombstone(self, client: int, username: str, known_clock: int) -> bool:
        """A client id is the viewer's to burn if nobody else sent it: never seen by the room,
        or seen only from this user."""
        owner = self._owners.get(client)
        if owner is not None:
            return owner == username
        return known_clock == 0

    def _tombstones(
        self,
        client: int,
        structs: list[Struct],
        start: int,
        end: int,
        placed: Ranges,
        known: dict[int, int],
    ) -> list[bytes]:
        """Tombstones covering [start, end) of ``client``, in clock order."""
        out: list[bytes] = []
        clock = start
        for s in structs:
            if s.end <= clock:
                continue
            if s.clock > clock:  # a gap the update does not cover
                out.append(_hidden(client, clock, s.clock - clock))
                clock = s.clock
            if s.clock < clock or s.ref == SKIP_REF:
                out.append(_hidden(client, clock, s.end - clock))
            elif self._keeps_place(s, placed, known):
                out.append(tombstone(s, HIDDEN_ROOT, in_place=True))
                _add_range(placed, client, s.clock, s.end)
                _add_range(self._placed, client, s.clock, s.end)
            else:
                out.append(tombstone(s, HIDDEN_ROOT, key=_anchors_key(s)))
                self._remember_hidden(s)
            clock = s.end
        if clock < end:
            out.append(_hidden(client, clock, end - clock))
        return out

    def _keeps_place(self, s: Struct, placed: Ranges, known: dict[int, int]) -> bool:
        """Whether the tombstone of ``s`` can sit where ``s`` would, hiding nothing: an item
        of a sequence (a text, an array: never a map entry, whose tombstone would hide the
        value it replaced) whose anchors are items the room shows or tombstones placed
        before. The first item of an empty sequence is anchored on its parent instead, which
        must be a type the room has (not a refused one)."""
        if not s.is_item or s.keyed:
            return False
        anchors = [dep for dep in (s.origin, s.right_origin) if dep is not None]
        if not anchors:
            if s.parent_root is not None:
                return s.parent_root != HIDDEN_ROOT
            parent = s.parent_item
            return (
                parent is not None
                and parent[1] < known.get(parent[0], 0)
                and not self._is_tombstone(parent, placed)
            )
        for dep in anchors:
            if _contains(self._hidden, *dep):
                return False
            if not (_contains(placed, *dep) or dep[1] < known.get(dep[0], 0)):
                return False
        return True

    def observe(self, update: bytes) -> None:
        """Note the hidden tombstones an update the room applied brings, whoever made them:
        a resume from the log, another server's refusal on the bus. Each carries the anchors
        of the refused item it stands for in its key (:func:`_anchors_key`), so an editor's
        item anchored on it is re-anchored on any server and after any reload; one without
        (a gap, or a tombstone older than this) leaves the item to the resync/diverged path
        rather than out of sight."""
        if _HIDDEN_MARK not in update:  # a substring search: the common case costs ~nothing
            return
        try:
            parsed = read_update(update)
        except Exception:  # the room's own encoding: never expected
            self.log.exception("Could not read an update the room applied")
            return
        for client, structs in parsed.blocks.items():
            for s in structs:
                if s.parent_root == HIDDEN_ROOT:
                    _add_range(self._hidden, client, s.clock, s.end)
                    anchors = _anchors_of(s)
                    if anchors is not None:
                        self._remember_hidden(anchors)

    def _is_tombstone(self, dep: ID, placed: Ranges) -> bool:
        return any(_contains(r, *dep) for r in (placed, self._placed, self._hidden))

    def _remember_hidden(self, s: Struct) -> None:
        """Keep where a refused item stood, whose tombstone went to the hidden root."""
        if self._hidden_count >= MAX_HIDDEN_ITEMS:
            return
        items = self._hidden_items.setdefault(s.client, [])
        if any(item.clock == s.clock for item in items):
            return
        items.append(s)
        items.sort(key=lambda item: item.clock)
        self._hidden_count += 1

    def _hidden_item(self, dep: ID) -> Struct | None:
        """The remembered refused item that ``dep`` belongs to, if any."""
        for item in self._hidden_items.get(dep[0], ()):
            if item.clock <= dep[1] < item.end:
                return item
        return None

    # -- later edits anchored on hidden refused items --------------------------------------
    #
    # A client keeps its refused items (deleted) where it typed them, and anchors its later
    # items on them: Yjs puts an item in the parent of its origin (Item.integrate), so an
    # item whose origin is a tombstone in the hidden root would be filed there, shown to
    # nobody, and never saved, although its author sees it. Most refused items keep their
    # place (sequence items); the others (map entries, items whose neighbours the room
    # lacked) are remembered with their anchors, and an editor's item anchored on one is
    # re-anchored where the refused item stood (its origin, right origin or parent and key,
    # followed through further hidden items): everyone then shows it where its author does.

    def _anchored_on_hidden(self, update: Update) -> bool:
        hidden = self._hidden
        return bool(hidden) and any(
            dep is not None and _contains(hidden, *dep)
            for structs in update.blocks.values()
            for s in structs
            if s.is_item
            for dep in (s.origin, s.right_origin, s.parent_item)
        )

    def _replace(self, payload: bytes, update: Update) -> tuple[bytes, Update, int] | None:
        """``payload`` with its items anchored on hidden refused items re-anchored; None if
        one is anchored on a hidden range whose place is not known (the room then treats it
        as an update building on what it lacks: resync, or reload with a notice)."""
        hidden = self._hidden
        changed: dict[int, dict[int, bytes]] = {}  # client -> struct index -> new bytes
        for client, structs in update.blocks.items():
            for index, s in enumerate(structs):
                if not s.is_item:
                    continue
                deps = (s.origin, s.right_origin, s.parent_item)
                if not any(dep is not None and _contains(hidden, *dep) for dep in deps):
                    continue
                anchors = self._visible_anchors(s)
                if anchors is None:
                    self.log.warning(
                        "An update is anchored on a refused item whose place is unknown"
                    )
                    return None
                changed.setdefault(client, {})[index] = moved(s, payload, anchors)
        if not changed:
            return payload, update, 0
        blocks: dict[int, list[bytes]] = {}
        starts: dict[int, int] = {}
        for client, structs in update.blocks.items():
            mine = changed.get(client, {})
            blocks[client] = [
                mine.get(i) or payload[s.start : s.end_at] for i, s in enumerate(structs)
            ]
            starts[client] = structs[0].clock
        result = encode_structs(blocks, starts) + payload[update.structs_end :]
        count = sum(len(c) for c in changed.values())
        self.log.debug("Re-anchored %d item(s) built on refused ones", count)
        return result, read_update(result), count

    def _visible_anchors(self, s: Struct) -> Struct | None:
        """Anchors for ``s`` outside hidden refused items (a Struct used only for them)."""
        origin, right = s.origin, s.right_origin
        parent = Struct(s.client, s.clock, s.length, s.ref, parent_item=s.parent_item,
                        parent_root=s.parent_root, parent_sub=s.parent_sub)  # fmt: skip
        for _ in range(MAX_HIDDEN_ITEMS):
            if origin is not None and _contains(self._hidden, *origin):
                item = self._hidden_item(origin)
                if item is None:
                    return None
                origin = item.origin
                if origin is None and item.right_origin is None:
                    parent = item
                elif origin is None and right is None:
                    right = item.right_origin
                continue
            if right is not None and _contains(self._hidden, *right):
                item = self._hidden_item(right)
                if item is None:
                    return None
                right = item.right_origin
                if origin is None and right is None:
                    if item.origin is not None:
                        origin = item.origin
                    else:
                        parent = item
                continue
            if origin is None and right is None:
                if parent.parent_item is not None and _contains(self._hidden, *parent.parent_item):
                    return None  # inside a refused type: nowhere to show it
                if parent.parent_item is None and parent.parent_root is None:
                    return None
                if s.keyed and parent.parent_sub is None:
                    return None
            return Struct(
                s.client, s.clock, s.length, s.ref, origin, right,
                None if origin or right else parent.parent_item,
                None if origin or right else parent.parent_root,
                None if origin or right else parent.parent_sub,
            )  # fmt: skip
        return None

    def _remember_deletes(self, username: str, update: Update, known: dict[int, int]) -> None:
        if not update.delete_set or self._remembered >= MAX_REMEMBERED_RANGES:
            return
        ranges = self._refused_deletes.setdefault(username, {})
        for client, deletes in update.delete_set.items():
            have = known.get(client, 0)
            for start, length in deletes:
                end = min(start + length, have)
                if start < end:
                    _add_range(ranges, client, start, end)
                    self._remembered += 1
                    self.unsaved.add(username)

    # -- durability of refused deletions ---------------------------------------------------
    #
    # A stock client keeps the deletions it was refused in its own document and sends them
    # again in every state dump, also after a promotion to editor: they must be remembered
    # beyond the room's life in memory (an idle room is unloaded, a server restarts). The room
    # stores what :meth:`remembered` gives (``DocumentStore.remember_refused``) after each
    # refusal that added some, and gives them back with :meth:`restore` when it loads.

    def remembered(self, username: str) -> str:
        """The deletions refused to ``username``, as text for the store."""
        ranges = self._refused_deletes.get(username, {})
        return json.dumps({str(client): spans for client, spans in ranges.items()})

    def restore(self, stored: dict[str, str]) -> None:
        """Take back the refused deletions the store kept for this document (merged with any
        remembered meanwhile); malformed entries are skipped."""
        for username, text in stored.items():
            try:
                loaded = json.loads(text)
                ranges = {
                    int(client): [(int(s), int(e)) for s, e in spans if int(s) < int(e)]
                    for client, spans in loaded.items()
                }
            except (ValueError, TypeError, AttributeError):
                self.log.warning("Skipping malformed refused deletions of %s", username)
                continue
            mine = self._refused_deletes.setdefault(username, {})
            for client, spans in ranges.items():
                for start, end in spans:
                    _add_range(mine, client, start, end)
                    self._remembered += 1


def _anchors_key(s: Struct) -> str:
    """The key of a hidden tombstone: where the refused item ``s`` stood (see observe)."""
    return json.dumps(
        {"o": s.origin, "r": s.right_origin, "p": s.parent_item, "root": s.parent_root,
         "k": s.parent_sub, "keyed": s.keyed},
        separators=(",", ":"),
    )  # fmt: skip


def _anchors_of(tomb: Struct) -> Struct | None:
    """The refused item a hidden tombstone stands for, from its key; None if it has none."""
    if tomb.parent_sub is None:
        return None
    try:
        data = json.loads(tomb.parent_sub)

        def ident(value: Any) -> ID | None:
            if value is None:
                return None
            client, clock = value
            return int(client), int(clock)

        root, key = data.get("root"), data.get("k")
        if not (root is None or isinstance(root, str)) or not (key is None or isinstance(key, str)):
            return None
        return Struct(
            tomb.client, tomb.clock, tomb.length, tomb.ref, ident(data.get("o")),
            ident(data.get("r")), ident(data.get("p")), root, key, bool(data.get("keyed")),
        )  # fmt: skip
    except (ValueError, TypeError, AttributeError):
        return None


def _hidden(client: int, clock: int, length: int) -> bytes:
    return tombstone(Struct(client, clock, length, SKIP_REF), HIDDEN_ROOT)


def _block_end(structs: list[Struct], start: int) -> int:
    return max(start, max((s.end for s in structs if s.ref != SKIP_REF), default=start))
