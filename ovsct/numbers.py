"""Number checking, in one place: OVS's numeric grammars made strict, and
the range rules of our own command-line options.

* scan_decimal() / scan_prefixed(): ovs_scan("%"SCNu16) and the like as
  lib/dpctl.c uses them for "zone=N", "gt=N", maxconns or the sweep
  interval, but strict: decimal digits only, nothing after them, no
  wrap-around (ovsct(8), "Differences from Open vSwitch", item 5).
* parse_c_uint(): OVS's str_to_u8/u16/u32 (lib/util.c), C prefixes (0x hex,
  leading 0 octal), with the same strictness; ct(...) arguments and the
  key=value fields of flush-conntrack and ct-set-limits use it.
* option_int() / option_power_of_two(): an option's value checked where the
  option is parsed (ovsctd, ovsct), with a message naming the rule.

Pure Python; imports nothing from ovsct.
"""

from __future__ import annotations

import re

__all__ = ["DECIMAL", "OptionError", "bounded_int", "option_int",
           "option_power_of_two", "parse_c_uint", "scan_decimal",
           "scan_prefixed"]

DECIMAL = re.compile(r"[0-9]+")
_C_UINT = re.compile(r"0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*")


def bounded_int(digits: str, base: int, bits: int) -> int | None:
    """int(digits, base) if it fits in 'bits' bits, else None.  'digits'
    are valid digits of 'base' (already matched).  Leading zeros aside, a
    number with more digits than the largest 'bits'-bit value is refused
    before int() runs: Python refuses to convert a decimal string of more
    than 4,300 digits (sys.int_info.str_digits_check_threshold) with a
    ValueError that is not a parse error, and a long string costs
    quadratic time."""
    digits = digits.lstrip("0") or "0"
    if len(digits) > _max_digits(base, bits):
        return None
    value = int(digits, base)
    return None if value >> bits else value


def _max_digits(base: int, bits: int) -> int:
    n, top = 0, (1 << bits) - 1
    while top:
        top //= base
        n += 1
    return max(n, 1)


def scan_decimal(text: str, bits: int) -> int | None:
    """'text' as an unsigned decimal of at most 'bits' bits, or None."""
    if not DECIMAL.fullmatch(text):
        return None
    return bounded_int(text, 10, bits)


def scan_prefixed(text: str, prefix: str, bits: int) -> int | None:
    """scan_decimal() of what follows 'prefix' ("zone=5"), or None if
    'text' does not start with it."""
    if not text.startswith(prefix):
        return None
    return scan_decimal(text[len(prefix):], bits)


def parse_c_uint(text: str, bits: int) -> int:
    """Parses 'text' as an unsigned integer of at most 'bits' bits with C's
    prefix rules (0x hex, leading 0 octal, else decimal), as OVS's
    str_to_u8/u16/u32 do, but strictly: no sign, no white space, nothing
    after the number and no silent truncation.  Raises ValueError."""
    if not _C_UINT.fullmatch(text):
        raise ValueError(f"not a number: {text!r}")
    if text[:2] in ("0x", "0X"):
        value = bounded_int(text[2:], 16, bits)
    elif text[0] == "0":
        value = bounded_int(text, 8, bits)
    else:
        value = bounded_int(text, 10, bits)
    if value is None:
        shown = text if len(text) <= 40 else text[:20] + "..." + text[-8:]
        raise ValueError(f"{shown} does not fit in {bits} bits")
    return value


class OptionError(ValueError):
    """A command-line option's value breaks its rule; str() is the whole
    message ("--threads must be an integer between 1 and 1024")."""


def option_int(option: str, text: str, low: int, high: int) -> int:
    """'text' as a decimal integer in low..high, else OptionError."""
    value = scan_decimal(text.strip(), 64)
    if value is None or not low <= value <= high:
        raise OptionError(f"{option} must be an integer between {low} and "
                          f"{high} (not {text!r})")
    return value


def option_power_of_two(option: str, text: str, low: int, high: int) -> int:
    """'text' as a power of two in low..high, else OptionError."""
    value = scan_decimal(text.strip(), 64)
    if value is None or not low <= value <= high or value & (value - 1):
        raise OptionError(f"{option} must be a power of two between {low} "
                          f"and {high} (not {text!r})")
    return value
