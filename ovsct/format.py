"""Text and JSON rendering of command results.

Pure and deterministic: every function takes plain values (what the engine
returned) and gives back a string or a JSON-able object; nothing here
touches the engine.  The text forms are byte-for-byte those of OVS's dpctl
(lib/dpctl.c, lib/ct-dpif.c) and ovs-vsctl, with the deliberate
differences listed in ovsct(8), "Differences from Open vSwitch" (2: an
ICMPv6 line in ct-stats-show, 3: our real buckets in ct-bkts).  The dump
lines and their JSON objects come from the engine's C formatter
(Conntrack.dump_text(), dump_json(); ext/format.c).

Neighbours: ovsct/commands/ (the only caller for commands), types.py and
engine.py (the value shapes: Entry, Tuple, stats() and bucket_counts()
results).
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterable, Iterator, Mapping, Sequence

from ovsct import _engine

__all__ = [
    "error_line", "stats_text", "stats_json", "bkts_text", "bkts_json",
    "limits_text", "limits_json", "zone_tps_text", "zone_tps_json",
    "replay_text", "replay_json",
    "ct_state_name", "list_commands_text",
    "MAXCONNS_SET", "SWEEP_SET", "TCP_SEQ_CHK_SET", "TCP_SEQ_CHK_STATUS",
    "IPF_ENABLED_SET", "IPF_MIN_FRAG_SET", "IPF_MAX_NFRAGS_SET",
    "ipf_status_text", "ipf_status_json",
]

# Success texts, exactly as OVS's handlers print them (the unixctl layer
# adds the final newline where a body lacks one).
MAXCONNS_SET = "setting maxconns successful"
SWEEP_SET = "setting sweep interval successful\n"
TCP_SEQ_CHK_SET = "{} TCP sequence checking successful"  # enabling/disabling
TCP_SEQ_CHK_STATUS = "TCP sequence checking: {}\n"        # enabled/disabled
IPF_ENABLED_SET = "{} fragmentation reassembly successful"  # enabling/...
IPF_MIN_FRAG_SET = "setting minimum fragment size successful"
IPF_MAX_NFRAGS_SET = "setting maximum fragments successful"

# ipf-get-status counters, in the order of ovsct.Conntrack.ipf_status()'s
# 'counters' (enum ovsct_ipf_counter): (JSON key, OVS's label).
IPF_COUNTERS = (("accepted", "accepted"), ("completed", "completed"),
                ("expired", "expired"), ("too_small", "too small"),
                ("overlapped", "overlapped"), ("purged", "purged"))


def ipf_status_text(st: Mapping[str, Any],
                    lists: Sequence[str] | None = None) -> str:
    """dpctl_ct_ipf_get_status(): the 8-space indented block, and with
    'lists' (-m) dpctl_dump_ipf()'s "Fragment Lists:" and one line per
    list."""
    pad = " " * 8
    out = [pad + "Fragmentation Module Status\n",
           pad + "---------------------------\n",
           pad + "v4 enabled: %d\n" % st["enabled"][0],
           pad + "v6 enabled: %d\n" % st["enabled"][1],
           pad + "max num frags (v4/v6): %d\n" % st["max_nfrags"],
           pad + "num frag: %d\n" % st["nfrag"]]
    for fam in (0, 1):
        v = "v%d" % (4, 6)[fam]
        out.append(pad + "min %s frag size: %d\n" % (v, st["min_frag"][fam]))
        for (_, label), n in zip(IPF_COUNTERS, st["counters"][fam]):
            out.append(pad + "%s frags %s: %d\n" % (v, label, n))
    if lists is not None:
        out.append("\n" + pad + "Fragment Lists:\n\n")
        out.extend(line + "\n" for line in lists)
    return "".join(out)


def ipf_status_json(st: Mapping[str, Any],
                    lists: Sequence[str] | None = None) -> dict:
    out: dict = {"max_nfrags": st["max_nfrags"], "nfrag": st["nfrag"]}
    for fam in (0, 1):
        out["v%d" % (4, 6)[fam]] = {
            "enabled": bool(st["enabled"][fam]),
            "min_frag_size": st["min_frag"][fam],
            **{key: n for (key, _), n in zip(IPF_COUNTERS,
                                             st["counters"][fam])}}
    if lists is not None:
        out["lists"] = list(lists)
    return out


# Engine names, defined once in ext/names.c (ovsct._engine constants):
# TCP states in enum ovsct_tcp_state order, ct-stats-show
# lines as (stats key, label) in print order (OVS has no ICMPv6 line; ours
# follows ICMP: ovsct(8), differences), ct_state (bit, name) pairs in OVS's
# print order, and protocol names by number.
TCP_STATES = _engine.TCP_STATE_NAMES
STATS_LINES = tuple(zip(_engine.PROTO_CLASSES, _engine.PROTO_CLASS_LABELS))
CT_STATE_BITS = _engine.CT_STATE_NAMES
_BKTS_PER_ROW = 8
_BKTS_RULE = "+-----------+-----------------------------------------+"
_BKTS_HEAD = "|  Buckets  |         Connections per Buckets         |"


def error_line(program: str, message: str, err: int | None = None) -> str:
    """One dpctl_error() line without its newline:
    "<program>: <message>[ (<strerror>)]"."""
    line = f"{program}: {message}"
    if err:
        line += f" ({os.strerror(err)})"
    return line


# ---------------------------------------------------------------------------
# ct-stats-show

def _per_proto(stats: Mapping[str, Any]) -> dict[str, int]:
    per = stats.get("per_proto", {})
    if isinstance(per, Mapping):
        per = {str(k).lower(): int(v) for k, v in per.items()}
    else:                       # a sequence in enum ovsct_proto_class order
        per = {key: int(v) for (key, _), v in zip(STATS_LINES, per)}
    return {key: per.get(key, 0) for key, _ in STATS_LINES}


def _tcp_states(stats: Mapping[str, Any]) -> dict[str, int]:
    states = stats.get("tcp_states", {})
    if isinstance(states, Mapping):
        states = {str(k).upper(): int(v) for k, v in states.items()}
    else:
        states = {name: int(v) for name, v in zip(TCP_STATES, states)}
    return {name: states.get(name, 0) for name in TCP_STATES}


def stats_text(stats: Mapping[str, Any], verbose: bool) -> str:
    """dpctl_ct_stats_show(): 'stats' is Conntrack.stats(); 'verbose' adds
    the per-TCP-state lines (-m or "verbose")."""
    out = [f"Connections Stats:\n    Total: {int(stats['total'])}\n"]
    per = _per_proto(stats)
    for key, label in STATS_LINES:
        if not per[key]:
            continue
        out.append(f"  {label}: {per[key]}\n")
        if key == "tcp" and verbose:
            out.append("    Conn per TCP states:\n")
            for name, n in _tcp_states(stats).items():
                if n:
                    out.append(f"\t  [{name}]={n}\n")
    return "".join(out)


def stats_json(stats: Mapping[str, Any], zone: int | None) -> dict:
    return {"zone": zone, "total": int(stats["total"]),
            "per_proto": _per_proto(stats),
            "tcp_states": _tcp_states(stats)}


# ---------------------------------------------------------------------------
# ct-bkts

def bkts_text(counts: Sequence[int], gt: int) -> str:
    """dpctl_ct_bkts() over our real buckets: 'counts' is
    Conntrack.bucket_counts(); a bucket is shown only if its count > gt."""
    total = sum(counts)
    out = [f"Total Buckets: {len(counts)}\n",
           f"Current Connections: {total}\n", "\n"]
    if counts and total:
        out.append(f"{_BKTS_RULE}\n{_BKTS_HEAD}\n{_BKTS_RULE}")
        for i, n in enumerate(counts):
            if i % _BKTS_PER_ROW == 0:
                out.append("\n %3d..%3d   | " % (i, i + _BKTS_PER_ROW - 1))
            out.append("%5d" % n if n > gt else "%5s" % ".")
        out.append("\n\n")
    return "".join(out)


def bkts_json(counts: Sequence[int], gt: int) -> dict:
    return {"total_buckets": len(counts), "connections": sum(counts),
            "gt": gt, "buckets": list(counts)}


# ---------------------------------------------------------------------------
# ct-get-limits

def limits_text(default: int, rows: Iterable[tuple[int, int, int]]) -> str:
    """ct_dpif_format_zone_limits() plus dpctl's final newline; 'rows' are
    (zone, limit, count)."""
    lines = [f"default limit={default}"]
    lines.extend(f"zone={z},limit={limit},count={count}"
                 for z, limit, count in rows)
    return "\n".join(lines) + "\n"


def limits_json(default: int, rows: Iterable[tuple[int, int, int]]) -> dict:
    return {"default": default,
            "zones": [{"zone": z, "limit": limit, "count": count}
                      for z, limit, count in rows]}


# ---------------------------------------------------------------------------
# Timeout policies (ovs-vsctl list-zone-tp)

def zone_tps_text(policies: Mapping[int, Mapping[str, int]]) -> str:
    """One "Zone:<z>, Timeout Policies: k=v ..." line per zone, zones and
    keys sorted (as ovs-vsctl prints the database maps)."""
    return "".join(
        f"Zone:{zone}, Timeout Policies: "
        + " ".join(f"{k}={policies[zone][k]}" for k in sorted(policies[zone]))
        + "\n"
        for zone in sorted(policies))


def zone_tps_json(policies: Mapping[int, Mapping[str, int]]) -> list:
    return [{"zone": zone, "policies": dict(sorted(policies[zone].items()))}
            for zone in sorted(policies)]


# ---------------------------------------------------------------------------
# Connection events (ovsct events, ct/events-read)

def event_line(event: Any) -> str:
    """"[NEW] " (or UPDATE, DESTROY) and the entry's dump line, as the
    kernel datapath's events print."""
    return "[%s] %s\n" % (event.type, event.line)


