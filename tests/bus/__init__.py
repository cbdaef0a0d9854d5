"""The event bus contract (in-process and Redis Streams) and Redis-specific behaviour."""
