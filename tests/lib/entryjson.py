"""The JSON object of one dumped connection, written out in Python from
the Entry objects of Conntrack.dump(): the reference the engine's C
formatter (ext/format.c ovsct_format_entry_json(), which is what ovsct
prints) is tested against, on real captures (tests/test_json_c.py) and on
hand-made entries (tests/test_format.py).  Not used by ovsct itself.

Keys in sorted order, the order ovs-appctl prints (JSSF_SORT); numbers stay
numbers (labels is the 128-bit value as an integer)."""

from typing import Any

from ovsct import _engine

TCP_STATES = _engine.TCP_STATE_NAMES
TCP_FLAGS = _engine.TCP_FLAG_NAMES
PROTO_NAMES = _engine.PROTO_NAMES
ICMP_PROTOS = (1, 58)
CS_SRC_NAT = 0x40
CS_DST_NAT = 0x80


def tuple_json(t: Any) -> dict:
    if t.proto in ICMP_PROTOS:
        return {"code": t.icmp_code, "dst": t.dst, "id": t.icmp_id,
                "src": t.src, "type": t.icmp_type}
    return {"dport": t.dport, "dst": t.dst, "sport": t.sport, "src": t.src}


def tcp_flag_names(bits: int) -> list:
    return [name for i, name in enumerate(TCP_FLAGS) if bits & (1 << i)]


def coalesce(orig: str, reply: str) -> str:
    return TCP_STATES[_engine.tcp_state_coalesce(TCP_STATES.index(orig),
                                                 TCP_STATES.index(reply))]


def entry_json(e: Any) -> dict:
    proto = e.orig.proto
    out = {
        "bucket": e.bucket,
    }
    if e.helper is not None:
        out["helper"] = e.helper
    out.update({
        "l3": e.orig.l3,
        "labels": e.labels,
        "mark": e.mark,
        "nat": [name for bit, name in ((CS_SRC_NAT, "snat"),
                                       (CS_DST_NAT, "dnat"))
                if (e.nat or 0) & bit],
        "orig": tuple_json(e.orig),
    })
    if e.parent is not None:
        out["parent"] = tuple_json(e.parent)
    out.update({
        "proto": proto,
        "protocol": PROTO_NAMES.get(proto, str(proto)),
        "reply": tuple_json(e.reply),
    })
    if e.tcp_state is not None:
        s_orig, s_reply = e.tcp_state
        out["tcp"] = {
            "flags_orig": tcp_flag_names(e.tcp_flags[0]),
            "flags_reply": tcp_flag_names(e.tcp_flags[1]),
            "state": coalesce(s_orig, s_reply),
            "state_orig": s_orig, "state_reply": s_reply,
            "wscale_orig": e.tcp_wscale[0], "wscale_reply": e.tcp_wscale[1],
        }
    out["timeout"] = e.timeout
    out["zone"] = e.zone
    return out


def entry_key(e: Any) -> tuple:
    """The order of the sorted JSON dump (ovsct_sort_entries())."""
    return (e.zone, e.orig.proto, e.orig.src, e.orig.dst, e.orig.sport,
            e.orig.dport, e.orig.icmp_id, e.orig.icmp_type)


def entries_json(entries) -> list:
    return [entry_json(e) for e in sorted(entries, key=entry_key)]
