"""The y-websocket wire protocol: framing, message types, awareness and close codes.

Kept apart from transport (tornado) and storage, as in y-redis, so it can be tested and reused
on its own.
"""
