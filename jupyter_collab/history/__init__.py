"""History as users see it: content at a version, diffs, attribution, restore, audit.

The store (``persistence/``) keeps bytes; this package turns them into documents and answers
the questions of the history REST API (``docs/history-api.md``).
"""
