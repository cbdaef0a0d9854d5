"""The gateway: Jupyter Server handlers, identity, authorization and limits."""
