"""The kernel's conntrack table over ctnetlink: sockets and requests.

pyroute2 opens the NETLINK_NETFILTER socket (in the caller's network
namespace, so ``ip netns exec NS ovsct ...`` reads NS's table) and encodes
every request (nfct_msg, NFCTAttrTuple).  Replies are read raw and decoded
in C (ovsct._engine.nfct_dump_text / nfct_entries, dpio/nfct.c): pyroute2's
attribute decoding manages about 5k entries/s, the C decoder millions.

    with CtNetlink() as nl:
        nl.dump_start(zone=5)
        buf = nl.recv()                        # raw datagrams, until the
        ...                                    # decoder says NFCT_DONE
        nl.delete(entry)                       # one entry, by orig tuple
        nl.flush(zone=5, mark=(1, 0xff))       # kernel-side filtered flush

Neighbours: dpio/nfct.[ch] (decoder), ovsct/kernel/dump.py (records),
ovsct/kernel/commands.py (the dpctl adapter), ovsct/kernel/events.py.
"""

from __future__ import annotations

import errno
import os
import select
import socket
from typing import Any

__all__ = ["CtNetlink", "KernelError", "GROUPS"]

# nfnetlink multicast groups (enum nfnetlink_groups).
NFNLGRP_CONNTRACK_NEW = 1
NFNLGRP_CONNTRACK_UPDATE = 2
NFNLGRP_CONNTRACK_DESTROY = 3
GROUPS = {"NEW": NFNLGRP_CONNTRACK_NEW, "UPDATE": NFNLGRP_CONNTRACK_UPDATE,
          "DESTROY": NFNLGRP_CONNTRACK_DESTROY}

# One receive: the kernel puts a dump into datagrams of at most a few
# pages, but an event burst or a large skb must fit too.
RECV_SIZE = 1 << 20
RCVBUF = 8 << 20

_SEQ_START = 1


class KernelError(OSError):
    """A ctnetlink request failed; .errno is the kernel's errno."""


def _engine() -> Any:
    from ovsct import _engine
    return _engine


