"""Start, probe and stop the Jupyter servers under test.

Each target is a real ``jupyter_server`` process started the way a user would start it, so
the figures include everything the server does for a document (auth, file ids, loading,
saving), not just the CRDT library. The harness never imports the server under test: it
talks to it over loopback HTTP/WebSocket and reads its CPU time and memory from ``/proc``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
JC_VERSION = "5.0.4"
JC_VENV = BENCH_DIR / ".venv-jc"

_CLK_TCK = os.sysconf("SC_CLK_TCK")
_LIVE: set[ServerProcess] = set()


@dataclass(frozen=True)
class Target:
    """One implementation under test and how to reach its collaboration API."""

    name: str  # "ours" or "jc"
    label: str  # human-readable, with version
    python: str  # interpreter that runs the server
    api: str  # "collab" (ours) or "collaboration" (jupyter-collaboration)
    extra_args: tuple[str, ...] = ()
    pythonpath: str = ""  # put first on the server's sys.path (ours: this checkout)


def _run_quiet(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a setup command, keeping its (very chatty) output for error reports only."""
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def ensure_jc_venv(log=print) -> Path:
    """Create ``benchmarks/.venv-jc`` with jupyter-collaboration pinned, or reuse it.

    jupyter-collaboration lives in its own virtualenv so that it never shares packages with
    our server (both want ``jupyter_server`` extensions and different pycrdt stacks).
    """
    py = JC_VENV / "bin" / "python"
    probe = [str(py), "-c", "import jupyter_collaboration, jupyter_server_ydoc, jupyter_server; "
             "print(jupyter_collaboration.__version__)"]
    if py.exists():
        res = _run_quiet(probe, 120)
        if res.returncode == 0 and res.stdout.strip() == JC_VERSION:
            return py
    log(f"[setup] creating {JC_VENV} with jupyter-collaboration=={JC_VERSION} (takes a minute)")
    if not py.exists():
        res = _run_quiet([sys.executable, "-m", "venv", str(JC_VENV)], 300)
        if res.returncode != 0:
            raise RuntimeError(f"venv creation failed:\n{res.stderr[-2000:]}")
    res = _run_quiet([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                      f"jupyter-collaboration=={JC_VERSION}"], 900)
    if res.returncode != 0:
        raise RuntimeError(f"pip install jupyter-collaboration failed:\n{res.stderr[-3000:]}")
    res = _run_quiet(probe, 120)
    if res.returncode != 0:
        raise RuntimeError(f"jupyter-collaboration not importable after install:\n{res.stderr}")
    return py


def jc_target(log=print) -> Target:
    """jupyter-collaboration, installed on demand into its own venv."""
    py = ensure_jc_venv(log)
    return Target("jc", f"jupyter-collaboration {JC_VERSION}", str(py), "collaboration")


def ours_target() -> Target:
    """Our extension, from the current interpreter (``pip install -e`` of the repo).

    The extension is enabled explicitly on the command line as well, so a dev install that
    did not register its server config still loads it.
    """
    # The repo is put first on the server's path, so the figures are this checkout's even
    # when the editable install points at another copy (or at one that no longer exists).
    res = subprocess.run([sys.executable, "-c", "import jupyter_collab, sys; "
                          "print(getattr(jupyter_collab, '__version__', '?'))"],
                         capture_output=True, text=True, timeout=120, check=False,
                         env=_with_pythonpath(dict(os.environ), str(REPO_DIR)))
    version = res.stdout.strip() if res.returncode == 0 else "NOT IMPORTABLE"
    # The source is an editable install that may change under us: say which code ran.
    head = _run_quiet(["git", "-C", str(REPO_DIR), "log", "-1", "--format=%h %cI",
                       "--", "jupyter_collab"], 30).stdout.strip()
    dirty = _run_quiet(["git", "-C", str(REPO_DIR), "status", "--porcelain", "--",
                        "jupyter_collab"], 30).stdout.strip()
    if head:
        version += f" (source {head}{', uncommitted changes' if dirty else ''})"
    return Target("ours", f"jupyter-collab {version}", sys.executable, "collab",
                  ("--ServerApp.jpserver_extensions=jupyter_collab=True",), str(REPO_DIR))


