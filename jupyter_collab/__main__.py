"""``python -m jupyter_collab check`` is ``jupyter collab check``."""

from .cli import main

main()
