"""dpctl/ipf-set-enabled, ipf-set-disabled, ipf-set-min-frag,
ipf-set-max-nfrags and ipf-get-status: IP fragment reassembly (ext/ipf.c),
after lib/dpctl.c ipf_set_enabled__(), dpctl_ipf_set_min_frag(),
dpctl_ipf_set_max_nfrags() and dpctl_ct_ipf_get_status().  Success texts
and the status block are ovsct.format's."""

from __future__ import annotations

import errno
from typing import Callable

from ovsct import format as fmt
from ovsct.commands.dpctl import Dpctl, dpctl, engine_call, require_dp
from ovsct.commands.table import SETTINGS, Result
from ovsct.numbers import scan_decimal

_WS = " \t\n\v\f\r"


def _family(arg: str) -> bool | None:
    """ovs_scan(arg, "%2s") then "v4"/"v6" by their first two characters,
    as OVS does ("v4x" is v4): True for v6, False for v4, None if
    neither."""
    word = arg.lstrip(_WS)
    for i, c in enumerate(word[:2]):
        if c in _WS:
            word = word[:i]
            break
    if word[:2] == "v4":
        return False
    if word[:2] == "v6":
        return True
    return None


def _set_enabled(enabled: bool) -> Callable[[Dpctl, list[str]], Result]:
    """ipf_set_enabled__(): 'verb' is "enabling"/"disabling"."""
    verb = "enabling" if enabled else "disabling"

    def body(run: Dpctl, argv: list[str]) -> Result:
        require_dp(run, argv, 4)
        v6 = _family(argv[-1]) if len(argv) > 1 else None
        if v6 is None:
            run.fail("parameter missing: 'v4' for IPv4 or 'v6' for IPv6")
        engine_call(run, f"{verb} fragmentation reassembly failed",
                    lambda: run.engine.ipf_set_enabled(v6, enabled))
        return Result(fmt.IPF_ENABLED_SET.format(verb),
                      {"v6" if v6 else "v4": {"enabled": enabled}})
    body.__name__ = f"ipf_set_{'en' if enabled else 'dis'}abled"
    return body


ipf_set_enabled = dpctl(
    "ipf-set-enabled", "[dp] v4|v6", 1, 2, group=SETTINGS,
    summary="Enable IP fragment reassembly for v4 or v6.")(
        _set_enabled(True))
ipf_set_disabled = dpctl(
    "ipf-set-disabled", "[dp] v4|v6", 1, 2, group=SETTINGS,
    summary="Disable IP fragment reassembly for v4 or v6.")(
        _set_enabled(False))


@dpctl("ipf-set-min-frag", "[dp] v4|v6 minfragment", 2, 3, group=SETTINGS,
       summary="Set the minimum size of a fragment that is not the last.")
def ipf_set_min_frag(run: Dpctl, argv: list[str]) -> Result:
    require_dp(run, argv, 4)
    v6 = _family(argv[-2])
    if v6 is None:
        run.fail("parameter missing: v4 for IPv4 or v6 for IPv6")
    size = scan_decimal(argv[-1], 32)
    if size is None:
        run.fail("parameter missing for minimum fragment size")
    try:
        run.engine.ipf_set_min_frag(v6, size)
    except ValueError:
        # ipf_set_min_frag() returns 1, which dpctl reports as an errno.
        run.fail("requested minimum fragment size too small; "
                 "see documentation", errno.EPERM)
    return Result(fmt.IPF_MIN_FRAG_SET,
                  {"v6" if v6 else "v4": {"min_frag_size": size}})


@dpctl("ipf-set-max-nfrags", "[dp] maxfrags", 1, 2, group=SETTINGS,
       summary="Set the maximum number of fragments held.")
def ipf_set_max_nfrags(run: Dpctl, argv: list[str]) -> Result:
    require_dp(run, argv, 3)
    n = scan_decimal(argv[-1], 32)
    if n is None:
        run.fail("parameter missing for maximum fragments")
    try:
        run.engine.ipf_set_max_nfrags(n)
    except ValueError:
        # ipf_set_max_nfrags() returns 1 above its bound (5000).
        run.fail("setting maximum fragments failed", errno.EPERM)
    return Result(fmt.IPF_MAX_NFRAGS_SET, {"max_nfrags": n})


@dpctl("ipf-get-status", "[dp]", 0, 1, group=SETTINGS, read_only=True,
       summary="Print the fragment reassembly status; -m adds the lists.")
def ipf_get_status(run: Dpctl, argv: list[str]) -> Result:
    require_dp(run, argv, 2)
    st = engine_call(run, "ipf status could not be retrieved",
                     run.engine.ipf_status)
    lists = run.engine.ipf_lists() if run.verbosity else None
    return Result(fmt.ipf_status_text(st, lists),
                  fmt.ipf_status_json(st, lists))