def snapshot_target(dest: Path, rev: str = "HEAD") -> Target:
    """Our server from ``git archive <rev> jupyter_collab`` extracted into ``dest``.

    Work in progress in the checkout can then neither break nor skew a run, and two commits
    can be compared in one run (``rev`` before and after a change).
    """
    archive = subprocess.run(["git", "-C", str(REPO_DIR), "archive", "--format=tar", rev,
                              "jupyter_collab"], capture_output=True, check=True, timeout=120)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True, timeout=120)
    head = subprocess.run(["git", "-C", str(REPO_DIR), "log", "-1", "--format=%h %cI", rev],
                          capture_output=True, text=True, check=True).stdout.strip()
    base = ours_target()
    version = base.label.split(" (")[0]
    return Target(base.name, f"{version} ({rev} = {head}, committed code only)", base.python,
                  base.api, base.extra_args, str(dest))


def _with_pythonpath(env: dict[str, str], first: str) -> dict[str, str]:
    """``env`` with ``first`` in front of its PYTHONPATH (unchanged when ``first`` is empty)."""
    if first:
        rest = env.get("PYTHONPATH")
        env["PYTHONPATH"] = first + (os.pathsep + rest if rest else "")
    return env


def free_port() -> int:
    """Ask the kernel for a free loopback port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def boost(pid: int, nice: int) -> None:
    """Give a process of ours CPU priority over other people's processes on a shared machine.

    With autogroup scheduling (Linux desktops and this machine) the niceness of a process only
    counts inside its session's group, and each session group gets an equal share; so the
    session group's own niceness (``/proc/<pid>/autogroup``) is set too. Best effort: without
    the rights or without autogroup this does nothing.
    """
    if not nice:
        return
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, pid, nice)
    with contextlib.suppress(OSError), open(f"/proc/{pid}/autogroup", "w") as f:
        f.write(str(nice))


def reset_autogroup() -> None:
    """Give our session group back its normal weight when the harness ends."""
    with contextlib.suppress(OSError), open("/proc/self/autogroup", "w") as f:
        f.write("0")


def _raise_fd_limit() -> None:
    """Runs in the server child: 1,000 WebSockets need more than the common 1,024 fds."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