class CtNetlink:
    """One ctnetlink socket of the current network namespace."""

    def __init__(self, groups: tuple[int, ...] = ()) -> None:
        try:
            from pyroute2 import NFCTSocket
        except ImportError as exc:      # pragma: no cover - a declared dep
            raise KernelError(errno.ENOPROTOOPT,
                              "pyroute2 is needed for the kernel datapath "
                              f"({exc})") from exc
        try:
            self._nfct = NFCTSocket(nfgen_family=socket.AF_UNSPEC,
                                    rcvbuf=RCVBUF)
        except OSError as exc:
            raise KernelError(exc.errno or errno.EPROTONOSUPPORT,
                              "cannot open a ctnetlink socket: "
                              f"{exc.strerror or exc}") from exc
        self.sock = self._nfct.asyncore.socket
        self._seq = _SEQ_START
        self._buf = bytearray(RECV_SIZE)
        if groups:
            # Multicast is delivered to bound sockets only: bind (port
            # chosen by the kernel) with the groups' bitmask.
            mask = 0
            for group in groups:
                mask |= 1 << (group - 1)
            self.sock.bind((0, mask))

    # -- life cycle -------------------------------------------------------

    def close(self) -> None:
        if self._nfct is not None:
            self._nfct.close()
            self._nfct = None

    def __enter__(self) -> "CtNetlink":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def fileno(self) -> int:
        return self.sock.fileno()

    # -- requests (encoded by pyroute2) ----------------------------------

    def _send(self, msg: Any, cmd: int, flags: int) -> int:
        from pyroute2.netlink.nfnetlink import NFNL_SUBSYS_CTNETLINK
        self._seq += 1
        msg["header"]["type"] = (NFNL_SUBSYS_CTNETLINK << 8) | cmd
        msg["header"]["flags"] = flags
        msg["header"]["sequence_number"] = self._seq
        msg["header"]["pid"] = 0
        msg["nfgen_family"] = msg.get("nfgen_family") or socket.AF_UNSPEC
        msg.encode()
        self.sock.send(msg.data)
        return self._seq

    def recv(self, timeout: float | None = None) -> memoryview | None:
        """One raw datagram, or None after 'timeout' seconds.  Raises
        OSError (ENOBUFS when the kernel dropped messages for us)."""
        if timeout is not None:
            ready, _, _ = select.select([self.sock], [], [], timeout)
            if not ready:
                return None
        while True:
            try:
                n = self.sock.recv_into(self._buf)
            except BlockingIOError:
                select.select([self.sock], [], [])
                continue
            except InterruptedError:
                continue
            return memoryview(self._buf)[:n]

    def dump_start(self, zone: int | None = None,
                   mark: tuple[int, int] | None = None) -> None:
        """Starts a dump of the table; read its datagrams with recv() and
        decode them until the decoder reports NFCT_DONE (or NFCT_ERROR).
        'zone' and 'mark' (value, mask) ask the kernel to filter
        (ctnetlink_alloc_filter()); the decoder checks the zone again."""
        from pyroute2.netlink import NLM_F_DUMP, NLM_F_REQUEST
        from pyroute2.netlink.nfnetlink.nfctsocket import (
            IPCTNL_MSG_CT_GET, nfct_msg)
        kwargs: dict[str, Any] = {}
        if zone is not None:
            kwargs["zone"] = zone
        if mark is not None and mark[1]:
            kwargs["mark"], kwargs["mark_mask"] = mark
        self._send(nfct_msg.create_from(**kwargs), IPCTNL_MSG_CT_GET,
                   NLM_F_REQUEST | NLM_F_DUMP)

    def _ack(self, msg: Any, cmd: int) -> None:
        from pyroute2.netlink import NLM_F_ACK, NLM_F_REQUEST
        self._send(msg, cmd, NLM_F_REQUEST | NLM_F_ACK)
        engine = _engine()
        while True:
            buf = self.recv()
            _, status, err = engine.nfct_entries(buf, False, False, -1)
            if status == engine.NFCT_ERROR:
                raise KernelError(err, os.strerror(err))
            if status == engine.NFCT_DONE:
                return

    def flush(self, zone: int | None = None,
              mark: tuple[int, int] | None = None) -> None:
        """IPCTNL_MSG_CT_DELETE without a tuple: the kernel flushes every
        entry, or those of 'zone' and/or 'mark' (value, mask)."""
        from pyroute2.netlink.nfnetlink.nfctsocket import (
            IPCTNL_MSG_CT_DELETE, nfct_msg)
        kwargs: dict[str, Any] = {}
        if zone is not None:
            kwargs["zone"] = zone
        if mark is not None and mark[1]:
            kwargs["mark"], kwargs["mark_mask"] = mark
        self._ack(nfct_msg.create_from(**kwargs), IPCTNL_MSG_CT_DELETE)

    def delete(self, l3: int, orig: Any, proto: int, zone: int,
               ct_id: int | None = None) -> None:
        """Deletes the entry whose original tuple is 'orig' (a record with
        src, dst, sport, dport, icmp_id, icmp_type, icmp_code) in 'zone'
        (nl_ct_flush_tuple()); 'ct_id' makes sure it is that entry.
        Raises KernelError(ENOENT) if there is none."""
        from pyroute2.netlink.nfnetlink.nfctsocket import (
            IPCTNL_MSG_CT_DELETE, NFCTAttrTuple, nfct_msg)
        family = socket.AF_INET6 if l3 == 6 else socket.AF_INET
        if proto in (1, 58):
            tup = NFCTAttrTuple(family=family, saddr=orig.src,
                                daddr=orig.dst, proto=proto,
                                icmp_id=orig.icmp_id,
                                icmp_type=orig.icmp_type,
                                icmp_code=orig.icmp_code)
        else:
            tup = NFCTAttrTuple(family=family, saddr=orig.src,
                                daddr=orig.dst, proto=proto,
                                sport=orig.sport, dport=orig.dport)
        kwargs: dict[str, Any] = {"tuple_orig": tup, "zone": zone}
        if ct_id is not None:
            kwargs["id"] = ct_id
        msg = nfct_msg.create_from(**kwargs)
        msg["nfgen_family"] = family
        self._ack(msg, IPCTNL_MSG_CT_DELETE)
