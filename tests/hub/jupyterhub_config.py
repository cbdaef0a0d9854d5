"""JupyterHub configuration of the test hub (read by ``jupyterhub -f``; see tests/hub/hub.py).

A real hub as a team runs it, on loopback only: users log in with a shared password, each gets a
single-user Jupyter server run by JupyterHub's local-process spawner with jupyter-collab enabled
(its own history database, outside the folder it serves), and alice's server is shared with bob
through JupyterHub's RBAC, the way JupyterHub's sharing documentation describes. What varies
per run (ports, folders, secrets, the proxy command) comes from ``$COLLAB_HUB_SETTINGS``.
"""

# ruff: noqa: F821  (``get_config`` is provided by JupyterHub when it loads this file)

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from jupyterhub.authenticators.shared import SharedPasswordAuthenticator

settings = json.loads(Path(os.environ["COLLAB_HUB_SETTINGS"]).read_text())
run = Path(settings["run"])
c = get_config()

# -- the hub and its proxy, on loopback -----------------------------------------------------------
c.JupyterHub.bind_url = f"http://127.0.0.1:{settings['port']}/"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{settings['hub_port']}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings['proxy_api_port']}"
c.ConfigurableHTTPProxy.command = [settings["proxy"]]
c.ConfigurableHTTPProxy.pid_file = str(run / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{run / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(run / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(run / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops the single-user servers
c.JupyterHub.cleanup_proxy = True

# -- who may log in ----------------------------------------------------------------------------


class TeamAuthenticator(SharedPasswordAuthenticator):
    """JupyterHub's shared-password login, plus the names a real identity provider (OAuth, LDAP)
    gives: JupyterHub 6 hands an authenticator's ``user_info`` to the single-user servers, where
    they become the Jupyter identity (and so the name collaborators see)."""

    async def authenticate(self, handler: Any, data: dict[str, Any]) -> Any:
        user = await super().authenticate(handler, data)
        names = settings["names"]
        if user and user["name"] in names:
            full = names[user["name"]]
            user["user_info"] = {"name": full, "display_name": full}
        return user


c.JupyterHub.authenticator_class = TeamAuthenticator
c.TeamAuthenticator.user_password = settings["password"]
c.Authenticator.allowed_users = set(settings["users"])

# -- one single-user server per user, as the user running the hub ----------------------------
# SimpleLocalProcessSpawner needs no system accounts (LocalProcessSpawner would setuid to them),
# so it works as root or as anyone; the servers then need --allow-root when that is root.
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(run / "homes" / "{username}")
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
c.Spawner.ip = "127.0.0.1"
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 180  # generous: the machine may be busy
c.Spawner.http_timeout = 180
c.Spawner.environment = {
    # this checkout's jupyter_collab, whatever an editable install points at
    "PYTHONPATH": os.pathsep.join(
        [settings["checkout"]]
        + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
    ),
    # every process of this run carries it, so the tests can stop them all (and only them)
    "COLLAB_HUB_RUN": str(run),
}


def single_user_settings(spawner) -> None:
    """Per user: the folder served, jupyter-collab on with its own database, quiet JupyterLab."""
    name = spawner.user.name
    files, state = run / "files" / name, run / "state" / name
    files.mkdir(parents=True, exist_ok=True)
    state.mkdir(parents=True, exist_ok=True)
    spawner.notebook_dir = str(files)
    # no "would you like news?" toast over the page in the browser test
    apputils = state / "lab-settings" / "@jupyterlab" / "apputils-extension"
    apputils.mkdir(parents=True, exist_ok=True)
    (apputils / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    args = [
        "--ServerApp.jpserver_extensions={'jupyter_collab': True}",
        f"--CollabApp.db_path={state / 'collab.db'}",
        *(f"--CollabApp.{key}={value}" for key, value in settings["collab"].items()),
        f"--LabApp.user_settings_dir={state / 'lab-settings'}",
        f"--LabApp.workspaces_dir={state / 'lab-workspaces'}",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",
    ]
    if settings.get("labextensions"):
        args.append(f"--LabApp.extra_labextensions_path={settings['labextensions']}")
    if os.geteuid() == 0:
        args.append("--allow-root")
    spawner.args = args


c.Spawner.pre_spawn_hook = single_user_settings

# -- roles ---------------------------------------------------------------------------------------
c.JupyterHub.services = [{"name": "collab-tests", "api_token": settings["admin_token"]}]
c.JupyterHub.load_roles = [
    # the tests drive the hub through its REST API (start servers, make tokens)
    {"name": "admin", "services": ["collab-tests"]},
    # alice's default server is shared with bob: the access scope is all a collaborator needs
    {
        "name": "alice-collaborators",
        "description": "Work together on alice's server",
        "scopes": ["access:servers!server=alice/"],
        "users": ["bob"],
    },
]