def events_header(cursor: str, lost: int, restarted: bool) -> str:
    """ct/events-read's first line."""
    return "cursor=%s lost=%d%s\n" % (cursor, lost,
                                      " restarted" if restarted else "")


def events_text(cursor: str, lost: int, restarted: bool,
                events: Iterable[Any]) -> str:
    return events_header(cursor, lost, restarted) + "".join(
        event_line(e) for e in events)


class JsonText:
    """A JSON value already encoded, compact with sorted keys (what
    json.dumps(sort_keys=True, separators=(",", ":")) writes): json_bytes()
    is the text, json_chunks() the same for a streaming writer
    (unixctl/server.py encode_json()), value() the parsed value."""

    def __init__(self, text: bytes) -> None:
        self._text = text

    def json_bytes(self) -> bytes:
        return self._text

    def json_chunks(self) -> Iterator[bytes]:
        yield self._text

    def value(self) -> Any:
        return json.loads(self._text)


def events_json(cursor: str, lost: int, restarted: bool,
                events: Iterable[Any], readers: int) -> JsonText:
    """{"cursor", "events": [the dump's entry object plus "event"], "lost",
    "readers", "restarted"}; the event objects are the engine's
    (Event.json, ext/format.c ovsct_format_entry_json())."""
    return JsonText(b"".join((
        b'{"cursor":', json.dumps(cursor).encode("ascii"),
        b',"events":[', b",".join(e.json for e in events),
        b'],"lost":%d,"readers":%d,"restarted":%s}' % (
            lost, readers, b"true" if restarted else b"false"))))


