"""dpctl/flush-conntrack: the flush grammar and the flush itself.

The arguments are read once, straight into the value the engine takes: a
FlushFilter whose TupleMatch fields hold the addresses as ipaddress objects
(the engine packs them as they are).  The grammar is ofp_ct_match_parse()
and ofp_ct_tuple_parse() of lib/ofp-ct.c; which engine call runs is
ct_dpif_flush()'s choice (lib/ct-dpif.c): everything or a zone, one exact
tuple, or a filtered walk.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from typing import Any

from ovsct.action import iter_key_values
from ovsct.commands.dpctl import (ENGINE_ERRORS, Dpctl, dp_arg_exists,
                                  dpctl, errno_of, open_dp)
from ovsct.commands.table import CONN, CommandError, Result, too_many_args
from ovsct.numbers import parse_c_uint, scan_prefixed
from ovsct.types import ICMP_PROTOS, FlushFilter, TupleMatch


class ParseError(Exception):
    """The grammar failed; the message is in the caller's 'ds'."""


# Texts the kernel datapath's handlers (ovsct/kernel/commands.py) share.
INVALID_ARGS = "invalid arguments"
FLUSH_FAILED = "failed to flush conntrack"


_ADDRESS_KEYS = {"ct_nw_src": (4, "src"), "ct_nw_dst": (4, "dst"),
                 "ct_ipv6_src": (6, "src"), "ct_ipv6_dst": (6, "dst")}
_ADDRESS_TYPES = {4: IPv4Address, 6: IPv6Address}


def _parse_masked(text: str, bits: int, decimal_bits: int) -> tuple[int, int]:
    """V[/M] for mark= and labels=: V and M in C notation (hex up to 'bits',
    decimal or octal up to 'decimal_bits'); no mask means all ones."""
    def number(s: str) -> int:
        is_hex = s[:2] in ("0x", "0X")
        return parse_c_uint(s, bits if is_hex else decimal_bits)
    value, slash, mask = text.partition("/")
    full = (1 << bits) - 1
    return number(value), number(mask) if slash else full


def _parse_address(text: str, l3: int) -> tuple[Any, int | None]:
    """ADDR or ADDR/PLEN (a CIDR prefix, an extension of ours; the host
    bits are cleared) -> (address, prefix length or None for the whole
    address).  /32 (/128 for IPv6) is the whole address.  Raises
    ValueError."""
    addr_text, slash, plen_text = text.partition("/")
    if "%" in addr_text:                # inet_pton() takes no scope id.
        raise ValueError(text)
    addr = _ADDRESS_TYPES[l3](addr_text)
    if not slash:
        return addr, None
    bits = addr.max_prefixlen
    plen = parse_c_uint(plen_text, 8) if plen_text.isdigit() else -1
    if not 0 <= plen <= bits:
        raise ValueError(text)
    if plen == bits:
        return addr, None
    mask = ((1 << bits) - 1) ^ ((1 << (bits - plen)) - 1)
    return _ADDRESS_TYPES[l3](int(addr) & mask), plen


