"""Python face of the C connection tracker (ovsct._engine).

`Conntrack` wraps the binding's object: it turns the value types of
ovsct.types (re-exported here) and `ovsct.action.Action` into the plain
tuples the binding takes, and the raw buffers the binding returns (dumps,
bucket counts) into Python values.  No
text is made here (ovsct.format does that), except `dump_text()`, which is
the C formatter's output passed through.

Every engine call runs in C with the GIL released; a batch of frames is one
call (`execute`, `execute_pcap`), never one call per packet.
"""

from __future__ import annotations

import json
import socket
from array import array
from ipaddress import IPv4Address, IPv6Address
from itertools import accumulate
from collections.abc import Sequence as _Sequence
from typing import (Any, Iterable, Iterator, NamedTuple, Optional, Sequence,
                    Union)

from ovsct import _engine
from ovsct.errors import NotFound, OvsctError, TableFull
from ovsct.types import Entry, FlushFilter, Tuple, TupleMatch

__all__ = [
    "Conntrack", "Entry", "FlushFilter", "NotFound", "OvsctError",
    "TableFull", "Tuple", "TupleMatch", "TP_NAMES", "TP_DEFAULTS",
    "PROTO_CLASSES", "TCP_STATE_NAMES", "COUNTER_NAMES", "action_to_c",
    "pcap_load", "pcap_write", "bench_run", "trim", "Event", "EVENT_NAMES",
]

# Timeout-policy attribute names (ovsct_tp_names) and their defaults (s).
TP_NAMES: tuple[str, ...] = tuple(_engine.TP_NAMES)
TP_DEFAULTS: dict[str, int] = dict(zip(TP_NAMES, _engine.TP_DEFAULTS))

# Engine names, defined once in ext/names.c.
PROTO_CLASSES: tuple[str, ...] = _engine.PROTO_CLASSES
TCP_STATE_NAMES: tuple[str, ...] = _engine.TCP_STATE_NAMES
COUNTER_NAMES: tuple[str, ...] = _engine.COUNTER_NAMES
# Event type names by enum ovsct_event_type ("" first, then NEW, UPDATE,
# DESTROY).
EVENT_NAMES: tuple[str, ...] = _engine.EVENT_NAMES

CS_SRC_NAT = 0x40
CS_DST_NAT = 0x80
NAT_F_PERSISTENT = 1 << 0
NAT_F_HASH = 1 << 1
NAT_F_RANDOM = 1 << 2
_NAT_FLAG_BITS = {"persistent": NAT_F_PERSISTENT, "hash": NAT_F_HASH,
                  "random": NAT_F_RANDOM}

_ICMP_PROTOS = (1, 58)
_U64 = (1 << 64) - 1
_U128 = (1 << 128) - 1
_U32 = (1 << 32) - 1


# Conversions to the binding's tuples.

def _addr16(addr, l3: int = 0) -> bytes:
    """Network-order 16-byte form of 'addr' (IPv4 in the first 4 bytes):
    a str, or an ipaddress object as a parser made it (not re-parsed)."""
    if isinstance(addr, (IPv4Address, IPv6Address)):
        if l3 and l3 != addr.version:
            raise ValueError(f"{addr} is not an IPv{l3} address")
        return addr.packed + bytes(16 - len(addr.packed))
    if not isinstance(addr, str):
        raise TypeError(f"address must be a str, not {type(addr).__name__}")
    if l3 == 0:
        l3 = 6 if ":" in addr else 4
    try:
        if l3 == 4:
            return socket.inet_pton(socket.AF_INET, addr) + bytes(12)
        if l3 == 6:
            return socket.inet_pton(socket.AF_INET6, addr)
    except OSError:
        raise ValueError(f"bad IPv{l3} address {addr!r}") from None
    raise ValueError(f"l3 must be 4 or 6, not {l3!r}")


