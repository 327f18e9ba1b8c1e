"""The dump filter in Python: a stopgap until the engine filters.

Issue 13: `dump-conntrack`, `ct-stats-show` and `flush-conntrack` take a
filter (a FlushFilter: zone, mark/labels under mask, partial tuples with
CIDR prefixes, TCP states), and the rows must be chosen inside the engine
while it walks the table, not in Python after it.  The engine does not take
such a filter yet (its flush_filter() knows neither prefixes nor states,
and its dump knows only a zone).  Until it does, ovsct.engine.Conntrack's
*_matching() methods call the functions below, and nothing else in ovsct
selects rows.  They are to be replaced by the engine call (a filter given
to ovsct_dump_start()), and this module deleted.

The semantics are those of OVS's flush filter (ct_dpif_entry_cmp() of
lib/ct-dpif.c), extended: an address given with a prefix matches every
address in it; a state set matches a TCP connection whose state, as
dump-conntrack prints it without -m (the coalesced one), is in the set, and
never a connection of another protocol.

Neighbours: ovsct/types.py (FlushFilter), ovsct/commands/flush.py (the
grammar), ovsct/engine.py (the callers).
"""

from __future__ import annotations

import re
from ipaddress import ip_address
from typing import Any, Iterable, Optional

from ovsct.types import ICMP_PROTOS, FlushFilter, Tuple, TupleMatch

__all__ = ["entry_matches_in_python", "filter_entries_in_python",
           "filter_text_in_python", "coalesced_state"]

# Coalescing of a TCP connection's two states into the one dump-conntrack
# prints (ovsct.format._coalesce() is the same rule for JSON; the engine's
# C formatter for text).
_TCP_ORDER = ("CLOSED", "LISTEN", "SYN_SENT", "SYN_RECV", "ESTABLISHED",
              "CLOSE_WAIT", "FIN_WAIT_1", "CLOSING", "LAST_ACK",
              "FIN_WAIT_2", "TIME_WAIT")


def coalesced_state(orig: str, reply: str) -> str:
    state = max(orig, reply, key=_TCP_ORDER.index)
    return {"SYN_RECV": "ESTABLISHED", "FIN_WAIT_2": "TIME_WAIT"}.get(
        state, state)


def _addr_matches(value: Any, want: Any, plen: Optional[int]) -> bool:
    if want is None:
        return True
    want = ip_address(want) if isinstance(want, str) else want
    have = ip_address(value) if isinstance(value, str) else value
    if have.version != want.version:
        return False
    if plen is None:
        return have == want
    if plen == 0:
        return True
    shift = want.max_prefixlen - plen
    return int(have) >> shift == int(want) >> shift


def _tuple_matches(t: Tuple, m: Optional[TupleMatch]) -> bool:
    """ct_dpif_entry_cmp()'s tuple part: set fields must be equal (ports
    0 and addresses unset match any; ICMP id/type/code always compare)."""
    if m is None:
        return True
    if m.l3 and t.l3 != m.l3:
        return False
    if m.proto is not None and t.proto != m.proto:
        return False
    src_set, dst_set = m._addrs_set()
    if src_set and not _addr_matches(t.src, m.src, m.src_plen):
        return False
    if dst_set and not _addr_matches(t.dst, m.dst, m.dst_plen):
        return False
    if m.proto in ICMP_PROTOS:
        return (t.icmp_id, t.icmp_type, t.icmp_code) == (
            m.icmp_id, m.icmp_type, m.icmp_code)
    return ((not m.sport or t.sport == m.sport)
            and (not m.dport or t.dport == m.dport))


def entry_matches_in_python(e: Any, flt: FlushFilter) -> bool:
    """Whether the connection 'e' (an Entry, or the like parsed from a dump
    line) is one 'flt' selects."""
    if flt.zone is not None and e.zone != flt.zone:
        return False
    if flt.mark_mask and (e.mark & flt.mark_mask) != flt.mark:
        return False
    if flt.labels_mask and (e.labels & flt.labels_mask) != flt.labels:
        return False
    if flt.states is not None:
        if e.tcp_state is None or coalesced_state(*e.tcp_state) \
                not in flt.states:
            return False
    return (_tuple_matches(e.orig, flt.orig)
            and _tuple_matches(e.reply, flt.reply))


def filter_entries_in_python(entries: Iterable[Any], flt: FlushFilter
                             ) -> list:
    return [e for e in entries if entry_matches_in_python(e, flt)]


# A dump line of the engine's C formatter, with or without -m / -s.
_LINE = re.compile(r"^([^,]+),orig=\(([^)]*)\),reply=\(([^)]*)\)(.*)$")
_PROTO = {"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "dccp": 33,
          "icmpv6": 58, "sctp": 132, "udplite": 136}
_TUPLE_KEYS = {"sport": "sport", "dport": "dport", "id": "icmp_id",
               "type": "icmp_type", "code": "icmp_code"}


class _Line:
    __slots__ = ("orig", "reply", "zone", "mark", "labels", "tcp_state")


def _parse_tuple_text(text: str, proto: int) -> Tuple:
    t = Tuple(proto=proto)
    for item in text.split(","):
        key, _, value = item.partition("=")
        if key in ("src", "dst"):
            setattr(t, key, value)
            t.l3 = 6 if ":" in value else 4
        elif key in _TUPLE_KEYS:
            setattr(t, _TUPLE_KEYS[key], int(value))
    return t


def _parse_line(line: str) -> Optional[_Line]:
    m = _LINE.match(line)
    if m is None:
        return None
    name = m.group(1)
    proto = _PROTO.get(name)
    if proto is None:
        proto = int(name) if name.isdigit() else 0
    e = _Line()
    e.orig = _parse_tuple_text(m.group(2), proto)
    e.reply = _parse_tuple_text(m.group(3), proto)
    e.zone = e.mark = e.labels = 0
    e.tcp_state = None
    rest = m.group(4)
    info = rest.find(",protoinfo=(")
    fields = rest[:info] if info >= 0 else rest
    for item in fields.split(","):
        key, _, value = item.partition("=")
        if key in ("zone", "mark"):
            setattr(e, key, int(value))
        elif key == "labels":
            e.labels = int(value, 16 if value.startswith("0x") else 10)
    if info >= 0:
        states = dict(item.partition("=")[::2] for item in
                      rest[info + len(",protoinfo=("):].rstrip(")")
                      .split(","))
        if "state" in states:
            e.tcp_state = (states["state"], states["state"])
        elif "state_orig" in states:
            e.tcp_state = (states["state_orig"], states["state_reply"])
    return e


def filter_text_in_python(text: str, flt: FlushFilter) -> str:
    """The lines of a dump text (the C formatter's) whose connection 'flt'
    selects.  Reading the lines back keeps the text and the selection from
    one walk of the table."""
    out = []
    for line in text.splitlines(keepends=True):
        e = _parse_line(line.rstrip("\n"))
        if e is not None and entry_matches_in_python(e, flt):
            out.append(line)
    return "".join(out)
