"""ct/add-interface, ct/del-interface, ct/show-interfaces: the live
datapath (issue 10; ours, OVS has no such commands).  The datapath itself
(the per-engine registry around _engine.Live, dpio/afpacket.c) is
ovsct/live.py, which the daemon's --interface / --bridge options share."""

from __future__ import annotations

import errno

from ovsct import live
from ovsct.action import DEFAULT_ACTION, parse_ct_action
from ovsct.commands.table import (LIVE, CommandError, Context, Result,
                                  command)


def _os_text(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


@command("ct/add-interface", "IFACE [ACTION]", 1, 2, group=LIVE,
         summary="Track every frame IFACE carries with ACTION (default "
         f"{DEFAULT_ACTION}), passively.")
def add_interface(ctx: Context, args: list[str]) -> Result:
    name = args[0]
    action = args[1] if len(args) > 1 else DEFAULT_ACTION
    try:
        parsed = parse_ct_action(action)
    except ValueError as exc:
        raise CommandError(f"invalid action {action}: {exc}") from None
    try:
        live.attach(ctx.engine).add_monitor(name, action)
    except (OSError, ValueError) as exc:
        raise CommandError(_os_text(exc)) from None
    return Result("", {"interface": name, "mode": "monitor",
                       "action": str(parsed)})


@command("ct/del-interface", "IFACE", 1, 1, group=LIVE,
         summary="Stop reading IFACE (for a bridge port: stop the bridge).")
def del_interface(ctx: Context, args: list[str]) -> Result:
    name = args[0]
    try:
        live.attach(ctx.engine).remove(name)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise CommandError(live.ERR_NOT_ATTACHED.format(name)) from None
        raise CommandError(_os_text(exc)) from None
    return Result("", {"interface": name, "deleted": True})


def format_rows(rows: list[dict]) -> str:
    """ct/show-interfaces text: one line per interface."""
    lines = []
    for r in rows:
        mode = r["mode"]
        if r["peer"]:
            mode += " peer=%s firewall=%s" % (
                r["peer"], "yes" if r["firewall"] else "no")
        reasons = ",".join("%s=%d" % kv
                           for kv in r["dropped_by_reason"].items() if kv[1])
        lines.append(
            "%s: mode=%s action=%s received=%d tracked=%d held=%d "
            "ring_drops=%d forwarded=%d dropped=%d%s\n"
            % (r["name"], mode, r["action"], r["received"], r["tracked"],
               r["held"], r["ring_drops"], r["forwarded"], r["dropped"],
               " (%s)" % reasons if reasons else ""))
    return "".join(lines)


@command("ct/show-interfaces", "", 0, 0, group=LIVE, read_only=True,
         summary="Show the live interfaces with their mode, action and "
         "frame counters.")
def show_interfaces(ctx: Context, args: list[str]) -> Result:
    rows = live.attach(ctx.engine).rows()
    return Result(format_rows(rows), rows)