def _split128(v: int) -> tuple[int, int]:
    v = int(v)
    if v < 0 or v > _U128:
        raise ValueError("label out of range (128 bits)")
    return v & _U64, v >> 64


def _tuple_to_c(t: Tuple) -> tuple:
    l3 = t.l3 or (6 if ":" in str(t.src) else 4)
    if t.proto in _ICMP_PROTOS:
        sport = dport = t.icmp_id
    else:
        sport, dport = t.sport, t.dport
    return (l3, t.proto, _addr16(t.src, l3), _addr16(t.dst, l3), sport,
            dport, t.icmp_type, t.icmp_code)


def _family(addr) -> int:
    if isinstance(addr, (IPv4Address, IPv6Address)):
        return addr.version
    return 6 if ":" in str(addr) else 4


def _match_to_c(m: Optional[TupleMatch]) -> Optional[tuple]:
    if m is None:
        return None
    # Unset addresses (TupleMatch._addrs_set(): none, or all-zero without
    # a prefix) are left out; a given one carries its family in l3.
    src_set, dst_set = m._addrs_set()
    l3 = m.l3
    if not l3 and (src_set or dst_set):
        l3 = _family(m.src if src_set else m.dst)
    return (_addr16(m.src, l3) if src_set else None,
            _addr16(m.dst, l3) if dst_set else None,
            l3, m.proto, m.sport, m.dport, m.icmp_id, m.icmp_type,
            m.icmp_code, m.src_plen or 0, m.dst_plen or 0)


def _filter_to_c(f: Union[None, int, FlushFilter]):
    """The binding's filter argument (binding/convert.c parse_filter()):
    None (everything), a zone, or a FlushFilter as a tuple."""
    if f is None or isinstance(f, int):
        return f
    states = 0
    for name in f.states or ():
        states |= 1 << TCP_STATE_NAMES.index(name)
    return ((f.zone, f.mark & _U32, f.mark_mask & _U32)
            + _split128(f.labels) + _split128(f.labels_mask)
            + (_match_to_c(f.orig), _match_to_c(f.reply), states))


# What the dumps, stats() and flush_filter() select: None (everything), a
# zone, or a FlushFilter (matched by the engine while it walks the table,
# ext/filter.c).
Selection = Union[None, int, FlushFilter]


def _nat_to_c(nat: Any) -> Optional[tuple]:
    """ovsct.action.Nat -> (kind, l3, flags, pmin, pmax, amin16, amax16)."""
    if nat is None:
        return None
    kind = getattr(nat, "kind", None)
    if kind in ("src", "snat", CS_SRC_NAT):
        kind = CS_SRC_NAT
    elif kind in ("dst", "dnat", CS_DST_NAT):
        kind = CS_DST_NAT
    elif kind in (None, "", 0xff):
        kind = 0xff
    else:
        raise ValueError(f"bad NAT kind {kind!r}")
    amin = getattr(nat, "addr_min", None)
    amax = getattr(nat, "addr_max", None) or amin
    l3 = getattr(nat, "l3", 0) or 0
    if not l3:
        l3 = 6 if amin and ":" in str(amin) else 4
    flags = getattr(nat, "flag_bits", None)
    if flags is None:
        flags = 0
        for name in getattr(nat, "flags", ()) or ():
            flags |= _NAT_FLAG_BITS[name]
    pmin = getattr(nat, "port_min", None) or 0
    pmax = getattr(nat, "port_max", None) or pmin
    return (kind, l3, flags, pmin, pmax,
            _addr16(str(amin), l3) if amin else bytes(16),
            _addr16(str(amax), l3) if amax else bytes(16))