@dataclass(eq=False)
class ServerProcess:
    """A running ``jupyter server`` for one target, rooted in its own temporary directory."""

    target: Target
    root_dir: Path
    work_dir: Path
    port: int = 0
    token: str = ""
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path = field(default_factory=Path)
    nice: int = 0  # see boost(); the server runs in its own session, hence its own group
    wrap: tuple[str, ...] = ()  # a command the server runs under (valgrind, for profiling)
    module: str = "jupyter_server"  # or "jupyterlab": the same server, serving /lab too
    port_wanted: int = 0  # 0: any free port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def info(self) -> dict[str, str]:
        """What client processes need to reach this server (picklable, no secrets logged)."""
        return {"base_url": self.base_url, "ws_base": self.ws_base, "token": self.token,
                "api": self.target.api}

    def start(self, timeout: float = 90.0) -> ServerProcess:
        """Start the server and wait until its REST API answers (or fail with its log)."""
        self.port = self.port_wanted or free_port()
        self.token = secrets.token_hex(24)
        for sub in ("config", "data", "runtime"):
            (self.work_dir / sub).mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        # Isolate from the user's ~/.jupyter so only the target's own (sys.prefix) config
        # applies; keep the server's Python unbuffered so its log is useful on failure.
        env.update({
            "JUPYTER_CONFIG_DIR": str(self.work_dir / "config"),
            "JUPYTER_DATA_DIR": str(self.work_dir / "data"),
            "JUPYTER_RUNTIME_DIR": str(self.work_dir / "runtime"),
            "PYTHONUNBUFFERED": "1",
        })
        env.pop("JUPYTER_TOKEN", None)
        _with_pythonpath(env, self.target.pythonpath)
        cmd = [
            *self.wrap,
            self.target.python, "-m", self.module,
            f"--ServerApp.token={self.token}",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.root_dir={self.root_dir}",
            "--ServerApp.open_browser=False",
            "--allow-root",
            *self.target.extra_args,
        ]
        self.log_path = self.work_dir / "server.log"
        log_file = open(self.log_path, "wb")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT,
                                     cwd=self.root_dir, env=env, start_new_session=True,
                                     preexec_fn=_raise_fd_limit)
        log_file.close()
        _LIVE.add(self)
        boost(self.proc.pid, self.nice)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                req = urllib.request.Request(f"{self.base_url}/api/status",
                                             headers={"Authorization": f"token {self.token}"})
                with urllib.request.urlopen(req, timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        tail = self.log_tail()
        self.stop()
        raise RuntimeError(f"{self.target.name} server did not start; log tail:\n{tail}")

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return "(no log)"

    def log_problems(self, limit: int = 3) -> dict:
        """Error lines and tracebacks in the server's log: a benchmark that 'passes' while the
        server logs errors is worth a look."""
        lines = self.log_tail(10_000_000).splitlines()
        errors = [ln for ln in lines if (ln.startswith(("[E ", "[C ")) or "Traceback" in ln)
                  and "received signal 15, stopping" not in ln]  # our own SIGTERM at the end
        warnings = [ln for ln in lines if ln.startswith("[W ")]
        return {"errors": len(errors), "warnings": len(warnings),
                "first_errors": [ln[:300].replace(self.token, "<token>") for ln in errors[:limit]]}

    def extensions_loaded(self) -> str:
        """The server's own log lines about extensions, to prove the target is really loaded."""
        lines = [ln for ln in self.log_tail(200_000).splitlines()
                 if "extension was successfully loaded" in ln or "Extension" in ln
                 or "failed" in ln.lower()]
        return "\n".join(lines[-12:])

    def cpu_seconds(self) -> float:
        """utime+stime (+ waited-for children) of the server, all threads, from /proc."""
        with open(f"/proc/{self.pid}/stat") as f:
            raw = f.read()
        fields = raw[raw.rindex(")") + 2:].split()
        # fields[0] is state (field 3); utime=14, stime=15, cutime=16, cstime=17
        ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
        return ticks / _CLK_TCK

    def rss_bytes(self) -> int:
        """Resident set size of the server process (VmRSS)."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the server's process group, SIGKILL it if it does not go in time."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        _LIVE.discard(self)


def stop_all() -> None:
    """Kill every server this process started (atexit and signal handler)."""
    for server in list(_LIVE):
        with contextlib.suppress(Exception):  # best effort on the way out
            server.stop(timeout=5)


def install_exit_handlers() -> None:
    """Make sure no server outlives the harness, even on Ctrl-C or SIGTERM."""
    atexit.register(stop_all)

    def _on_signal(signum: int, _frame: object) -> None:
        stop_all()
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)


def machine_busy_seconds() -> float:
    """CPU seconds spent by the whole machine (all cores, all processes) since boot.

    Compared with the server's and the client processes' own CPU time over a window, this
    tells how much *other* load (someone else's tests, a browser) shared the machine.
    """
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in parts[:8])
    return (user + nice + system + irq + softirq + steal) / _CLK_TCK


def wait_until_quiet(max_wait: float, threshold_pct: float = 15.0, log=print) -> float:
    """Wait (at most ``max_wait`` s) until the machine is nearly idle; returns the busy %
    (of one core) of the last 2 s sample, so the report can say how quiet it was."""
    deadline = time.monotonic() + max_wait
    while True:
        b0 = machine_busy_seconds()
        time.sleep(2.0)
        busy = (machine_busy_seconds() - b0) / 2.0 * 100
        if busy <= threshold_pct or time.monotonic() >= deadline:
            if busy > threshold_pct:
                log(f"[load] machine still {busy:.0f}% busy (other processes); going on")
            return busy
        log(f"[load] machine {busy:.0f}% busy with other processes; waiting")


def describe_python(python: str) -> dict[str, str]:
    """Versions of the packages that matter, as seen by a target's interpreter."""
    code = (
        "import json, importlib.metadata as m\n"
        "out = {}\n"
        "for p in ('jupyter_server','pycrdt','jupyter_ydoc','tornado','jupyter-collaboration',"
        "'jupyter-collab','pycrdt-websocket'):\n"
        "    try: out[p] = m.version(p)\n"
        "    except Exception: pass\n"
        "print(json.dumps(out))\n"
    )
    res = _run_quiet([python, "-c", code], 60)
    try:
        return json.loads(res.stdout)
    except json.JSONDecodeError:
        return {}
