"""ct/add-zone-tp, ct/del-zone-tp, ct/list-zone-tp: zone timeout policies
with the arguments and texts of ovs-vsctl's add-zone-tp / del-zone-tp /
list-zone-tp (utilities/ovs-vsctl.c cmd_add_zone_tp() and the two after
it) where it has one.  Keys are the engine's (ovsct._engine.TP_NAMES)."""

from __future__ import annotations

from typing import NoReturn

from ovsct import format as fmt
from ovsct.commands.dpctl import ENGINE_ERRORS, errno_of
from ovsct.commands.table import (TP, UNBOUNDED, CommandError, Context,
                                  Result, command)
from ovsct.errors import NotFound
from ovsct.numbers import scan_decimal, scan_prefixed


def fail(ctx: Context, message: str, err: int | None = None) -> NoReturn:
    """A ct/* error: one "<program>: <message>[ (<strerror>)]" line."""
    raise CommandError(fmt.error_line(ctx.program, message, err))


def eat_options(args: list[str], allowed: tuple[str, ...]
                ) -> tuple[set[str], list[str]]:
    """Leading "--" options of a ct/* command, each in 'allowed'."""
    options = set()
    while args and args[0].startswith("--"):
        if args[0] not in allowed:
            raise CommandError(f"Unrecognized option {args[0]}")
        options.add(args[0])
        args = args[1:]
    return options, args


def _zone_error(arg: str) -> str:
    return f'invalid zone "{arg}": expected zone=N with N in 0..65535'


def _zone(ctx: Context, arg: str) -> int:
    zone = scan_prefixed(arg, "zone=", 16)
    if zone is None:
        fail(ctx, _zone_error(arg))
    return zone


def _tp_names() -> tuple[str, ...]:
    from ovsct.engine import TP_NAMES
    return TP_NAMES


@command("ct/add-zone-tp", "[--may-exist] zone=N [key=value]...", 1,
         UNBOUNDED, group=TP, summary="Set the timeout policy of a zone "
         "(keys as in ovs-vsctl add-zone-tp).")
def add_zone_tp(ctx: Context, args: list[str]) -> Result:
    options, args = eat_options(args, ("--may-exist",))
    if not args:
        fail(ctx, _zone_error(""))
    zone = _zone(ctx, args[0])
    names = _tp_names()
    policy = {}
    for arg in args[1:]:
        key, sep, value = arg.partition("=")
        if not sep or not key:
            fail(ctx, f'invalid timeout policy "{arg}": expected key=value')
        if key not in names:
            fail(ctx, f"{key} is not one of the allowed values "
                 f"([{', '.join(sorted(names))}])")
        seconds = scan_decimal(value, 32)
        if seconds is None:
            fail(ctx, f'invalid value "{value}" for {key}: expected '
                 f'0..4294967295')
        policy[key] = seconds
    engine = ctx.engine
    if "--may-exist" not in options and engine.get_zone_tp(zone) is not None:
        fail(ctx, f"zone id {zone} already exists")
    try:
        engine.set_zone_tp(zone, policy)
    except ENGINE_ERRORS as exc:
        fail(ctx, f"zone id {zone}: failed to set the timeout policy",
             errno_of(exc))
    return Result("", {"zone": zone, "policies": dict(sorted(policy.items()))})


@command("ct/del-zone-tp", "[--if-exists] zone=N", 1, 2, group=TP,
         summary="Delete the timeout policy of a zone.")
def del_zone_tp(ctx: Context, args: list[str]) -> Result:
    options, args = eat_options(args, ("--if-exists",))
    if len(args) != 1:
        fail(ctx, _zone_error(" ".join(args)))
    zone = _zone(ctx, args[0])
    try:
        ctx.engine.del_zone_tp(zone)
        deleted = True
    except NotFound:
        if "--if-exists" not in options:
            fail(ctx, f"zone id {zone} does not exist")
        deleted = False
    return Result("", {"zone": zone, "deleted": deleted})


@command("ct/list-zone-tp", "", 0, 0, group=TP, read_only=True,
         summary="List the zones' timeout policies.")
def list_zone_tp(ctx: Context, args: list[str]) -> Result:
    policies = ctx.engine.list_zone_tps()
    return Result(fmt.zone_tps_text(policies), fmt.zone_tps_json(policies))