def action_to_c(action: Any) -> tuple:
    """Converts an Action (or a ct(...) string) to the binding's tuple:
    (zone, commit, force, set_mark, mark, mark_mask, set_labels, labels_lo,
     labels_hi, labels_mask_lo, labels_mask_hi, nat)."""
    if isinstance(action, tuple):
        return action
    if isinstance(action, str):
        from ovsct.action import parse_ct_action
        action = parse_ct_action(action)
    mark = getattr(action, "mark", None)
    mark_mask = getattr(action, "mark_mask", None)
    labels = getattr(action, "labels", None)
    labels_mask = getattr(action, "labels_mask", None)
    # Action keeps None for "not set"; a value without a mask is a full set.
    set_mark = mark is not None or mark_mask is not None
    set_labels = labels is not None or labels_mask is not None
    mark = mark or 0
    labels = labels or 0
    if mark_mask is None:
        mark_mask = _U32 if set_mark else 0
    if labels_mask is None:
        labels_mask = _U128 if set_labels else 0
    return ((getattr(action, "zone", 0) or 0, bool(action.commit),
             bool(getattr(action, "force", False)), set_mark, mark & _U32,
             mark_mask & _U32, set_labels)
            + _split128(labels) + _split128(labels_mask)
            + (_nat_to_c(getattr(action, "nat", None)),
               _alg_to_c(getattr(action, "alg", None))))


def _alg_to_c(name: Optional[str]) -> int:
    # OVSCT_ALG_*: ALG_NAMES[i] is helper i + 1, 0 none.
    return 0 if name is None else _engine.ALG_NAMES.index(name) + 1


def _action(action: Any) -> tuple:
    # Frozen (hashable) actions are converted once.
    try:
        return _action_cache[action]
    except KeyError:
        pass
    except TypeError:               # unhashable: convert every time
        return action_to_c(action)
    c = action_to_c(action)
    if len(_action_cache) >= 256:
        _action_cache.clear()
    _action_cache[action] = c
    return c


_action_cache: dict = {}


def _zone_arg(zone: Optional[int]) -> int:
    return -1 if zone is None else zone