# ---------------------------------------------------------------------------
# ct/replay

def ct_state_name(bits: int) -> str:
    """ct_state bits in OpenFlow text, e.g. "est|rpl|trk" ("0" if none)."""
    names = [name for bit, name in CT_STATE_BITS if bits & bit]
    return "|".join(names) or "0"


def _state_counts(states: bytes) -> list[tuple[int, int]]:
    counts: dict[int, int] = {}
    for s in states:
        counts[s] = counts.get(s, 0) + 1
    return sorted(counts.items())


def replay_text(path: str, action: str, states: bytes) -> str:
    """"<n> packets from <path> through <action>" and one line per ct_state
    value seen, "  <state>: <count>", in ct_state bit order."""
    out = [f"{len(states)} packets from {path} through {action}\n"]
    out.extend(f"  {ct_state_name(s)}: {n}\n"
               for s, n in _state_counts(states))
    return "".join(out)


def replay_json(path: str, action: str, states: bytes) -> dict:
    return {"file": path, "action": action, "packets": len(states),
            "states": {ct_state_name(s): n
                       for s, n in _state_counts(states)}}


# ---------------------------------------------------------------------------
# dpctl/list-commands

def list_commands_text(commands: Iterable[tuple[str, str]]) -> str:
    """dpctl_list_commands() as ovs-vswitchd shows it: (name, usage) pairs,
    names with their "dpctl/" prefix, padded so that the prefix and the
    name fill 29 columns."""
    return "The available commands are:\n" + "".join(
        f"  {name:<29} {usage}\n" for name, usage in commands)
