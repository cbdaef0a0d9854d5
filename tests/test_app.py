"""What the extension does once Jupyter's event loop runs."""

from __future__ import annotations

import gc

import pytest


@pytest.fixture
def freeze_gc(collab_config):
    collab_config.update(freeze_gc_at_start=True)


@pytest.mark.usefixtures("freeze_gc")
async def test_started_server_runs_upkeep_and_freezes_its_objects(jp_serverapp):
    """History maintenance is scheduled, and the objects of the started server are out of the
    cyclic GC's full collections (which otherwise stall edits for ~100 ms)."""
    app = next(iter(jp_serverapp.extension_manager.extension_apps["jupyter_collab"]))
    # (pytest-jupyter does not call the start hooks of extensions: as Jupyter does on start)
    await app._start_jupyter_server_extension(jp_serverapp)
    try:
        assert app.maintenance._task is not None
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # (the rest of this test process keeps its usual collector)
        await app.maintenance.stop()