class Conntrack:
    """A connection tracker (see docs/architecture.md)."""

    def __init__(self, buckets: int = 0, manual_clock: bool = False,
                 start_ms: int = 0, sweeper: bool = True,
                 bucket_low_bits: bool = False, event_ring: int = 0) -> None:
        # 'bucket_low_bits' picks buckets by the hash's low bits: the naive
        # mapping, only for measurements (docs/benchmarks.md).
        # 'event_ring': events kept for readers (0: the default).
        self._ct = _engine.Conntrack(buckets=buckets,
                                     manual_clock=manual_clock,
                                     start_ms=start_ms, sweeper=sweeper,
                                     bucket_low_bits=bucket_low_bits,
                                     event_ring=event_ring)

    # Lifecycle.

    def close(self) -> None:
        self._ct.close()

    @property
    def closed(self) -> bool:
        return self._ct.closed

    def __enter__(self) -> "Conntrack":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._ct.closed:
            return "<ovsct.Conntrack closed>"
        return f"<ovsct.Conntrack n_buckets={self._ct.n_buckets}>"

    # Clock.

    @property
    def now(self) -> int:
        return self._ct.now

    def set_time(self, ms: int) -> None:
        self._ct.set_time(ms)

    def advance(self, ms: int) -> None:
        self._ct.set_time(self._ct.now + ms)

    def use_real_clock(self) -> None:
        self._ct.use_real_clock()

    # Execution.

    def execute(self, frames, offsets, action, lens=None,
                tag_base: int = 0) -> bytes:
        """Runs 'action' on each frame; returns one ct_state byte per frame.

        'frames' is a buffer of concatenated Ethernet frames: writable
        buffers (bytearray, memoryview) receive NAT rewrites in place;
        read-only ones (bytes) are used as they are, or copied first if
        the action has NAT.  'offsets' holds n + 1 uint32 values
        (array('I'), raw native-order bytes, or ints).  'lens', an
        array('I') of n frame lengths within their slots, lets the FTP
        helper grow or shrink a frame (NAT) and receives the new lengths;
        without it a frame has no room and its payload is not rewritten
        (struct ovsct_batch).  Frame i's reassembly tag (ipf_drain()) is
        'tag_base' + i, below TAG_LIVE (the live datapath's)."""
        return self._ct.execute(frames, offsets, _action(action), lens,
                                tag_base)

    def execute_room(self, frames: Sequence[bytes], action,
                     room: int = 64) -> tuple[bytes, list[bytes]]:
        """Runs 'action' on 'frames', each given 'room' spare bytes, and
        returns the states and the frames as they leave (NAT rewrites,
        including the FTP helper's, which may change their length)."""
        offsets = array("I", [0])
        buf = bytearray()
        for f in frames:
            buf += f + bytes(room)
            offsets.append(len(buf))
        lens = array("I", map(len, frames))
        states = self._ct.execute(buf, offsets, _action(action), lens)
        out = [bytes(buf[offsets[i]:offsets[i] + lens[i]])
               for i in range(len(frames))]
        return states, out

    def dump_exp(self, zone: Optional[int] = None) -> list[str]:
        """The ALG expectations (of 'zone' if given), one line each as
        dpctl/dump-conntrack-exp prints them."""
        return self._ct.dump_exp_text(zone=zone)

    def execute_frames(self, frames: Sequence[bytes], action,
                       tag_base: int = 0) -> bytes:
        offsets = array("I", [0])
        offsets.extend(accumulate(map(len, frames)))
        return self._ct.execute(b"".join(frames), offsets, _action(action),
                                None, tag_base)

    def execute_pcap(self, path, action, batch: int = 32,
                     capture_clock: bool = False, write=None,
                     on_batch=None):
        """Runs a capture ("-": standard input) through the engine in
        batches of at most 'batch' frames; reading, conversion to Ethernet,
        clock and writing are in C with the GIL released
        (dpio/pcap.c, dpio/replay.c).

        'capture_clock': the frames' time stamps drive the engine's manual
        clock (it never goes back).  'write': a path where the frames go,
        after NAT, in the input's container, link types and time stamps.
        'on_batch': called with the states of each group of frames as soon
        as they are run, the input being read as a stream; the result is
        then the number of frames, else the bytes of all states."""
        return self._ct.execute_pcap(path, _action(action), batch,
                                     capture_clock, write, on_batch)

    # Counts and settings.

    def nconns(self) -> int:
        return self._ct.nconns()

    def check_invariants(self) -> None:
        """Checks the table by a full walk (ext/invariant.c); raises
        OvsctError naming the first broken invariant.  For tests: call
        it only while no other thread uses the table."""
        self._ct.check_invariants()

    @property
    def maxconns(self) -> int:
        return self._ct.maxconns

    @maxconns.setter
    def maxconns(self, value: int) -> None:
        self._ct.maxconns = value

    @property
    def sweep_interval(self) -> int:
        return self._ct.sweep_interval

    @sweep_interval.setter
    def sweep_interval(self, ms: int) -> None:
        self._ct.sweep_interval = ms

    @property
    def tcp_seq_chk(self) -> bool:
        return self._ct.tcp_seq_chk

    @tcp_seq_chk.setter
    def tcp_seq_chk(self, value: bool) -> None:
        self._ct.tcp_seq_chk = bool(value)

    @property
    def n_buckets(self) -> int:
        return self._ct.n_buckets

    # IP fragment reassembly (ext/ipf.c).

    def ipf_set_enabled(self, v6: bool, enabled: bool) -> None:
        self._ct.ipf_set_enabled(bool(v6), bool(enabled))

    def ipf_set_min_frag(self, v6: bool, size: int) -> None:
        """ValueError below 400 bytes (OVS's IPF_V4/V6_FRAG_SIZE_LBOUND)."""
        self._ct.ipf_set_min_frag(bool(v6), size)

    def ipf_set_max_nfrags(self, n: int) -> None:
        """ValueError above 5000 (OVS's IPF_NFRAG_UBOUND)."""
        self._ct.ipf_set_max_nfrags(n)

    def ipf_status(self) -> dict:
        """{'enabled': (v4, v6), 'min_frag': (v4, v6), 'max_nfrags',
        'nfrag', 'counters': (v4, v6)}, counters in the order accepted,
        completed, expired, too small, overlapped, purged."""
        return self._ct.ipf_status()

    def ipf_lists(self) -> list[str]:
        """The fragment lists, one OVS ipf_dump_create() line each."""
        return self._ct.ipf_lists()

    def ipf_drain(self, expire_all: bool = False,
                  mask: int = _engine.TAG_LIVE, value: int = 0) -> list:
        """[(tag, state, frame)] of the fragments that left reassembly
        since the last drain (held fragments get state 0 from execute())
        whose tag & 'mask' == 'value': by default every one but the live
        datapath's (TAG_LIVE), which its workers send; mask=0 takes all.
        'expire_all' expires every incomplete list first."""
        return self._ct.ipf_drain(expire_all=expire_all, mask=mask,
                                  value=value)

    # Zone limits.

    def set_zone_limit(self, zone: Optional[int], limit: int) -> None:
        self._ct.set_zone_limit(_zone_arg(zone), limit)

    def del_zone_limit(self, zone: Optional[int]) -> None:
        self._ct.del_zone_limit(_zone_arg(zone))

    def get_zone_limit(self, zone: Optional[int]) -> tuple[int, int, bool]:
        return self._ct.get_zone_limit(_zone_arg(zone))

    def list_zone_limits(self) -> list[int]:
        return self._ct.list_zone_limits()

    # Timeout policies.

    def set_zone_tp(self, zone: int, policy: dict[str, int]) -> None:
        values: list[Optional[int]] = [None] * len(TP_NAMES)
        for key, value in policy.items():
            try:
                values[TP_NAMES.index(key)] = int(value)
            except ValueError:
                raise ValueError(
                    f"unknown timeout policy attribute {key!r}") from None
        self._ct.set_zone_tp(zone, values)

    def del_zone_tp(self, zone: int) -> None:
        self._ct.del_zone_tp(zone)

    def get_zone_tp(self, zone: int) -> Optional[dict[str, int]]:
        values = self._ct.get_zone_tp(zone)
        if values is None:
            return None
        return {k: v for k, v in zip(TP_NAMES, values) if v is not None}

    def list_zone_tps(self) -> dict[int, dict[str, int]]:
        return {zone: {k: v for k, v in zip(TP_NAMES, values)
                       if v is not None}
                for zone, values in self._ct.list_zone_tps()}

    # Flush.

    def flush(self, zone: Optional[int] = None) -> int:
        return self._ct.flush(zone)

    def flush_tuple(self, zone: int, tup: Tuple) -> None:
        self._ct.flush_tuple(zone, _tuple_to_c(tup))

    def flush_filter(self, flt: FlushFilter) -> int:
        """Deletes the connections 'flt' selects, matched by the engine
        under each bucket's lock; returns how many."""
        return self._ct.flush_filter(_filter_to_c(flt))

    # Connection events (ext/events.c).

    def events_subscribe(self) -> tuple[int, int]:
        """Turns events on (one more reader) and returns a cursor at the
        next event: an opaque (seq, dropped) pair for events_read()."""
        return self._ct.events_subscribe()

    def events_unsubscribe(self) -> None:
        """One reader less; events stop when none is left."""
        self._ct.events_unsubscribe()

    def events_read(self, cursor: tuple[int, int], max: int = 1024,
                    flt: "Selection" = None, verbose: bool = False,
                    stats: bool = False
                    ) -> tuple[list["Event"], tuple[int, int], int]:
        """The events after 'cursor' (at most 'max', those matching 'flt'),
        the cursor after them, and how many events this reader lost since
        its last read (ring overflow or a writer's drop).  Never waits."""
        raw, cursor, lost = self._ct.events_read(
            tuple(cursor), max, _filter_to_c(flt),
            verbose, stats, Tuple, Entry, TCP_STATE_NAMES)
        return [Event(*r) for r in raw], cursor, lost

    # Dumps and statistics.  Each takes a Selection: None, a zone, or a
    # FlushFilter, applied by the engine while it walks the table.

    def dump(self, zone: Selection = None) -> list[Entry]:
        # The binding makes the Entry/Tuple objects itself (no __init__
        # call per object): a million entries take well under a second.
        return self._ct.dump_entries(_filter_to_c(zone), Tuple, Entry,
                                     TCP_STATE_NAMES)

    def dump_text(self, zone: Selection = None, verbose: bool = False,
                  stats: bool = False, sort: bool = True) -> str:
        """OVS dump-conntrack lines, each ending in "\\n" (C formatter).
        'sort' orders lines bytewise (OVS prints in hash order)."""
        return self._ct.dump_text(_filter_to_c(zone), verbose, stats, sort)

    def dump_json(self, zone: Selection = None,
                  sort: bool = True) -> "JsonDump":
        """The dump as the JSON list `-f json dump-conntrack` prints, made
        in C (ext/format.c ovsct_format_entry_json()); 'sort' orders it by
        zone and original tuple (ovsct_sort_entries()), else hash order."""
        return JsonDump(self._ct.dump_text(_filter_to_c(zone), sort=sort,
                                           json=True))

    def dump_text_chunks(self, zone: Selection = None,
                         verbose: bool = False, stats: bool = False,
                         size: int = 1 << 20) -> "TextStream":
        """The dump_text() lines in pieces of about 'size' bytes, in bucket
        (hash) order as OVS prints them, each piece formatted in C with the
        GIL released when it is asked for: a consumer can send one piece
        while the next is made.  See TextStream."""
        return TextStream(self._ct, _filter_to_c(zone), verbose, stats, size)

    def dump_json_chunks(self, zone: Selection = None,
                         size: int = 1 << 20) -> "JsonStream":
        """dump_json() in pieces of about 'size' bytes, in hash order, each
        made in C with the GIL released when it is asked for."""
        return JsonStream(self._ct, _filter_to_c(zone), size)

    def dump_batches(self, zone: Selection = None,
                     size: int = 256) -> Iterator[list[Entry]]:
        """dump() in lists of at most 'size' entries (at most 256), in
        bucket (hash) order, each walked with the GIL released when it is
        asked for: a consumer holds one batch at a time, never the whole
        table."""
        ct = self._ct
        cursor = ct.dump_begin(_filter_to_c(zone))
        while True:
            batch = ct.dump_entries_next(cursor, Tuple, Entry,
                                         TCP_STATE_NAMES, size)
            if not batch:
                return
            yield batch

    def stats(self, zone: Selection = None) -> dict:
        total, per_proto, tcp_states = self._ct.stats(_filter_to_c(zone))
        return {"total": total,
                "per_proto": dict(zip(PROTO_CLASSES, per_proto)),
                "tcp_states": dict(zip(TCP_STATE_NAMES, tcp_states))}

    def bucket_counts(self) -> list[int]:
        counts = array("I")
        counts.frombytes(self._ct.bucket_counts())
        return counts.tolist()

    def counters(self) -> dict[str, int]:
        return dict(zip(COUNTER_NAMES, self._ct.counters()))

    def sweep_now(self) -> int:
        return self._ct.sweep_now()

    # Persistence (ext/persist.c).

    def save(self, path) -> dict[str, int]:
        """Writes the whole state to 'path' atomically; returns counts
        (connections, zone_limits, timeout_policies, bytes)."""
        return self._ct.save(path)

    def restore(self, path) -> dict[str, int]:
        """Adds the state saved in 'path' (settings replaced, connections
        added, duplicates skipped).  A truncated, corrupt, other-version or
        other-byte-order file raises ValueError naming what is wrong and
        changes nothing.  Returns counts (connections, restored,
        duplicates, expired, refused, zone_limits, timeout_policies, bytes,
        age_ms)."""
        return self._ct.restore(path)


