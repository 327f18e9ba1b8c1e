"""ct/replay: run a capture through the engine (ours; OVS has no such
command).  Deferred: the daemon runs it on a packet worker."""

from __future__ import annotations

from ovsct import format as fmt
from ovsct.action import DEFAULT_ACTION, parse_ct_action
from ovsct.commands.dpctl import ENGINE_ERRORS
from ovsct.commands.table import TOOLS, Context, Result, command
from ovsct.commands.tp import fail


@command("ct/replay", "FILE [ACTION]", 1, 2, group=TOOLS, deferred=True,
         summary="Run a pcap or pcapng capture through ACTION "
         f"(default {DEFAULT_ACTION}) and count the ct_states.")
def replay(ctx: Context, args: list[str]) -> Result:
    path = args[0]
    text = args[1] if len(args) > 1 else DEFAULT_ACTION
    try:
        action = parse_ct_action(text)
    except ValueError as exc:
        fail(ctx, f"invalid action {text}: {exc}")
    try:
        states = ctx.engine.execute_pcap(path, action)
    except ENGINE_ERRORS as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        if reason.startswith(f"{path}: "):
            reason = reason[len(path) + 2:]
        fail(ctx, f"cannot replay {path}: {reason}")
    return Result(fmt.replay_text(path, str(action), states),
                  fmt.replay_json(path, str(action), states))
