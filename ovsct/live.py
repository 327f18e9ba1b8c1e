"""The live datapath's commands and daemon options (issue 10).

ovsctd can read real interfaces (dpio/afpacket.c through _engine.Live):

* monitor mode, ``--interface=IFACE`` or ``ct/add-interface IFACE
  [ACTION]``: every frame the interface carries runs through ACTION
  (default ct(commit)), passively;
* bridge mode, ``--bridge=INSIDE,OUTSIDE [--firewall]``: layer-2
  forwarding between two interfaces after tracking; with --firewall frames
  from INSIDE run ACTION and pass unless +inv, frames from OUTSIDE run
  ct() in the same zone (with nat when ACTION has NAT) and pass only if
  +est or +rel.  ARP, other non-IP frames and ICMPv6 neighbour discovery
  always pass.

This module holds the per-engine datapath registry that the commands
(ovsct/commands/live.py) and the daemon share, and the validation of the
daemon's options.  Frames never reach Python: the C workers hand them to
the engine.

Neighbours: ovsct/commands/live.py (ct/add-interface, ct/del-interface,
ct/show-interfaces), ovsct/engine.py (action_to_c), unixctl/main.py
(options, start and stop).
"""

from __future__ import annotations

import errno
import socket
import threading
from typing import Any

# Error texts of the daemon's options and of the registry.
ERR_NO_INTERFACE = "{}: no such interface"
ERR_BRIDGE = "--bridge: expected INSIDE,OUTSIDE (two different interfaces)"
ERR_FIREWALL = "--firewall needs --bridge"
ERR_TWICE = "{}: interface given twice"
ERR_NOT_ATTACHED = "{}: interface not attached"


class _Datapath:
    """One engine's live datapath: the C object (which holds the engine
    busy, so it exists only while an interface is attached) and, per
    interface, the action text it runs (for display)."""

    def __init__(self, engine: Any, workers: int) -> None:
        self.engine = engine
        self.live: Any = None
        self.workers = workers
        self.actions: dict[str, str] = {}
        self.lock = threading.Lock()

    def _open(self) -> Any:
        if self.live is None:
            from ovsct import _engine
            self.live = _engine.Live(self.engine._ct, self.workers)
        return self.live

    def _close_if_idle(self) -> None:
        if self.live is not None and not self.live.interfaces():
            self.live.close()
            self.live = None

    def add_monitor(self, name: str, action: str) -> None:
        from ovsct.engine import action_to_c
        with self.lock:
            try:
                self._open().add_monitor(name, action_to_c(_parse(action)))
            finally:
                self._close_if_idle()
            self.actions[name] = str(_parse(action))

    def add_bridge(self, inside: str, outside: str, firewall: bool,
                   action: str) -> None:
        from ovsct.engine import action_to_c
        parsed = _parse(action)
        with self.lock:
            try:
                self._open().add_bridge(inside, outside, firewall,
                                        action_to_c(parsed))
            finally:
                self._close_if_idle()
            self.actions[inside] = str(parsed)
            self.actions[outside] = (_reply_action(parsed) if firewall
                                     else str(parsed))

    def remove(self, name: str) -> None:
        with self.lock:
            if self.live is None:
                raise OSError(errno.ENOENT, ERR_NOT_ATTACHED.format(name))
            peers = [row[2] for row in self.live.interfaces()
                     if row[0] == name]
            self.live.remove(name)
            for n in [name] + [p for p in peers if p]:
                self.actions.pop(n, None)
            self._close_if_idle()

    def rows(self) -> list[dict]:
        from ovsct import _engine
        with self.lock:
            rows = self.live.interfaces() if self.live is not None else []
        out = []
        for (name, role, peer, firewall, workers, received, tracked, held,
             ring_drops, forwarded, dropped) in rows:
            by_reason = dict(zip(_engine.LIVE_DROP_NAMES, dropped))
            out.append({
                "name": name, "mode": role, "peer": peer,
                "firewall": firewall, "action": self.actions.get(name, ""),
                "workers": workers, "received": received,
                "tracked": tracked, "held": held, "ring_drops": ring_drops,
                "forwarded": forwarded, "dropped": sum(dropped),
                "dropped_by_reason": by_reason,
            })
        return out

    def close(self) -> None:
        with self.lock:
            if self.live is not None:
                self.live.close()
                self.live = None


