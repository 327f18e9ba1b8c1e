"""ct/replay: run a capture through the engine (ours; OVS has no such
command).  Deferred: the daemon runs it on a packet worker."""

from __future__ import annotations

import errno
import os
import select
import stat
import tempfile

from ovsct import format as fmt
from ovsct.action import DEFAULT_ACTION, parse_ct_action
from ovsct.commands.dpctl import ENGINE_ERRORS
from ovsct.commands.table import TOOLS, Context, Result, command
from ovsct.commands.tp import fail


# How long a FIFO may go without delivering bytes (or end of file) before
# ct/replay gives up on it.
FIFO_WAIT_MS = 5000


def _wait_readable(path: str) -> int | None:
    """For a FIFO: reads it into an unlinked temporary file and returns
    that file's descriptor, which the caller passes on as /proc/self/fd/N
    and closes; None for anything else (the engine opens it).  The FIFO is
    opened without blocking (a blocking open waits for a writer, for ever
    if none comes) and every read waits at most FIFO_WAIT_MS, so a FIFO
    with no writer, or one that stalls, cannot hold a packet worker.
    (Handing the engine the FIFO itself would mean a second open, which
    blocks if the writer has already gone.)  Raises OSError."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None                     # The engine says why.
    if not stat.S_ISFIFO(mode):
        return None
    src = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    copy = tempfile.TemporaryFile()
    try:
        poller = select.poll()
        poller.register(src, select.POLLIN)
        while True:
            if not poller.poll(FIFO_WAIT_MS):
                raise OSError(errno.ETIMEDOUT, "no data within %d s (a FIFO "
                              "with no writer?)" % (FIFO_WAIT_MS // 1000))
            try:
                data = os.read(src, 1 << 20)
            except BlockingIOError:
                continue
            if not data:
                break                   # The writer closed its end.
            copy.write(data)
        copy.flush()
        return os.dup(copy.fileno())
    finally:
        copy.close()
        os.close(src)


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
        fd = _wait_readable(path)
    except OSError as exc:
        fail(ctx, f"cannot replay {path}: {exc.strerror}")
    source = path if fd is None else f"/proc/self/fd/{fd}"
    try:
        states = ctx.engine.execute_pcap(source, action)
    except ENGINE_ERRORS as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        for name in (path, source):
            if reason.startswith(f"{name}: "):
                reason = reason[len(name) + 2:]
        fail(ctx, f"cannot replay {path}: {reason}")
    finally:
        if fd is not None:
            os.close(fd)
    return Result(fmt.replay_text(path, str(action), states),
                  fmt.replay_json(path, str(action), states))
