"""Value types of the tracker's Python face, in pure Python.

These are the shapes that cross the boundary between the command layer,
the formatters and the engine wrapper: a connection's tuple, a connection
as a dump copies it out, and the partial match a flush takes.  This module
imports no extension (and nothing from ovsct), so a parser, a formatter or
a test can build and inspect these values without the C engine;
ovsct.engine converts them to what the binding takes.

Addresses are strings ("10.0.0.1", "fc00::1") or, where a parser has
already read them, ipaddress objects: the engine takes either, so an address
parsed once is never turned back into text to be parsed again.

Neighbours: engine.py (conversions to the binding), format.py (text and
JSON of an Entry), commands/flush.py (builds a FlushFilter from the
flush-conntrack arguments).
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import Optional, Union

__all__ = ["Address", "Entry", "FlushFilter", "ICMP_PROTOS", "Tuple",
           "TupleMatch"]

Address = Union[str, IPv4Address, IPv6Address]

# IP protocol numbers of ICMP and ICMPv6: their tuples carry id/type/code
# instead of ports.
ICMP_PROTOS = (1, 58)


@dataclass(slots=True)
class Tuple:
    """One direction of a connection."""

    l3: int = 4
    proto: int = 0
    src: Address = ""
    dst: Address = ""
    sport: int = 0
    dport: int = 0
    icmp_id: int = 0
    icmp_type: int = 0
    icmp_code: int = 0


@dataclass(slots=True)
class TupleMatch:
    """A partial tuple for a flush; zero / None fields match any (l3 0:
    either family; proto None: any protocol).  For ICMP, id, type and code
    are compared even when 0, as OVS's ct_dpif_entry_cmp() does."""

    l3: int = 0
    proto: Optional[int] = None
    src: Optional[Address] = None
    dst: Optional[Address] = None
    sport: int = 0
    dport: int = 0
    icmp_id: int = 0
    icmp_type: int = 0
    icmp_code: int = 0
    # CIDR prefix lengths of src and dst (ct_nw_src=10.1.0.0/16, an
    # extension of ours); None: the whole address.
    src_plen: Optional[int] = None
    dst_plen: Optional[int] = None

    def _addrs_set(self) -> tuple[bool, bool]:
        # OVS keeps addresses in a zeroed in6_addr: all-zero is "unset".
        return (bool(self.src) and (bool(self.src_plen)
                                    or _nonzero(self.src)),
                bool(self.dst) and (bool(self.dst_plen)
                                    or _nonzero(self.dst)))

    def has_prefix(self) -> bool:
        """A shorter than full prefix on an address (the engine's flush
        takes whole addresses only)."""
        return self.src_plen is not None or self.dst_plen is not None

    def is_zero(self) -> bool:
        """ofp_ct_tuple_is_zero() (lib/ofp-ct.c): no address and, unless
        ICMP, no port."""
        src, dst = self._addrs_set()
        if src or dst:
            return False
        return self.proto in ICMP_PROTOS or not (self.sport or self.dport)

    def is_five_tuple(self) -> bool:
        """ofp_ct_tuple_is_five_tuple() (lib/ofp-ct.c): both addresses and,
        unless ICMP, both ports."""
        src, dst = self._addrs_set()
        if not (src and dst) or self.has_prefix():
            return False
        return self.proto in ICMP_PROTOS or bool(self.sport and self.dport)

    def to_tuple(self) -> Tuple:
        """The exact Tuple of a five-tuple match (ICMP: the id in both
        port fields, as the engine keys ICMP connections)."""
        icmp = self.proto in ICMP_PROTOS
        return Tuple(l3=self.l3, proto=self.proto or 0, src=self.src or "",
                     dst=self.dst or "",
                     sport=self.icmp_id if icmp else self.sport,
                     dport=self.icmp_id if icmp else self.dport,
                     icmp_id=self.icmp_id, icmp_type=self.icmp_type,
                     icmp_code=self.icmp_code)


def _nonzero(addr: Address) -> bool:
    if isinstance(addr, str):
        return addr not in ("0.0.0.0", "::")
    return bool(int(addr))


@dataclass(slots=True)
class FlushFilter:
    """OVS's ofp_ct_match: zone, mark/labels under mask, tuple matches
    (None: the direction takes no part)."""

    zone: Optional[int] = None
    mark: int = 0
    mark_mask: int = 0
    labels: int = 0
    labels_mask: int = 0
    orig: Optional[TupleMatch] = None
    reply: Optional[TupleMatch] = None
    # TCP states (OVS's names, as dump-conntrack prints the coalesced
    # state) of which one must be the connection's: an extension of ours
    # (state=ESTABLISHED,TIME_WAIT); None: any connection.
    states: Optional[frozenset[str]] = None

    def has_extensions(self) -> bool:
        """Parts OVS's ofp_ct_match lacks (CIDR prefixes, TCP states)."""
        return self.states is not None or any(
            t is not None and t.has_prefix() for t in (self.orig, self.reply))

    def is_zero(self) -> bool:
        """ofp_ct_match_is_zero() (lib/ofp-ct.c): only the zone, if
        anything, is given (flush everything, or a whole zone)."""
        return (not self.mark_mask and not self.labels_mask
                and self.states is None
                and all(t is None or (not t.l3 and t.proto is None
                                      and t.is_zero())
                        for t in (self.orig, self.reply)))

    def is_five_tuple(self) -> bool:
        """ofp_ct_match_is_five_tuple() (lib/ofp-ct.c): a full original
        tuple and nothing else, so one exact lookup finds the
        connection."""
        return (self.orig is not None and self.orig.is_five_tuple()
                and not self.mark_mask and not self.labels_mask
                and self.states is None
                and (self.reply is None or self.reply.is_zero()))


@dataclass(slots=True)
class Entry:
    """A connection as copied out by a dump."""

    orig: Tuple
    reply: Tuple
    zone: int
    mark: int
    labels: int
    expiration: int                 # engine clock, ms
    timeout: int                    # seconds left, OVS rounding
    tcp_state: Optional[tuple[str, str]]    # (orig, reply); None: not TCP
    tcp_wscale: tuple[int, int]
    tcp_flags: tuple[int, int]
    bucket: int
    nat: int                        # ct_state CS_SRC_NAT|CS_DST_NAT bits
    helper: Optional[str] = None    # ALG helper attached ("ftp", "tftp")
    parent: Optional[Tuple] = None  # an ALG data connection's control
    #                                 connection (its orig tuple)