def _parse_tuple(tm: TupleMatch, text: str, flt: FlushFilter,
                 ds: list[str]) -> None:
    """ofp_ct_tuple_parse() into 'tm'.  The family and the protocol are
    the match's, shared by both tuples: they are kept in flt.orig.l3 and
    flt.orig.proto while parsing.  Messages go to 'ds' like OVS's struct
    ds (the "set multiple times" note for ct_nw_proto does not fail by
    itself)."""
    shared = flt.orig
    for key, value in iter_key_values(text):
        if not value:
            ds.append(f"field {key} missing value")
            raise ParseError
        if key in _ADDRESS_KEYS:
            l3, attr = _ADDRESS_KEYS[key]
            if shared.l3 and shared.l3 != l3:
                ds.append(f"the L3 protocol does not match {value}")
                raise ParseError
            old = getattr(tm, attr)
            if old is not None and int(old):
                ds.append(f"{key} is set multiple times")
                raise ParseError
            try:
                addr, plen = _parse_address(value, l3)
            except ValueError:
                ds.append(f"failed to parse field {key}")
                raise ParseError from None
            shared.l3 = l3
            setattr(tm, attr, addr)
            setattr(tm, attr + "_plen", plen)
            continue
        if key == "ct_nw_proto":
            if shared.proto:
                ds.append(f"{key} is set multiple times")
            bits, attr = 8, None
        elif key in ("ct_tp_src", "ct_tp_dst"):
            bits, attr = 16, "sport" if key == "ct_tp_src" else "dport"
        elif key in ("icmp_type", "icmp_code", "icmp_id"):
            if shared.proto not in ICMP_PROTOS:
                ds.append("invalid L4 fields")
                raise ParseError
            bits, attr = (16, key) if key == "icmp_id" else (8, key)
        else:
            ds.append(f"invalid conntrack tuple field: {key}")
            raise ParseError
        try:
            number = parse_c_uint(value, bits)
        except ValueError:
            ds.append(f"failed to parse field {key}")
            raise ParseError from None
        if attr is None:
            shared.proto = number
        else:
            setattr(tm, attr, number)
    if not shared.proto and (tm.sport or tm.dport):
        ds.append("port is set without protocol")
        raise ParseError


def parse_flush_args(args: list[str], ds: list[str]) -> FlushFilter:
    """ofp_ct_match_parse(): [zone=N] [mark=V[/M]] [labels=V[/M]]
    [ct-orig-tuple [ct-reply-tuple]], each only in its position.  Raises
    ParseError with the message appended to 'ds'."""
    flt = FlushFilter(orig=TupleMatch(), reply=TupleMatch())
    i = 0
    if i < len(args) and args[i].startswith("zone="):
        flt.zone = scan_prefixed(args[i], "zone=", 16)
        if flt.zone is None:
            ds.append("failed to parse zone")
            raise ParseError
        i += 1
    for prefix, bits in (("mark=", 32), ("labels=", 128)):
        if i < len(args) and args[i].startswith(prefix):
            try:
                value, mask = _parse_masked(args[i][len(prefix):], bits,
                                            min(bits, 64))
            except ValueError:
                ds.append(f"failed to parse {prefix[:-1]}")
                raise ParseError from None
            # A zero mask makes the field no part of the match (OVS).
            if prefix == "mark=":
                flt.mark, flt.mark_mask = value & mask, mask
            else:
                flt.labels, flt.labels_mask = value & mask, mask
            i += 1
    for tm in (flt.orig, flt.reply):
        if i < len(args):
            if args[i]:
                _parse_tuple(tm, args[i], flt, ds)
            i += 1
    if i < len(args):
        ds.append(INVALID_ARGS)
        raise ParseError
    l3, proto = flt.orig.l3, flt.orig.proto or None
    if not (l3 or proto):
        # No tuple field at all: the tuples take no part.
        flt.orig = flt.reply = None
    else:
        # Both tuples take part whenever the match has any tuple field
        # (ct_dpif_entry_cmp(): ICMP id/type/code compare even if 0).
        for tm in (flt.orig, flt.reply):
            tm.l3, tm.proto = l3, proto
    return flt


# Keys that start a tuple argument (ofp_ct_tuple_parse()).
TUPLE_KEYS = frozenset(["ct_nw_src", "ct_nw_dst", "ct_ipv6_src",
                        "ct_ipv6_dst", "ct_nw_proto", "ct_tp_src",
                        "ct_tp_dst", "icmp_type", "icmp_code", "icmp_id"])
_MATCH_PREFIXES = ("zone=", "mark=", "labels=")
STATE_PREFIX = "state="


def is_filter_arg(arg: str) -> bool:
    """An argument only a filtered dump takes (mark=, labels=, state=, a
    tuple): OVS's dump-conntrack and ct-stats-show have none of them."""
    return (arg.startswith(("mark=", "labels=", STATE_PREFIX))
            or arg.partition("=")[0] in TUPLE_KEYS)


