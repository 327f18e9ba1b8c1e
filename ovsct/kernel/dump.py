"""Kernel conntrack entries: the dump as text, as records, as JSON.

The text path never makes a Python object per entry: each raw datagram
becomes one str of OVS dump lines in C (nfct_dump_text).  Everything that
needs to look at entries (filters, flush, ct-stats-show, JSON, events) uses
records: KernelEntry, made from the tuples of nfct_entries.

Neighbours: ovsct/kernel/netlink.py (the socket), dpio/nfct.c (decoder and
line format), ovsct/kernel/commands.py.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any, Iterable, Iterator, NamedTuple

from ovsct.kernel.netlink import CtNetlink, KernelError
from ovsct.types import FlushFilter

__all__ = ["KernelTuple", "KernelEntry", "iter_text", "iter_entries",
           "entries_from", "entry_json", "stats_of", "Match"]

_ICMP = (1, 58)


class KernelTuple(NamedTuple):
    src: str
    dst: str
    sport: int
    dport: int
    icmp_id: int
    icmp_type: int
    icmp_code: int


class KernelEntry(NamedTuple):
    """One kernel connection as OVS's struct ct_dpif_entry holds it
    (lib/netlink-conntrack.c), with its dump line."""
    event: str                  # NEW, UPDATE (dumps) or DESTROY.
    line: str                   # The OVS dump line, no newline.
    zone: int
    l3: int                     # 4 or 6.
    proto: int
    orig: KernelTuple
    reply: KernelTuple
    id: int
    status: tuple               # CT_DPIF_STATUS_* names.
    timeout: int
    mark: int
    labels: int                 # The 128-bit value.
    tcp: tuple | None           # (state, wscale_o, wscale_r, flags_o,
    #                             flags_r) with ct_dpif names.
    counters: tuple             # (packets_o, bytes_o, packets_r, bytes_r).
    start_ns: int
    stop_ns: int
    helper: str | None
    master: KernelTuple | None


def _engine() -> Any:
    from ovsct import _engine
    return _engine


def entries_from(raw: Iterable[tuple]) -> Iterator[KernelEntry]:
    """KernelEntry objects from nfct_entries() tuples."""
    for r in raw:
        yield KernelEntry(r[0], r[1], r[2], r[3], r[4], KernelTuple(*r[5]),
                          KernelTuple(*r[6]), *r[7:17],
                          KernelTuple(*r[17]) if r[17] else None)


def _check(status: int, err: int) -> bool:
    """True at the end of the dump; raises on a kernel error."""
    engine = _engine()
    if status == engine.NFCT_ERROR:
        raise KernelError(err, os.strerror(err))
    return status == engine.NFCT_DONE


def iter_text(nl: CtNetlink, verbose: bool, stats: bool,
              zone: int | None) -> Iterator[str]:
    """The dump's text, one piece per datagram, in the kernel's order."""
    dump_text = _engine().nfct_dump_text
    nl.dump_start(zone=zone)
    want = -1 if zone is None else zone
    while True:
        text, _, status, err = dump_text(nl.recv(), verbose, stats, want)
        if text:
            yield text
        if _check(status, err):
            return


def iter_entries(nl: CtNetlink, verbose: bool = False, stats: bool = False,
                 zone: int | None = None,
                 mark: tuple[int, int] | None = None
                 ) -> Iterator[KernelEntry]:
    """The dump's entries, filtered by the kernel on 'zone' and 'mark'
    (value, mask) where it can."""
    entries = _engine().nfct_entries
    nl.dump_start(zone=zone, mark=mark)
    want = -1 if zone is None else zone
    while True:
        raw, status, err = entries(nl.recv(), verbose, stats, want)
        yield from entries_from(raw)
        if _check(status, err):
            return


# ---------------------------------------------------------------------------
# Filters: the flush-conntrack match (ofp_ct_match_cmp(), lib/ofp-ct.c).

def _states_of(wanted: frozenset[str] | None) -> frozenset[str] | None:
    """The kernel TCP states (ct_dpif names, as KernelEntry.tcp[0] holds
    them) that dump-conntrack prints as one of 'wanted': the engine's
    coalescing rule applied to a kernel entry's one state for both
    directions (so state=ESTABLISHED also selects SYN_RECV, as the dump
    prints it)."""
    if wanted is None:
        return None
    engine = _engine()
    names = engine.TCP_STATE_NAMES
    return frozenset(n for i, n in enumerate(names)
                     if names[engine.tcp_state_coalesce(i, i)] in wanted)


class Match:
    """A parsed flush-conntrack or dump filter match (the FlushFilter of
    the dpctl grammars, ovsct/commands/flush.py) applied to kernel
    entries."""

    def __init__(self, match: FlushFilter) -> None:
        self.zone = match.zone
        self.m = match
        # state=S[,S...] (dump filters only): TCP entries whose state, as
        # the dump prints it, is one of them.
        self.states = _states_of(match.states)
        # Both tuples take part whenever the match has a tuple field (the
        # grammar then sets both; ICMP id/type/code compare even when 0,
        # as in OVS).
        self.tuples = match.orig is not None
        self.l3 = match.orig.l3 if self.tuples else 0
        self.proto = match.orig.proto if self.tuples else None

    @property
    def kernel_mark(self) -> tuple[int, int] | None:
        m = self.m
        return (m.mark, m.mark_mask) if m.mark_mask else None

    @staticmethod
    def _tuple_ok(spec: Any, t: KernelTuple, proto: int) -> bool:
        for want, plen, have in ((spec.src, spec.src_plen, t.src),
                                 (spec.dst, spec.dst_plen, t.dst)):
            if plen is not None:
                # ct_nw_src=10.1.0.0/16 (an extension of ours): every
                # address in the prefix (the grammar cleared the host bits).
                addr = ipaddress.ip_address(have)
                if (addr.version != want.version
                        or (int(addr) ^ int(want))
                        >> (addr.max_prefixlen - plen)):
                    return False
            elif want is not None and int(want):
                if ipaddress.ip_address(have) != want:
                    return False
        if proto in _ICMP:
            return (spec.icmp_id == t.icmp_id
                    and spec.icmp_type == t.icmp_type
                    and spec.icmp_code == t.icmp_code)
        return ((not spec.sport or spec.sport == t.sport)
                and (not spec.dport or spec.dport == t.dport))

    def __call__(self, e: KernelEntry) -> bool:
        m = self.m
        if self.zone is not None and e.zone != self.zone:
            return False
        if self.proto and self.proto != e.proto:
            return False
        if self.l3 and self.l3 != e.l3:
            return False
        if (m.mark ^ e.mark) & m.mark_mask:
            return False
        if (m.labels ^ e.labels) & m.labels_mask:
            return False
        if self.states is not None and (e.tcp is None
                                        or e.tcp[0] not in self.states):
            return False
        if self.tuples:
            proto = self.proto or e.proto
            if not (self._tuple_ok(m.orig, e.orig, proto)
                    and self._tuple_ok(m.reply, e.reply, proto)):
                return False
        return True


# ---------------------------------------------------------------------------
# JSON and statistics.

def _tuple_json(t: KernelTuple, proto: int) -> dict:
    out: dict[str, Any] = {"src": t.src, "dst": t.dst}
    if proto in _ICMP:
        out.update(id=t.icmp_id, type=t.icmp_type, code=t.icmp_code)
    else:
        out.update(sport=t.sport, dport=t.dport)
    return out


def entry_json(e: KernelEntry) -> dict:
    """One kernel entry as a JSON object (the userspace shape of
    ovsct_format_entry_json() in ext/format.c plus the kernel's own fields)."""
    PROTO_NAMES = _engine().PROTO_NAMES
    out: dict[str, Any] = {
        "protocol": PROTO_NAMES.get(e.proto, str(e.proto)),
        "proto": e.proto,
        "l3": e.l3,
        "zone": e.zone,
        "orig": _tuple_json(e.orig, e.proto),
        "reply": _tuple_json(e.reply, e.proto),
        "id": e.id,
        "status": list(e.status),
        "timeout": e.timeout,
        "mark": e.mark,
        "labels": e.labels,
    }
    if e.tcp is not None:
        state, ws_o, ws_r, fl_o, fl_r = e.tcp
        engine = _engine()
        names = engine.TCP_STATE_NAMES
        i = names.index(state)
        coalesced = names[engine.tcp_state_coalesce(i, i)]
        out["tcp"] = {"state": coalesced, "state_orig": state,
                      "state_reply": state, "wscale_orig": ws_o,
                      "wscale_reply": ws_r, "flags_orig": list(fl_o),
                      "flags_reply": list(fl_r)}
    if any(e.counters):
        out["counters"] = {
            "orig": {"packets": e.counters[0], "bytes": e.counters[1]},
            "reply": {"packets": e.counters[2], "bytes": e.counters[3]}}
    if e.start_ns:
        out["start_ns"] = e.start_ns
    if e.stop_ns:
        out["stop_ns"] = e.stop_ns
    if e.helper:
        out["helper"] = e.helper
    if e.master is not None:
        # The kernel's CTA_TUPLE_MASTER, named as the userspace JSON
        # names an expected connection's control connection.
        out["parent"] = _tuple_json(e.master, e.proto)
    return _sorted(out)


def _sorted(obj: Any) -> Any:
    """Keys in sorted order at every level, as ext/format.c writes the
    userspace objects (the order ovs-appctl prints, JSSF_SORT): a streamed dump
    reaches the client as the daemon encoded it."""
    if isinstance(obj, dict):
        return {k: _sorted(obj[k]) for k in sorted(obj)}
    return obj


def stats_of(entries: Iterable[KernelEntry]) -> dict:
    """dpctl_ct_stats_show()'s counts over 'entries', in the shape
    ovsct.format.stats_text() takes."""
    PROTO_NAMES = _engine().PROTO_NAMES
    classes = _engine().PROTO_CLASSES
    total = 0
    per: dict[str, int] = {}
    states: dict[str, int] = {}
    for e in entries:
        total += 1
        # The classes are named as their protocols (ext/names.c).
        key = PROTO_NAMES.get(e.proto, "other")
        if key not in classes:
            key = "other"
        per[key] = per.get(key, 0) + 1
        if e.tcp is not None:
            states[e.tcp[0]] = states.get(e.tcp[0], 0) + 1
    return {"total": total, "per_proto": per, "tcp_states": states}
