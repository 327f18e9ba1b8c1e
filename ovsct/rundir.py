"""Run directory and target resolution, shared by the client (ovsct), the
CLI and the daemon (ovsctd), as OVS's lib/dirs.c, lib/daemon-unix.c and
utilities/ovs-appctl.c do it.

* The run directory is $OVS_RUNDIR, else /var/run/openvswitch when it is
  (or can be made) writable, else a per-user directory
  ($XDG_RUNTIME_DIR/ovsct or /tmp/ovsct-UID), so that an unprivileged user
  can run the daemon.
* A daemon PROGRAM writes its pid to <rundir>/PROGRAM.pid and listens on
  <rundir>/PROGRAM.<pid>.ctl.
* A target (ovs-appctl -t) starting with "/" is a socket path; anything
  else is a program name, resolved through its pidfile (ovs-appctl.c
  connect_to_target(), daemon-unix.c read_pidfile()).

Neighbours: client.py and cli.py (resolve_target()), unixctl/main.py
(default_rundir(), prepare_rundir(), ctl_path()).
"""

from __future__ import annotations

import errno
import os
import stat

from ovsct.errors import ClientError

__all__ = ["DEFAULT_TARGET", "RUNDIR_ENV", "SYSTEM_RUNDIR", "ctl_path",
           "default_rundir", "pidfile_path", "prepare_rundir",
           "read_pidfile", "resolve_target", "rundir_candidates",
           "user_rundir"]

RUNDIR_ENV = "OVS_RUNDIR"
SYSTEM_RUNDIR = "/var/run/openvswitch"
DEFAULT_TARGET = "ovsctd"


def user_rundir() -> str:
    """A per-user run directory for users who cannot write the system one."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "ovsct")
    return "/tmp/ovsct-%d" % os.getuid()


def rundir_candidates() -> list[str]:
    """Run directories in the order the daemon considers them."""
    env = os.environ.get(RUNDIR_ENV)
    if env:
        return [env]
    return [SYSTEM_RUNDIR, user_rundir()]


def _usable_system_rundir() -> bool:
    if os.path.isdir(SYSTEM_RUNDIR):
        return os.access(SYSTEM_RUNDIR, os.W_OK | os.X_OK)
    parent = os.path.dirname(SYSTEM_RUNDIR)
    return os.path.isdir(parent) and os.access(parent, os.W_OK | os.X_OK)


def default_rundir() -> str:
    """The daemon's run directory (see the module comment).  Creates
    nothing."""
    env = os.environ.get(RUNDIR_ENV)
    if env:
        return env
    if _usable_system_rundir():
        return SYSTEM_RUNDIR
    return user_rundir()


def prepare_rundir(rundir: str) -> None:
    """Creates 'rundir' (mode 0700) if missing; refuses a per-user directory
    that someone else owns or others may write.  Raises OSError (with the
    reason in strerror) for the daemon to report."""
    try:
        os.makedirs(rundir, mode=0o700)
        return
    except FileExistsError:
        pass
    except OSError as e:
        raise OSError(e.errno, "%s: cannot create run directory (%s)"
                      % (rundir, os.strerror(e.errno))) from None
    st = os.stat(rundir)
    if not stat.S_ISDIR(st.st_mode):
        raise OSError(errno.ENOTDIR, "%s: not a directory" % rundir)
    if (rundir == user_rundir()
            and (st.st_uid != os.getuid() or st.st_mode & 0o022)):
        raise OSError(errno.EPERM, "%s: not owned by us or writable by "
                      "others" % rundir)


def pidfile_path(rundir: str, program: str) -> str:
    return os.path.join(rundir, program + ".pid")


def ctl_path(rundir: str, program: str, pid: int) -> str:
    """The control socket of 'program' running as 'pid'."""
    return os.path.join(rundir, "%s.%d.ctl" % (program, pid))


def read_pidfile(path: str) -> int:
    """Returns the pid stored in pidfile 'path' if that process is alive.
    Raises ClientError as ovs-appctl reports it."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise ClientError(e.errno, 'cannot read pidfile "%s"' % path,
                          ("daemon_unix", "%s: open: %s"
                           % (path, os.strerror(e.errno))))
    try:
        pid = int(text.strip())
        if pid <= 0:
            raise ValueError
    except ValueError:
        raise ClientError(errno.EINVAL, 'cannot read pidfile "%s"' % path,
                          ("daemon_unix", "%s: read: parse error" % path))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        raise ClientError(errno.ESRCH, 'cannot read pidfile "%s"' % path,
                          ("daemon_unix", "%s: pid %d is not running"
                           % (path, pid)))
    except PermissionError:
        pass
    return pid


def resolve_target(target: str) -> str:
    """Returns the socket path for 'target' (see the module comment)."""
    if target.startswith("/"):
        return target
    candidates = rundir_candidates()
    for rundir in candidates:
        if os.path.exists(pidfile_path(rundir, target)):
            break
    else:
        rundir = candidates[0]
    pid = read_pidfile(pidfile_path(rundir, target))
    return ctl_path(rundir, target, pid)