def parse_states(text: str, ds: list[str]) -> frozenset[str]:
    """state=S[,S...]: TCP state names as dump-conntrack prints them
    (protoinfo=(state=ESTABLISHED)), any case.  The names are the engine's
    (ovsct.engine.TCP_STATE_NAMES)."""
    from ovsct.engine import TCP_STATE_NAMES

    names = [n.strip().upper() for n in text.split(",")]
    bad = [n for n in names if n not in TCP_STATE_NAMES]
    if not text or bad:
        ds.append("failed to parse state (use one or more of %s, "
                  "separated by commas)" % ", ".join(TCP_STATE_NAMES))
        raise ParseError
    return frozenset(names)


def parse_dump_filter(args: list[str], ds: list[str]) -> FlushFilter:
    """The filter arguments of dump-conntrack and ct-stats-show: those of
    flush-conntrack (zone=N, mark=X[/M], labels=Y[/N], ct-orig-tuple
    [ct-reply-tuple], CIDR prefixes on addresses) plus state=S[,S...], in
    any order; the first tuple is the original direction, the second the
    reply.  Raises ParseError with the message in 'ds'."""
    keyed: dict[str, str] = {}
    tuples: list[str] = []
    for arg in args:
        prefix = next((p for p in _MATCH_PREFIXES + (STATE_PREFIX,)
                       if arg.startswith(p)), None)
        if prefix is None:
            tuples.append(arg)
        elif prefix in keyed:
            ds.append(f"{prefix[:-1]} is set multiple times")
            raise ParseError
        else:
            keyed[prefix] = arg
    if len(tuples) > 2:
        ds.append(INVALID_ARGS)
        raise ParseError
    state = keyed.pop(STATE_PREFIX, None)
    ordered = [keyed[p] for p in _MATCH_PREFIXES if p in keyed] + tuples
    flt = parse_flush_args(ordered, ds)
    if state is not None:
        flt.states = parse_states(state[len(STATE_PREFIX):], ds)
    return flt


# OVS 3.1 takes at most 4 params ([dp] [zone=N] [ct-orig-tuple
# [ct-reply-tuple]]); mark= and labels= came later and need up to 6.
OVS31_FLUSH_MAX_ARGS = 4


@dpctl("flush-conntrack", "[dp] [zone=N] [mark=X[/M]] [labels=Y[/N]] "
       "[ct-orig-tuple [ct-reply-tuple]]", 0, 6, group=CONN,
       summary="Delete all connections, those of a zone, or those matching "
       "mark, labels and tuples.")
def flush_conntrack(run: Dpctl, argv: list[str]) -> Result:
    if run.n_params > OVS31_FLUSH_MAX_ARGS and not any(
            a.startswith(("mark=", "labels=")) for a in argv[1:]):
        # Without the later arguments, more than OVS 3.1 takes gets its
        # unixctl arity error (ovs-appctl dpctl/flush-conntrack a b c d e).
        raise CommandError(too_many_args("dpctl/flush-conntrack",
                                         OVS31_FLUSH_MAX_ARGS))
    if not open_dp(run, argv, 5):
        run.fail("Cannot open dpif")
    args = argv[2:] if dp_arg_exists(argv) else argv[1:]
    ds: list[str] = []
    try:
        flt = parse_flush_args(args, ds)
    except ParseError:
        run.fail("".join(ds))

    engine = run.engine
    try:
        # Prefixes and states (has_extensions()) go to the engine's
        # filter like any other partial match.
        if flt.is_zero():
            flushed = engine.flush(flt.zone)
        elif flt.is_five_tuple():
            engine.flush_tuple(flt.zone or 0, flt.orig.to_tuple())
            flushed = 1
        else:
            flushed = engine.flush_filter(flt)
    except ENGINE_ERRORS as exc:
        run.fail("".join(ds) + FLUSH_FAILED, errno_of(exc))
    return Result("", {"zone": flt.zone, "flushed": flushed})
