"""Keeping a lease: the "exactly one server does this" primitive built on any bus.

A room that must have one writer across servers (save its file, poll the disk, make versions,
compact history) runs a :class:`LeaseKeeper`: it tries to take the lease, renews it while held,
tells the room when it got it and when it lost it, and lets it go on :meth:`LeaseKeeper.stop`.
When the holder dies, its lease expires after ``ttl`` and another server's keeper takes it at
its next attempt (every ``ttl / 3``), with a larger fencing token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from .interface import BusClosed, BusError, EventBus, Lease

log = logging.getLogger("jupyter_collab.bus")

LeaseCallback = Callable[[Lease], None]


class LeaseKeeper:
    """Hold lease ``name`` whenever possible; ``on_acquired``/``on_lost`` are synchronous."""

    def __init__(
        self,
        bus: EventBus,
        name: str,
        ttl: float,
        *,
        on_acquired: LeaseCallback,
        on_lost: LeaseCallback,
        interval: float | None = None,
    ) -> None:
        self.bus = bus
        self.name = name
        self.ttl = ttl
        self.interval = interval if interval is not None else ttl / 3
        if self.interval >= ttl:
            raise ValueError("the keeper must try more often than the lease's ttl")
        self._on_acquired = on_acquired
        self._on_lost = on_lost
        self.lease: Lease | None = None
        self._task: asyncio.Task[None] | None = None
        self._running = False

    @property
    def held(self) -> bool:
        return self.lease is not None and self.lease.held

    async def confirm(self) -> bool:
        """Whether this server still holds the lease, asked of the bus itself (not only this
        server's clock): the bus's holder and fencing token must be this lease's. Call it just
        before a write only the holder may make: a server that was paused (SIGSTOP, a frozen
        VM, a long GC) or cut off past its lease finds that another took it over (the lease is
        then given up: the keeper tries to take it again later). When the bus cannot be
        reached nobody can take the lease over through it, and the local expiry decides."""
        lease = self.lease
        if lease is None or not lease.held:
            return False
        try:
            holder = await self.bus.lease_holder(lease.name)
        except BusError:
            return lease.held
        if holder is None or holder.holder != lease.holder or holder.token != lease.token:
            log.warning(
                "lease %s passed to %s (token %s; this server's was %s)", self.name,
                holder.holder if holder else None, holder.token if holder else None, lease.token,
            )  # fmt: skip
            lease.lost = True
            return False
        return lease.held

    def start(self) -> None:
        if self._task is None:
            self._running = True
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"lease-keeper-{self.name}"
            )

    async def stop(self, release: bool = True) -> None:
        """Stop trying; release the lease if held (``on_lost`` is not called)."""
        self._running = False
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
            self._task = None
        lease, self.lease = self.lease, None
        if lease is not None and release:
            with contextlib.suppress(BusError):
                await lease.release()

    async def _run(self) -> None:
        while self._running:
            lease = self.lease
            if lease is None:
                try:
                    self.lease = await self.bus.acquire_lease(self.name, self.ttl)
                except BusClosed:
                    return
                except BusError as error:
                    log.debug("lease %s: cannot try to acquire: %s", self.name, error)
                if self.lease is not None:
                    self._call(self._on_acquired, self.lease)
                await asyncio.sleep(self.interval)
                continue
            try:
                renewed = await lease.renew()
            except BusClosed:  # the bus released it as it closed
                self.lease = None
                self._call(self._on_lost, lease)
                return
            except BusError as error:
                log.warning("lease %s: cannot renew (%s); held until it expires", self.name, error)
                renewed = lease.held
            if not renewed or not lease.held:
                self.lease = None
                lease.lost = True
                self._call(self._on_lost, lease)
                continue
            # Sleep until the next renewal, but wake at expiry if renewals keep failing.
            remaining = lease.expires_at - time.monotonic()
            await asyncio.sleep(max(0.0, min(self.interval, remaining)))

    def _call(self, callback: LeaseCallback, lease: Lease) -> None:
        try:
            callback(lease)
        except Exception:
            log.exception("lease %s: callback %r failed", self.name, callback)
