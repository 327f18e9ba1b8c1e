"""dpctl's option loop, [dp] handling and engine-error mapping, shared by
every dpctl/* handler; and dpctl/list-commands.

dpctl/* commands reproduce ovs-vswitchd's dpctl_unixctl_handler() and the
dpctl_* handlers of lib/dpctl.c (upstream grammar):

* leading params starting with "-" are eaten as options (-m, -s, bundled
  -ms, --more, --statistics, --names, --no-names, --clear, --may-create);
  anything else fails with "Unrecognized option X";
* the optional [dp] is recognised only if it names our datapath,
  "ovsct@ovsct", or the alias "netdev@ovs-netdev" (so that scripts written
  for a userspace ovs-vswitchd work unchanged).  Otherwise the handler's
  internal maximum argument count decides, as in opt_dpif_open(): below it
  our single datapath is used, at it "datapath not found";
* numbers are parsed strictly (ovsct/numbers.py; ovsct(8), "Differences
  from Open vSwitch", item 5);
* a first param naming a kernel datapath ("system@NAME") sends the
  command to the kernel's conntrack instead (ovsct/kernel/commands.py).

An error reply carries everything dpctl_print() / dpctl_error() wrote
before the failure; each line is "<program>: <text> (<strerror>)"
(format.error_line()).
"""

from __future__ import annotations

import errno
from typing import Any, Callable, NoReturn

from ovsct import format as fmt
from ovsct.commands.table import (TOOLS, UNBOUNDED, CommandError, Context,
                                  Handler, Result, command)
from ovsct.errors import NotFound, TableFull

__all__ = ["DATAPATH", "DATAPATH_ALIASES", "ENGINE_ERRORS", "KERNEL_DP_PREFIX",
           "Dpctl",
           "dp_arg_exists", "dpctl", "engine_call", "errno_of", "open_dp",
           "require_dp"]

DATAPATH = "ovsct@ovsct"
# Names accepted as our datapath in [dp]: ours, and the name of the
# userspace datapath of a real ovs-vswitchd.
DATAPATH_ALIASES = frozenset([DATAPATH, "netdev@ovs-netdev"])
# [dp] of the kernel datapath (ovsct/kernel/): "system@NAME".
KERNEL_DP_PREFIX = "system@"

ENGINE_ERRORS = (ValueError, MemoryError, OSError, NotFound, TableFull)


def errno_of(exc: BaseException) -> int:
    """The errno an engine exception stands for (see ovsct.errors)."""
    if isinstance(exc, TableFull):
        return errno.ENOSPC
    if isinstance(exc, NotFound):
        return errno.ENOENT
    if isinstance(exc, MemoryError):
        return errno.ENOMEM
    if isinstance(exc, OSError) and exc.errno:
        return exc.errno
    return errno.EINVAL


class Dpctl:
    """One run of a dpctl command: the parsed options and the output
    buffer that dpctl_print() / dpctl_error() append to."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.engine = ctx.engine
        self.verbosity = 0
        self.print_statistics = False
        self.names = False
        self.n_params = 0           # unixctl params, options included.
        self.out: list[str] = []

    def error(self, message: str, err: int | None = None) -> None:
        self.out.append(fmt.error_line(self.ctx.program, message, err) + "\n")

    def fail(self, message: str, err: int | None = errno.EINVAL) -> NoReturn:
        self.error(message, err)
        raise CommandError("".join(self.out)[:-1])

    def eat_options(self, args: list[str]) -> list[str]:
        """dpctl_unixctl_handler()'s option loop; returns the params left."""
        set_names = False
        while args:
            arg = args[0]
            if arg.startswith("--"):
                if arg == "--statistics":
                    self.print_statistics = True
                elif arg == "--more":
                    self.verbosity += 1
                elif arg in ("--names", "--no-names"):
                    self.names = arg == "--names"
                    set_names = True
                elif arg not in ("--clear", "--may-create"):
                    raise CommandError(f"Unrecognized option {arg}")
            elif arg.startswith("-") and len(arg) > 1:
                for opt in arg[1:]:
                    if opt == "m":
                        self.verbosity += 1
                    elif opt == "s":
                        self.print_statistics = True
                    else:
                        raise CommandError(f"Unrecognized option -{opt}")
            else:
                break
            args = args[1:]
        if not set_names:
            self.names = self.verbosity > 0
        return args


def dp_arg_exists(argv: list[str]) -> bool:
    return len(argv) > 1 and argv[1] in DATAPATH_ALIASES


def open_dp(run: Dpctl, argv: list[str], max_args: int) -> bool:
    """opt_dpif_open(): 'argv' is the command word plus the arguments left
    after options and recognised trailing words.  With argv at 'max_args'
    and argv[1] not our datapath, prints "datapath not found" and returns
    False (flush-conntrack adds a second line); else returns True."""
    if dp_arg_exists(argv) or len(argv) != max_args:
        return True
    run.error("datapath not found", errno.EINVAL)
    return False


def require_dp(run: Dpctl, argv: list[str], max_args: int) -> None:
    """open_dp() for the handlers that stop at its error."""
    if not open_dp(run, argv, max_args):
        raise CommandError("".join(run.out)[:-1])


def engine_call(run: Dpctl, message: str, fn: Callable[[], Any]) -> Any:
    """fn(); an engine error becomes dpctl_error(message, its errno)."""
    try:
        return fn()
    except ENGINE_ERRORS as exc:
        run.fail(message, errno_of(exc))


def dpctl(name: str, usage: str, min_args: int, max_args: int, *,
          group: str, summary: str, read_only: bool = False
          ) -> Callable[[Callable[[Dpctl, list[str]], Result]], Handler]:
    """@command for "dpctl/<name>": the decorated body sees C-style argv
    (the command word, then the params left after the option loop).  On
    a kernel datapath (system@NAME) the kernel's handler runs instead."""
    def declare(body: Callable[[Dpctl, list[str]], Result]) -> Handler:
        def handler(ctx: Context, args: list[str]) -> Result:
            run = Dpctl(ctx)
            run.n_params = len(args)
            rest = run.eat_options(list(args))
            if rest and rest[0].startswith(KERNEL_DP_PREFIX):
                from ovsct.kernel.commands import dispatch
                return dispatch(name, rest, run.verbosity,
                                run.print_statistics, ctx.program)
            return body(run, [name] + rest)
        handler.__name__ = handler.__qualname__ = body.__name__
        handler.__doc__ = body.__doc__
        return command("dpctl/" + name, usage, min_args, max_args,
                       group=group, summary=summary,
                       read_only=read_only)(handler)
    return declare


@dpctl("list-commands", "", 0, UNBOUNDED, group=TOOLS, read_only=True,
       summary="List the dpctl/ commands.")
def list_commands(run: Dpctl, argv: list[str]) -> Result:
    """dpctl_list_commands(): the dpctl/ rows of the table."""
    from ovsct.commands import COMMANDS
    rows = [c for c in COMMANDS if c.name.startswith("dpctl/")]
    return Result(fmt.list_commands_text((c.name, c.usage) for c in rows),
                  [{"name": c.name, "usage": c.usage} for c in rows])
