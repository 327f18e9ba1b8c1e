"""Zone limits: dpctl/ct-set-limits, ct-del-limits, ct-get-limits
(lib/dpctl.c dpctl_ct_set_limits() and the two after it, with
ct_dpif_parse_zone_limit_tuple() of lib/ct-dpif.c)."""

from __future__ import annotations

import os

from ovsct import format as fmt
from ovsct.action import iter_key_values
from ovsct.commands.dpctl import (ENGINE_ERRORS, Dpctl, dp_arg_exists,
                                  dpctl, engine_call, errno_of, require_dp)
from ovsct.commands.table import LIMITS, UNBOUNDED, Result
from ovsct.errors import NotFound
from ovsct.numbers import parse_c_uint, scan_decimal, scan_prefixed


def _parse_zone_limit(text: str, run: Dpctl) -> tuple[int, int]:
    """ct_dpif_parse_zone_limit_tuple(): "zone=N,limit=L"."""
    zone = limit = None
    for key, value in iter_key_values(text):
        if not value:
            run.fail(f"field {key} missing value")
        if key not in ("zone", "limit"):
            run.fail(f"invalid zone limit field: {key}")
        try:
            number = parse_c_uint(value, 16 if key == "zone" else 32)
        except ValueError:
            run.fail(f"failed to parse field {key}")
        if key == "zone":
            zone = number
        else:
            limit = number
    if zone is None or limit is None:
        run.fail("failed to parse zone limit")
    return zone, limit


def _parse_limit_zones(arg: str, run: Dpctl) -> list[int]:
    """parse_ct_limit_zones(): "zone=N1[,N2]..." (empty items skipped)."""
    if not arg.startswith("zone="):
        run.fail(f"invalid argument {arg}")
    zones = []
    for item in arg[5:].split(","):
        if item:
            zone = scan_decimal(item, 16)
            if zone is None:
                run.fail("invalid zone")
            zones.append(zone)
    return zones


SET_LIMIT_FAILED = "failed to set conntrack limit"


@dpctl("ct-set-limits", "[dp] [default=L] [zone=N,limit=L]...", 1,
       UNBOUNDED, group=LIMITS,
       summary="Set the default and per-zone connection limits.")
def ct_set_limits(run: Dpctl, argv: list[str]) -> Result:
    i = 2 if dp_arg_exists(argv) else 1
    if len(argv) <= i:
        run.fail("too few arguments")
    default = None
    if argv[i].startswith("default="):
        default = scan_prefixed(argv[i], "default=", 32)
        if default is None:
            run.fail("invalid default limit")
        i += 1
    limits = [_parse_zone_limit(arg, run) for arg in argv[i:]]

    def apply() -> None:
        if default is not None:
            run.engine.set_zone_limit(None, default)
        for zone, limit in limits:
            run.engine.set_zone_limit(zone, limit)
    engine_call(run, SET_LIMIT_FAILED, apply)
    return Result("", {"default": default,
                       "zones": [{"zone": z, "limit": lim}
                                 for z, lim in limits]})


DEL_LIMIT_FAILED = "failed to delete conntrack limit"


@dpctl("ct-del-limits", "[dp] [default] [zone=N1[,N2]...]", 1, 3,
       group=LIMITS,
       summary="Delete the default or per-zone connection limits.")
def ct_del_limits(run: Dpctl, argv: list[str]) -> Result:
    i = 2 if dp_arg_exists(argv) else 1
    require_dp(run, argv, 4)
    if len(argv) <= i:
        run.fail("too few arguments")
    default = argv[i] == "default"
    if default:
        i += 1
    zones = _parse_limit_zones(argv[i], run) if len(argv) > i else []

    def apply() -> None:
        for zone in ([None] if default else []) + zones:
            try:
                run.engine.del_zone_limit(zone)
            except NotFound:
                pass        # OVS: deleting a missing limit is a success.
    engine_call(run, DEL_LIMIT_FAILED, apply)
    return Result("", {"default": default, "zones": zones})


GET_LIMIT_FAILED = "failed to get conntrack limit {}"    # strerror


@dpctl("ct-get-limits", "[dp] [zone=N1[,N2]...]", 0, 2, group=LIMITS,
       read_only=True, summary="Print the connection limits and counts.")
def ct_get_limits(run: Dpctl, argv: list[str]) -> Result:
    i = 2 if dp_arg_exists(argv) else 1
    require_dp(run, argv, 3)
    query = _parse_limit_zones(argv[i], run) if len(argv) > i else None

    def get() -> tuple[int, list[tuple[int, int, int]]]:
        engine = run.engine
        default = engine.get_zone_limit(None)[0]
        zones = engine.list_zone_limits() if query is None else query
        rows = []
        for zone in zones:
            limit, count, _ = engine.get_zone_limit(zone)
            rows.append((zone, limit, count))
        return default, rows
    try:
        default, rows = get()
    except ENGINE_ERRORS as exc:
        err = errno_of(exc)
        run.fail(GET_LIMIT_FAILED.format(os.strerror(err)), err)
    return Result(fmt.limits_text(default, rows),
                  fmt.limits_json(default, rows))
