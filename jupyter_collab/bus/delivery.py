"""Calling subscribers' handlers: synchronously, and never letting one break delivery."""

from __future__ import annotations

import inspect
import logging

from .interface import Gap, GapHandler, Handler, Message, Subscription

log = logging.getLogger("jupyter_collab.bus")


def check_handler(handler: Handler, on_gap: GapHandler | None) -> None:
    """Handlers are plain functions: a coroutine function would be called and never awaited."""
    for function in (handler, on_gap):
        if function is not None and (
            inspect.iscoroutinefunction(function)
            or inspect.iscoroutinefunction(getattr(function, "__call__", None))  # noqa: B004
        ):
            raise TypeError(
                f"{function!r} is a coroutine function: bus handlers are called synchronously "
                "on the event loop and must schedule their own async work"
            )
        if function is not None and not callable(function):
            raise TypeError(f"{function!r} is not callable")


def call_handler(subscription: Subscription, message: Message) -> None:
    try:
        subscription.handler(message)
    except Exception:
        log.exception(
            "bus handler for %s:%s failed on message %s",
            message.topic.value, message.key, message.id,
        )  # fmt: skip


def call_gap_handler(subscription: Subscription, gap: Gap) -> None:
    if subscription.on_gap is None:
        log.warning(
            "bus subscription %s:%s may have missed messages (%s) after %s; it has no on_gap "
            "handler to re-sync, and resumes after %s",
            gap.topic.value, gap.key, gap.reason.value, gap.last_id, gap.resumed_after,
        )  # fmt: skip
        return
    try:
        subscription.on_gap(gap)
    except Exception:
        log.exception("bus gap handler for %s:%s failed", gap.topic.value, gap.key)