# Engine id -> (engine, datapath).  The engine is kept referenced so that
# its id is not reused while the datapath lives.
_DATAPATHS: dict[int, tuple[Any, _Datapath]] = {}
_DATAPATHS_LOCK = threading.Lock()


def attach(engine: Any, workers: int = 1) -> _Datapath:
    """The live datapath of 'engine', created with 'workers' threads per
    attachment if it has none yet."""
    with _DATAPATHS_LOCK:
        entry = _DATAPATHS.get(id(engine))
        if entry is None or entry[0] is not engine:
            entry = (engine, _Datapath(engine, workers))
            _DATAPATHS[id(engine)] = entry
        return entry[1]


def detach(engine: Any) -> None:
    """Stops every worker of 'engine''s datapath (before engine.close())."""
    with _DATAPATHS_LOCK:
        entry = _DATAPATHS.pop(id(engine), None)
    if entry is not None:
        entry[1].close()


def _parse(action: str) -> Any:
    from ovsct.action import parse_ct_action
    return parse_ct_action(action)


def _reply_action(action: Any) -> str:
    """What a firewall runs on OUTSIDE frames: ct() in ACTION's zone, with
    nat when ACTION has NAT (dpio/afpacket.c builds the same)."""
    items = []
    if getattr(action, "zone", 0):
        items.append("zone=%d" % action.zone)
    if getattr(action, "nat", None) is not None:
        items.append("nat")
    return "ct(%s)" % ",".join(items)


# ---------------------------------------------------------------------------
# Daemon options.

def max_workers() -> int:
    """The most threads per attachment (dpio/afpacket.h), for --workers."""
    from ovsct import _engine
    return _engine.LIVE_MAX_WORKERS


def validate_options(interfaces: list[str], bridge: str | None,
                     firewall: bool, action: str
                     ) -> tuple[list[str], tuple | None]:
    """Checks ovsctd's live options before it daemonizes (--workers is
    checked with the other numbers, unixctl/main.py check_options()).
    Returns the monitored interface names and (inside, outside) or None;
    raises ValueError with the text to print."""
    names: list[str] = []
    for item in interfaces:
        for name in item.split(","):
            name = name.strip()
            if not name:
                continue
            if name in names:
                raise ValueError(ERR_TWICE.format(name))
            names.append(name)
    pair = None
    if bridge is not None:
        parts = [p.strip() for p in bridge.split(",")]
        if len(parts) != 2 or not all(parts) or parts[0] == parts[1]:
            raise ValueError(ERR_BRIDGE)
        for name in parts:
            if name in names:
                raise ValueError(ERR_TWICE.format(name))
        pair = (parts[0], parts[1])
    elif firewall:
        raise ValueError(ERR_FIREWALL)
    for name in names + list(pair or ()):
        try:
            socket.if_nametoindex(name)
        except OSError:
            raise ValueError(ERR_NO_INTERFACE.format(name)) from None
    try:
        _parse(action)
    except ValueError as exc:
        raise ValueError("--action: %s" % exc) from None
    return names, pair


def start(engine: Any, names: list[str], pair: tuple | None,
          firewall: bool, action: str, workers: int) -> _Datapath:
    """Creates the datapath and attaches the daemon's interfaces.  Raises
    OSError / ValueError with the C message."""
    dp = attach(engine, workers)
    for name in names:
        dp.add_monitor(name, action)
    if pair:
        dp.add_bridge(pair[0], pair[1], firewall, action)
    return dp
