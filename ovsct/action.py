"""The OVS ct(...) action syntax -> Action.

parse_ct_action() reads the OpenFlow text form that ovs-ofctl accepts
(lib/ofp-actions.c parse_CT / parse_NAT), restricted to what a connection
tracker without a pipeline can act on:

    ct                                  lookup in zone 0
    ct(commit,zone=5,force)
    ct(commit,exec(set_field:42->ct_mark,set_field:0xab/0xff->ct_label))
    ct(commit,nat(src=10.0.0.1-10.0.0.9:1000-2000,persistent,random))
    ct(commit,nat(dst=[fc00::1]:8080))  IPv6 with ports goes in brackets
    ct(nat)                             un-NAT only (no range)

`table=N` is accepted and ignored (it only names where an OpenFlow
pipeline would continue); `alg=ftp` and `alg=tftp` attach OVS's FTP and
TFTP helpers (ext/alg-ftp.c, ext/alg-tftp.c); `timeout=` is refused
because ovsct applies zone timeout policies by itself.  Errors raise
ValueError with a message quoting the offending text.

The module also holds the lexical helper that the command parsers
(ovsct/commands/) share with it, so that OVS's rule lives in one place:
iter_key_values() is ofputil_parse_key_value().  Numbers are read with
ovsct.numbers.parse_c_uint() (re-exported here), the strict form of OVS's
str_to_u8/u16/u32.
Neighbours: engine.py converts an Action into struct ovsct_action.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Iterator

from ovsct._engine import ALG_NAMES
from ovsct.numbers import DECIMAL as _DECIMAL
from ovsct.numbers import bounded_int, parse_c_uint

__all__ = [
    "Action", "DEFAULT_ACTION", "Nat", "NAT_FLAG_BITS", "parse_ct_action",
    "parse_nat",
    "iter_key_values", "parse_c_uint",
]

# The action of a replay when none is given (ct/replay, ovsct -r, ovsctd
# --pcap).
DEFAULT_ACTION = "ct(commit)"

MARK_BITS = 32
LABELS_BITS = 128

# OVSCT_NAT_F_* in ext/ovsct.h, in the order OVS prints them.
NAT_FLAG_BITS = {"persistent": 1 << 0, "hash": 1 << 1, "random": 1 << 2}

_KEY_END = ":=(, \t\r\n"
_ITEM_SEP = ", \t\r\n"
_IPV4_TOKEN = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_IPV6_TOKEN = re.compile(r"\[([0-9a-fA-F:.]+)\]|([0-9a-fA-F:.]+)")


# ---------------------------------------------------------------------------
# Lexical helper shared with the command parsers.

def _value_len(s: str, start: int, delims: str) -> int:
    """Length of the value at s[start:], which ends at one of 'delims' or at
    the end of 's'; parentheses nest (OVS parse_value())."""
    i = start
    n = len(s)
    while i < n and s[i] not in delims:
        if s[i] == "(":
            level = 0
            while True:
                if i >= n:
                    return i - start
                if s[i] == "(":
                    level += 1
                elif s[i] == ")":
                    level -= 1
                i += 1
                if level <= 0:
                    break
        else:
            i += 1
    return i - start


def iter_key_values(s: str) -> Iterator[tuple[str, str]]:
    """Yields the (key, value) pairs of 's' the way OVS's
    ofputil_parse_key_value() splits them.

    Items are separated by commas or white space.  "key=value" and
    "key:value" end at the next separator, "key(value)" at the matching
    parenthesis (nested parentheses are kept in the value; "(x)->y" is kept
    whole).  A bare "key" yields an empty value."""
    pos = 0
    n = len(s)
    while True:
        while pos < n and s[pos] in _ITEM_SEP:
            pos += 1
        if pos >= n:
            return
        start = pos
        while pos < n and s[pos] not in _KEY_END:
            pos += 1
        key = s[start:pos]
        delim = s[pos] if pos < n else ""
        if delim:
            pos += 1
        if delim in (":", "="):
            delims = _ITEM_SEP
        elif delim == "(":
            delims = ")"
        else:
            yield key, ""
            continue
        end = pos + _value_len(s, pos, delims)
        if delim == "(" and s.startswith(")->", end):
            end += _value_len(s, end, _ITEM_SEP)
        value = s[pos:end]
        pos = end + 1 if end < n else end
        yield key, value


def _scan_port(s: str, pos: int, bad: ValueError) -> tuple[int, int]:
    """Scans a decimal port at s[pos:]; returns it and the position after
    it, or raises 'bad'."""
    m = _DECIMAL.match(s, pos)
    port = bounded_int(m.group(0), 10, 16) if m else None
    if port is None:
        raise bad
    return port, m.end()


# ---------------------------------------------------------------------------
# Data.

@dataclass(frozen=True)
class Nat:
    """The nat(...) part of a ct() action.

    'kind' is "src", "dst", or None for a bare "nat" (reverse an existing
    translation only).  'l3' is 4 or 6 when an address range was given,
    else None.  A single address or port gives max == min; without a port
    range both ports are None.  'flags' holds the names from NAT_FLAG_BITS
    in that order."""

    kind: str | None = None
    l3: int | None = None
    addr_min: str | None = None
    addr_max: str | None = None
    port_min: int | None = None
    port_max: int | None = None
    flags: tuple[str, ...] = ()

    @property
    def flag_bits(self) -> int:
        """The flags as OVSCT_NAT_F_* bits."""
        bits = 0
        for name in self.flags:
            bits |= NAT_FLAG_BITS[name]
        return bits

    def __str__(self) -> str:
        if self.kind is None:
            return "nat"
        spec = ""
        if self.addr_min is not None:
            bracket = self.l3 == 6 and self.port_min is not None
            spec = f"[{self.addr_min}]" if bracket else self.addr_min
            if self.addr_max != self.addr_min:
                spec += "-" + (f"[{self.addr_max}]" if bracket
                               else str(self.addr_max))
            if self.port_min is not None:
                spec += f":{self.port_min}"
                if self.port_max != self.port_min:
                    spec += f"-{self.port_max}"
        items = [f"{self.kind}={spec}" if spec else self.kind]
        items.extend(self.flags)
        return "nat(" + ",".join(items) + ")"


@dataclass(frozen=True)
class Action:
    """A parsed ct() action.  'mark'/'labels' and their masks are None when
    the action does not set them; otherwise the value is already masked and
    the engine applies (old & ~mask) | value."""

    zone: int = 0
    commit: bool = False
    force: bool = False
    mark: int | None = None
    mark_mask: int | None = None
    labels: int | None = None
    labels_mask: int | None = None
    nat: Nat | None = None
    alg: str | None = None      # "ftp" or "tftp" (ALG_NAMES)

    def __str__(self) -> str:
        items = []
        if self.commit:
            items.append("commit")
        if self.force:
            items.append("force")
        if self.zone:
            items.append(f"zone={self.zone}")
        sets = []
        for name, value, mask, bits in (
                ("ct_mark", self.mark, self.mark_mask, MARK_BITS),
                ("ct_label", self.labels, self.labels_mask, LABELS_BITS)):
            if mask is not None:
                text = hex(value or 0)
                if mask != (1 << bits) - 1:
                    text += "/" + hex(mask)
                sets.append(f"set_field:{text}->{name}")
        if sets:
            items.append("exec(" + ",".join(sets) + ")")
        if self.alg is not None:
            items.append(f"alg={self.alg}")
        if self.nat is not None:
            items.append(str(self.nat))
        return "ct(" + ",".join(items) + ")" if items else "ct"


# ---------------------------------------------------------------------------
# nat(...)

def _scan_address(s: str, pos: int, l3: int) -> tuple[str, int] | None:
    """Scans one address of family 'l3' at s[pos:]; returns it in canonical
    text and the position after it, or None."""
    if l3 == 4:
        m = _IPV4_TOKEN.match(s, pos)
        if not m:
            return None
        try:
            return str(ipaddress.IPv4Address(m.group(0))), m.end()
        except ValueError:
            return None
    m = _IPV6_TOKEN.match(s, pos)
    if not m:
        return None
    try:
        addr = ipaddress.IPv6Address(m.group(1) or m.group(2))
    except ValueError:
        return None
    return str(addr), m.end()


def _parse_nat_range(s: str) -> dict:
    """OVS str_to_nat_range(): ADDR[-ADDR][:PORT[-PORT]]."""
    bad = ValueError(f'invalid nat range "{s}"')
    rng: dict = {}
    pos = 0
    for l3 in (4, 6):
        first = _scan_address(s, 0, l3)
        if first is None:
            if l3 == 4 and _IPV4_TOKEN.match(s):
                raise bad
            continue
        amin, pos = first
        amax = amin
        if s.startswith("-", pos):
            second = _scan_address(s, pos + 1, l3)
            if second is None:
                raise bad
            amax, pos = second
            if ipaddress.ip_address(amax) < ipaddress.ip_address(amin):
                raise bad
        rng = {"l3": l3, "addr_min": amin, "addr_max": amax}
        break
    if rng and s.startswith(":", pos):
        pmin, pos = _scan_port(s, pos + 1, bad)
        pmax = pmin
        if s.startswith("-", pos):
            pmax, pos = _scan_port(s, pos + 1, bad)
            if pmax < pmin:
                raise bad
        rng.update(port_min=pmin, port_max=pmax)
    if pos != len(s):
        raise ValueError(f'garbage ({s[pos:]}) after nat range "{s}" '
                         f'(pos: {pos})')
    return rng


def parse_nat(text: str) -> Nat:
    """Parses the argument list of nat(...) (without the parentheses)."""
    kinds = []
    flags = set()
    rng: dict = {}
    for key, value in iter_key_values(text):
        if key in ("src", "dst"):
            kinds.append(key)
            rng = _parse_nat_range(value)
        elif key in NAT_FLAG_BITS:
            flags.add(key)
        else:
            raise ValueError(f'invalid key "{key}" in "nat" argument')
    if len(set(kinds)) > 1:
        raise ValueError('May only specify one of "src" or "dst".')
    if not kinds and flags:
        raise ValueError('Flags allowed only with "src" or "dst".')
    if {"hash", "random"} <= flags:
        raise ValueError('Both "hash" and "random" are not allowed.')
    ordered = tuple(name for name in NAT_FLAG_BITS if name in flags)
    return Nat(kind=kinds[0] if kinds else None, flags=ordered, **rng)


# ---------------------------------------------------------------------------
# exec(...)

_CT_FIELDS = {
    "ct_mark": ("mark", MARK_BITS),
    "NXM_NX_CT_MARK": ("mark", MARK_BITS),
    "ct_label": ("labels", LABELS_BITS),
    "NXM_NX_CT_LABEL": ("labels", LABELS_BITS),
}


def _parse_field_value(text: str, bits: int, what: str) -> int:
    """A set_field value: 0x hex up to the field width, or decimal (OVS
    reads decimal through strtoull, so at most 64 bits)."""
    if text[:2] in ("0x", "0X"):
        try:
            return parse_c_uint(text, bits)
        except ValueError:
            pass
    elif (_DECIMAL.fullmatch(text)
          and bounded_int(text, 10, min(bits, 64)) is not None):
        return int(text)
    raise ValueError(f'{what}: invalid value "{text}" for a {bits}-bit '
                     f'field')


def _parse_exec(text: str, acc: dict) -> None:
    """Folds the set_field actions of exec(...) into 'acc' (field name ->
    [value, mask]); later actions override the bits they cover."""
    for key, value in iter_key_values(text):
        if key != "set_field":
            raise ValueError(f'"{key}" is not allowed in ct(exec(...)); only '
                             f'set_field to ct_mark or ct_label is')
        spec, sep, dst = value.partition("->")
        if not sep or dst not in _CT_FIELDS:
            raise ValueError(f'set_field:{value}: the destination must be '
                             f'ct_mark or ct_label')
        name, bits = _CT_FIELDS[dst]
        full = (1 << bits) - 1
        vtext, slash, mtext = spec.partition("/")
        what = f"set_field:{value}"
        val = _parse_field_value(vtext, bits, what)
        mask = _parse_field_value(mtext, bits, what) if slash else full
        old_val, old_mask = acc.get(name, (0, 0))
        acc[name] = ((old_val & ~mask) | (val & mask), old_mask | mask)


# ---------------------------------------------------------------------------
# ct(...)

def _strip_ct(text: str) -> str:
    s = text.strip()
    if s == "ct":
        return ""
    if not s.startswith("ct("):
        raise ValueError(f'"{text}" is not a ct action (expected ct(...))')
    level = 0
    for i, c in enumerate(s):
        level += (c == "(") - (c == ")")
        if level == 0 and c == ")":
            break
    if level or i != len(s) - 1:
        raise ValueError(f'"{text}": unbalanced parentheses or text after '
                         f'ct(...)')
    return s[3:-1]


def parse_ct_action(text: str) -> Action:
    """Parses "ct", "ct()" or "ct(arg,...)" into an Action."""
    zone = 0
    commit = force = False
    nat = None
    alg = None
    sets: dict[str, tuple[int, int]] = {}
    for key, value in iter_key_values(_strip_ct(text)):
        if key in ("commit", "force"):
            if value:
                raise ValueError(f'"{key}" takes no value (got "{value}")')
            if key == "commit":
                commit = True
            else:
                force = True
        elif key == "zone":
            try:
                zone = parse_c_uint(value, 16)
            except ValueError:
                raise ValueError(f'invalid zone "{value}" (should be an '
                                 f'integer between 0 and 65535)') from None
        elif key == "table":
            try:
                if parse_c_uint(value, 8) == 255:
                    raise ValueError(value)
            except ValueError:
                raise ValueError(f'invalid table "{value}"') from None
        elif key == "nat":
            nat = parse_nat(value)
        elif key == "exec":
            _parse_exec(value, sets)
        elif key == "alg":
            # ofp-actions.c str_to_connhelper().
            if value not in ALG_NAMES:
                raise ValueError(f'invalid "alg" argument "{value}"')
            alg = value
        elif key == "timeout":
            raise ValueError(f'ct({key}=...) is not supported by ovsct')
        else:
            raise ValueError(f'invalid argument to "ct" action: `{key}\'')
    if force and not commit:
        raise ValueError('"force" flag requires "commit" flag.')
    if sets and not commit:
        raise ValueError('setting ct_mark or ct_label with exec(...) '
                         'requires the "commit" flag')
    mark = sets.get("mark")
    labels = sets.get("labels")
    return Action(zone=zone, commit=commit, force=force,
                  mark=mark[0] if mark else None,
                  mark_mask=mark[1] if mark else None,
                  labels=labels[0] if labels else None,
                  labels_mask=labels[1] if labels else None,
                  nat=nat, alg=alg)
