"""The kernel conntrack's settings and counters in /proc/sys/net/netfilter.

Each file belongs to the network namespace of the process that opens it,
like the ctnetlink socket.  Outside the initial namespace nf_conntrack_max
and nf_conntrack_buckets are read-only (nf_conntrack_standalone.c makes
them 0444 there).

Neighbours: ovsct/kernel/commands.py (the only user).
"""

from __future__ import annotations

import errno
import os

__all__ = ["SysctlError", "read", "write", "NAMES"]

ROOT = "/proc/sys/net/netfilter"
# What the dpctl commands read: name -> file.
NAMES = {
    "count": "nf_conntrack_count",
    "max": "nf_conntrack_max",
    "buckets": "nf_conntrack_buckets",
    "tcp_be_liberal": "nf_conntrack_tcp_be_liberal",
    "acct": "nf_conntrack_acct",
    "timestamp": "nf_conntrack_timestamp",
}


class SysctlError(OSError):
    """Reading or writing a conntrack sysctl failed; the text says which
    file and why."""


def _path(name: str) -> str:
    return os.path.join(ROOT, NAMES[name])


def read(name: str) -> int:
    path = _path(name)
    try:
        with open(path) as f:
            return int(f.read().strip())
    except FileNotFoundError:
        raise SysctlError(errno.ENOENT, "%s is missing (is the nf_conntrack "
                          "module loaded?)" % path) from None
    except (OSError, ValueError) as exc:
        err = getattr(exc, "errno", None) or errno.EIO
        raise SysctlError(err, "cannot read %s" % path) from None


def write(name: str, value: int) -> None:
    path = _path(name)
    try:
        with open(path, "w") as f:
            f.write("%d\n" % value)
    except FileNotFoundError:
        raise SysctlError(errno.ENOENT, "%s is missing (is the nf_conntrack "
                          "module loaded?)" % path) from None
    except OSError as exc:
        err = exc.errno or errno.EIO
        if err in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise SysctlError(err, "%s is read-only here (outside the "
                              "initial network namespace, or not root)"
                              % path) from None
        raise SysctlError(err, "cannot write %s" % path) from None
