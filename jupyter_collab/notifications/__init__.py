"""Notifications: stored per user, published on the bus, pushed at once, and sent by e-mail.

``Notifications`` (service.py) is the one way to notify a user (``Sharing.notify`` hands its
calls to it); ``PushHub`` (push.py) delivers them to the user's sockets on every server through
the ``notification.event`` bus topic; ``Mailer`` (mailer.py) sends the kinds a user chose by
e-mail, batched, in the background. See docs/notifications.md.
"""

from __future__ import annotations

from .kinds import COMMENT_KINDS, EMAIL_KINDS, BadPreferences
from .mailer import Mailer, SmtpSettings
from .push import PushHub
from .service import Notifications

__all__ = [
    "COMMENT_KINDS",
    "EMAIL_KINDS",
    "BadPreferences",
    "Mailer",
    "Notifications",
    "PushHub",
    "SmtpSettings",
]
