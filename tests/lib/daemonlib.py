"""The daemon harness: a real ovsctd in a private run directory, for the
tests and the benchmarks (not part of the installed package).

    with Ovsctd("--pcap", "tests/data/udp.pcap") as d:
        r = d.appctl("dpctl/ct-get-nconns")      # /usr/bin/ovs-appctl
        r = d.ovsct("ct-get-nconns")              # python -m ovsct.cli

The daemon runs in the foreground (so its exit status can be checked) with
OVS_RUNDIR set to a fresh directory under /tmp (short enough for a socket
path); both clients get the same environment, so ``-t ovsctd`` finds it
through <rundir>/ovsctd.pid exactly as for ovs-vswitchd.  This module does
not import unixctl.main (which sets process-wide ovs globals).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from ovsct import client

# The repository: the daemon and the clients run from it.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
OVS_APPCTL = shutil.which("ovs-appctl") or "/usr/bin/ovs-appctl"


def alive(pid: int) -> bool:
    """True if 'pid' runs and is not a zombie (a detached daemon is not our
    child, so it cannot be waited for)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


class Ovsctd:
    """One ovsctd process; 'args' are extra daemon options."""

    def __init__(self, *args: str, detach: bool = False,
                 rundir: str | None = None, timeout: float = 20.0):
        self.args = list(args)
        self.detach = detach
        self.timeout = timeout
        # Logs and stderr go to a private directory, which is also the run
        # directory unless 'rundir' names another one (which the daemon then
        # creates if missing).
        self.tmpdir = tempfile.mkdtemp(prefix="ovsct-", dir="/tmp")
        self.rundir = rundir or self.tmpdir
        self.proc: subprocess.Popen | None = None
        self.pid = 0
        self.env = dict(os.environ, OVS_RUNDIR=self.rundir,
                        OVS_LOGDIR=self.tmpdir)
        path = self.env.get("PYTHONPATH")
        self.env["PYTHONPATH"] = ROOT + (os.pathsep + path if path else "")
        self.log = os.path.join(self.tmpdir, "ovsctd.log")
        self._stderr = os.path.join(self.tmpdir, "stderr")

    @property
    def pidfile(self) -> str:
        return os.path.join(self.rundir, "ovsctd.pid")

    @property
    def socket(self) -> str:
        return os.path.join(self.rundir, "ovsctd.%d.ctl" % self.pid)

    def start(self) -> "Ovsctd":
        """Starts the daemon and waits until it answers.  On failure,
        cleans up and raises RuntimeError with the daemon's stderr."""
        try:
            return self._start()
        except BaseException:
            self.__exit__()
            raise

    def _start(self) -> "Ovsctd":
        cmd = [sys.executable, "-m", "unixctl.main", "--no-chdir",
               "--log-file=" + self.log] + self.args
        with open(self._stderr, "wb") as stderr:
            if self.detach:
                r = subprocess.run(cmd + ["--detach"], env=self.env,
                                   cwd=ROOT, stderr=stderr,
                                   timeout=self.timeout)
                if r.returncode:
                    raise RuntimeError("ovsctd exited with %s: %s" % (
                        r.returncode, self.stderr()))
                with open(self.pidfile) as f:
                    self.pid = int(f.read())
                return self
            self.proc = subprocess.Popen(cmd, env=self.env, cwd=ROOT,
                                         stdin=subprocess.DEVNULL,
                                         stderr=stderr)
        self.pid = self.proc.pid
        deadline = time.monotonic() + self.timeout
        # The socket is bound before the commands are registered: wait
        # until the loop answers.
        while not (os.path.exists(self.socket)
                   and os.path.exists(self.pidfile) and self._answers()):
            if self.proc.poll() is not None:
                raise RuntimeError("ovsctd exited with %s: %s" % (
                    self.proc.returncode, self.stderr()))
            if time.monotonic() > deadline:
                raise RuntimeError("ovsctd did not start: %s"
                                   % self.stderr())
            time.sleep(0.01)
        return self

    def _answers(self) -> bool:
        try:
            with client.UnixctlClient.connect(self.socket) as conn:
                return conn.transact("version", [], timeout=1)[0] is None
        except (OSError, client.ClientError):
            return False

    def stderr(self) -> str:
        try:
            with open(self._stderr, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def appctl(self, *args: str, target: str = "ovsctd",
               timeout: float | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([OVS_APPCTL, "-t", target] + list(args),
                              env=self.env, capture_output=True,
                              timeout=timeout or self.timeout)

    def ovsct(self, *args: str, timeout: float | None = None
              ) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "ovsct.cli"]
                              + list(args), env=self.env, cwd=ROOT,
                              capture_output=True,
                              timeout=timeout or self.timeout)

    def wait_exit(self, timeout: float | None = None) -> int | None:
        """Waits for the daemon to go away; returns its exit status when it
        is our child (None for a detached daemon)."""
        timeout = timeout or self.timeout
        if self.proc is not None:
            return self.proc.wait(timeout)
        deadline = time.monotonic() + timeout
        while alive(self.pid):
            if time.monotonic() > deadline:
                raise TimeoutError("ovsctd %d still running" % self.pid)
            time.sleep(0.01)
        return None

    def stop(self) -> None:
        if not self.pid:
            return
        if alive(self.pid):
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.wait_exit(5)
            except (TimeoutError, subprocess.TimeoutExpired):
                os.kill(self.pid, signal.SIGKILL)
                self.wait_exit(5)
        elif self.proc is not None:
            self.proc.wait()

    def __enter__(self) -> "Ovsctd":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
