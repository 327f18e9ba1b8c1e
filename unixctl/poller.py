"""The daemon loop's poller: ovs.poller.Poller's interface on poll(2).

ovs.poller.Poller (ovs 4.0.0) waits with select(), which cannot watch a
descriptor numbered 1024 or more: with about a thousand clients connected,
its block() raised "filedescriptor out of range in select()" and the daemon
died.  This one keeps the same calls (fd_wait(), timer_wait(),
timer_wait_until(), immediate_wake(), block()) over select.poll(), which
has no such limit, as OVS's own lib/poll-loop.c does in C.  A Poller is
made for each pass of the loop, as with the library.

Neighbours: unixctl/server.py (the only user, with unixctl/main.py).
"""

from __future__ import annotations

import select
from typing import Any

import ovs.timeval

__all__ = ["POLLIN", "POLLOUT", "Poller"]

POLLIN = select.POLLIN
POLLOUT = select.POLLOUT


class Poller:
    """One pass's wait: the descriptors and events to wake for, and the
    earliest deadline."""

    def __init__(self) -> None:
        self._fds: dict[int, int] = {}
        self._timeout = -1              # Milliseconds; -1: no deadline.

    def fd_wait(self, fd: Any, events: int) -> None:
        """Wake when 'fd' (a descriptor or an object with fileno()) has one
        of 'events' (POLLIN, POLLOUT)."""
        if not isinstance(fd, int):
            fd = fd.fileno()
        self._fds[fd] = self._fds.get(fd, 0) | events

    def timer_wait(self, msec: int) -> None:
        """Wake after at most 'msec' milliseconds."""
        msec = max(0, int(msec))
        if self._timeout < 0 or msec < self._timeout:
            self._timeout = msec

    def timer_wait_until(self, msec: int) -> None:
        """Wake at the latest at ovs.timeval.msec() == 'msec'."""
        self.timer_wait(msec - ovs.timeval.msec())

    def immediate_wake(self) -> None:
        self._timeout = 0

    def block(self) -> list[tuple[int, int]]:
        """Waits; returns the (fd, revents) pairs that woke us."""
        poll = select.poll()
        for fd, events in self._fds.items():
            poll.register(fd, events)
        return poll.poll(None if self._timeout < 0 else self._timeout)