class Event(NamedTuple):
    """One connection event: its sequence number, type ("NEW", "UPDATE",
    "DESTROY"), the entry as a dump copies it, the entry's dump line (with
    the -m / -s asked for), and its JSON object (bytes: the dump's object
    of ext/format.c ovsct_format_entry_json() plus "event")."""

    seq: int
    type: str
    entry: Entry
    line: str
    json: bytes


class TextStream:
    """Dump text made on demand, one piece per step.  Iterating gives str
    pieces; json_pieces() gives the same text already escaped for the
    inside of a JSON string (bytes), which spares a JSON writer a pass over
    every byte.  Either may be consumed once."""

    def __init__(self, ct, selection, verbose, stats, size) -> None:
        self._args = (ct, selection, verbose, stats, size)

    def _pieces(self, escaped: bool) -> Iterator:
        ct, selection, verbose, stats, size = self._args
        cursor = ct.dump_begin(selection)
        while True:
            piece = ct.dump_text_next(cursor, verbose, stats, size, escaped)
            if not piece:
                return
            yield piece

    def __iter__(self) -> Iterator[str]:
        return self._pieces(False)

    def json_pieces(self) -> Iterator[bytes]:
        return self._pieces(True)


class JsonStream:
    """The JSON list of a dump made on demand: json_chunks() gives its
    UTF-8 text in pieces ("[", the objects in pieces of about 'size'
    bytes, "]"), each formatted in C with the GIL released when it is
    asked for, so a writer that asks as its client drains holds one piece
    at a time.  Iterating gives the objects instead.  Either may be
    consumed once."""

    def __init__(self, ct, selection, size) -> None:
        self._args = (ct, selection, size)

    def json_chunks(self) -> Iterator[bytes]:
        ct, selection, size = self._args
        cursor = ct.dump_begin(selection)
        yield b"["
        while True:
            piece = ct.dump_text_next(cursor, size=size, json=True)
            if not piece:
                break
            yield piece
        yield b"]"

    def __iter__(self) -> Iterator[dict]:
        return iter(json.loads(b"".join(self.json_chunks())))


class JsonDump(_Sequence):
    """A whole JSON dump as the engine wrote it: json_bytes() is the text
    (what `-f json` prints), json_chunks() the same for a streaming
    writer; as a sequence it holds the objects (parsed on first use)."""

    def __init__(self, text: bytes) -> None:
        self._text = text
        self._rows: Optional[list] = None

    def json_bytes(self) -> bytes:
        return self._text

    def json_chunks(self) -> Iterator[bytes]:
        yield self._text

    def _list(self) -> list:
        if self._rows is None:
            self._rows = json.loads(self._text)
        return self._rows

    def __getitem__(self, i):
        return self._list()[i]

    def __len__(self) -> int:
        return len(self._list())

    def __eq__(self, other) -> bool:
        return self._list() == (other._list() if isinstance(other, JsonDump)
                                else other)

    def __repr__(self) -> str:
        return "JsonDump(%r)" % self._list()


def pcap_load(path) -> tuple[bytes, bytes]:
    """(frames, offsets): offsets are n + 1 native uint32 as bytes."""
    return _engine.pcap_load(path)


def pcap_write(path, frames, offsets: Union[bytes, Iterable[int]]) -> None:
    _engine.pcap_write(path, frames, offsets)


def bench_run(phase: str, conns: int, threads: int, batch: int,
              buckets: int = 0, sweep_interval: int = 0,
              spread: int = 0) -> str:
    """Runs a C benchmark phase (ovsct._bench); returns its JSON text."""
    from ovsct import _bench
    return _bench.run(phase, conns, threads, batch, buckets,
                      sweep_interval, spread)


def trim() -> None:
    _engine.trim()
