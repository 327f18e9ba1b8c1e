"""The ``ovsct`` command: ovs-appctl for ovsctd, offline replays, benchmarks.

    ovsct [-t TARGET] [-f text|json] [--pretty] [--timeout=S] COMMAND [ARG...]
    ovsct -r FILE|- [--action=ACTION] [--batch=N] [--write=OUT]
          [--clock=capture|wall] states | COMMAND [ARG...]
    ovsct bench [...]

Client mode sends COMMAND to the daemon and prints what ovs-appctl would
print, on the same streams with the same exit codes: 0 on success, 1 when
the daemon cannot be reached (ovs-appctl's messages with "ovsct:"), 2 when
the daemon returns an error (its text, then "ovsct: TARGET: server returned
an error").  COMMAND is an OVS name with or without its "dpctl/" prefix
(``ovsct dump-conntrack`` is ``dpctl/dump-conntrack``), or one of our ct/*
names without "ct/" (``ovsct replay FILE`` is ``ct/replay FILE``).

Offline mode (-r) builds a local engine on a manual clock and runs the
capture through it (FILE "-" is standard input, read as a stream).  With
--clock=capture (the default) the capture's time stamps drive the clock, in
C, before each batch (dpio/replay.c): connections expire, and a UDP reply an
hour after its request is a new connection, as on the network the capture
was taken on; time stamps going backwards count as the latest time seen.
With --clock=wall every packet runs at t = 0 ms, as before time stamps were
read.  Then the clock moves 1 ms past the last packet's time and the same
command handler as the daemon runs, printing the same text: the timeouts of
a -s dump count from 1 ms after the last packet (a one-way UDP connection
whose last packet ends the capture shows timeout=59, as OVS does just after
the packets).  ``states`` prints one ``<index>: <ct_state>`` line per
packet, each batch as soon as it has run.

Options are checked where they are parsed (parse_options()), with
ovs-appctl's texts for the options it has and a message naming the rule
for ours.

Neighbours: ovsct/client.py (transport), ovsct/rundir.py (-t TARGET),
ovsct/commands/ (the table: help text, name mapping, offline handlers),
ovsct/bench.py (``ovsct bench``).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
import time
from typing import Any, Callable, NoReturn, TextIO

from ovsct import __version__, client, rundir
from ovsct.action import DEFAULT_ACTION
from ovsct.numbers import OptionError, option_int

PROGRAM = "ovsct"
OFFLINE_TIME_MS = 1
# Limits of the numeric options: --timeout is an int of ovs-appctl's (and
# alarm()'s), --batch a uint32_t of the engine's execute_pcap().
MAX_TIMEOUT = (1 << 31) - 1
MAX_BATCH = (1 << 32) - 1
BUILTINS = ("exit", "list-commands", "set-options", "version")
# --clock: what drives the engine's clock with -r (see run_offline()).
CLOCKS = ("capture", "wall")

_log_seq = 0

# Failures that mean "no daemon there" (no pidfile, a stale one, nobody
# listening): ovs-appctl's message, then how to get one or do without
# (unless -t named a socket path: then the path is what is wrong).
NO_DAEMON_ERRNOS = (errno.ENOENT, errno.ESRCH, errno.ECONNREFUSED)
NO_DAEMON_HINT = ("%(program)s: no ovsctd is running here: start one with "
                  "\"ovsctd --detach\", or run a capture offline with "
                  "\"%(program)s -r FILE COMMAND\"\n")


class UsageError(Exception):
    """A command-line error: printed as "ovsct: <text>", exit status 1."""


def _warn_log(module: str, text: str, err: TextIO) -> None:
    """A vlog WARN line on stderr, as ovs-appctl prints before failing."""
    global _log_seq
    _log_seq += 1
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    err.write("%s|%05d|%s|WARN|%s\n" % (stamp, _log_seq, module, text))


# ---------------------------------------------------------------------------
# Options.

class Options:
    target: str | None = None
    fmt = "text"
    pretty = False
    timeout: int | None = None
    read: str | None = None
    action: str | None = None
    batch = 32
    write: str | None = None
    clock = "capture"
    help = False
    version = False


# (long name, short name, takes a value)
_OPTIONS = [
    ("target", "t", True), ("format", "f", True), ("pretty", None, False),
    ("timeout", "T", True), ("read", "r", True), ("action", None, True),
    ("batch", None, True), ("write", None, True), ("clock", None, True),
    ("help", "h", False),
    ("version", "V", False),
]
_LONG = {name: value for name, _, value in _OPTIONS}
_SHORT = {short: (name, value) for name, short, value in _OPTIONS if short}


def parse_options(argv: list[str]) -> tuple[Options, list[str]]:
    """getopt_long with "+": options end at the first non-option, so
    COMMAND's own options (-m, -s) are left to it."""
    opts = Options()
    seen: dict[str, str] = {}

    def store(name: str, value: str) -> None:
        if name == "target" and name in seen:
            raise UsageError("-t or --target may be specified only once")
        seen[name] = value

    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if name not in _LONG:
                raise UsageError("unrecognized option '%s'" % arg)
            if _LONG[name] and not eq:
                i += 1
                if i == len(argv):
                    raise UsageError("option '--%s' requires an argument"
                                     % name)
                value = argv[i]
            elif not _LONG[name] and eq:
                raise UsageError("option '--%s' doesn't allow an argument"
                                 % name)
            store(name, value)
        elif arg.startswith("-") and arg != "-":
            j = 1
            while j < len(arg):
                if arg[j] not in _SHORT:
                    raise UsageError("invalid option -- '%s'" % arg[j])
                name, takes = _SHORT[arg[j]]
                if takes:
                    value = arg[j + 1:]
                    if not value:
                        i += 1
                        if i == len(argv):
                            raise UsageError("option requires an argument "
                                             "-- '%s'" % arg[j])
                        value = argv[i]
                    store(name, value)
                    break
                store(name, "")
                j += 1
        else:
            break
        i += 1

    opts.target = seen.get("target")
    if "format" in seen:
        opts.fmt = seen["format"].lower()
        if opts.fmt not in ("text", "json"):
            raise UsageError("value %s on -f or --format is invalid"
                             % seen["format"])
    opts.pretty = "pretty" in seen
    if "timeout" in seen:
        # ovs-appctl's rule (str_to_int(), then > 0) and its text.
        try:
            opts.timeout = option_int("--timeout", seen["timeout"], 1,
                                      MAX_TIMEOUT)
        except OptionError:
            raise UsageError("value %s on -T or --timeout is invalid"
                             % seen["timeout"])
    opts.read = seen.get("read")
    opts.action = seen.get("action")
    opts.write = seen.get("write")
    if "batch" in seen:
        try:
            opts.batch = option_int("--batch", seen["batch"], 1, MAX_BATCH)
        except OptionError as e:
            raise UsageError(str(e))
    if "clock" in seen:
        opts.clock = seen["clock"]
        if opts.clock not in CLOCKS:
            raise UsageError("--clock: %s is not one of %s"
                             % (opts.clock, ", ".join(CLOCKS)))
    opts.help = "help" in seen
    opts.version = "version" in seen
    if opts.read is None:
        for name in ("action", "batch", "write", "clock"):
            if name in seen:
                raise UsageError("--%s needs -r FILE" % name)
    return opts, argv[i:]


# ---------------------------------------------------------------------------
# The command table (imported lazily: it pulls in the engine).

def _table() -> dict[str, Any]:
    from ovsct.commands import COMMANDS
    return {c.name: c for c in COMMANDS}


def command_name(name: str) -> str:
    """Maps a short name to the table's: "dump-conntrack" ->
    "dpctl/dump-conntrack", "replay" -> "ct/replay".  Unknown names are
    returned unchanged (the daemon reports them)."""
    if "/" in name or name in BUILTINS:
        return name
    try:
        table = _table()
    except ImportError:
        table = {}
    for prefix in ("", "dpctl/", "ct/"):
        if prefix + name in table:
            return prefix + name
    return name


def help_text() -> str:
    lines = [
        "%s, for querying and controlling the ovsct connection tracker"
        % PROGRAM,
        "usage: %s [TARGET] [-f text|json] COMMAND [ARG...]" % PROGRAM,
        "       %s -r FILE [--action=ACTION] [--batch=N] [--write=OUT] "
        "[--clock=C] COMMAND [ARG...]" % PROGRAM,
        "       %s bench [PHASE] [OPTIONS]" % PROGRAM,
        "",
        "Commands (\"dpctl/\" and \"ct/\" may be omitted):",
    ]
    try:
        from ovsct.commands import COMMANDS
    except ImportError as e:
        COMMANDS = []
        lines.append("  (command table unavailable: %s)" % e)
    groups: dict[str, list] = {}
    for command in COMMANDS:
        groups.setdefault(command.group, []).append(command)
    for group, commands in groups.items():
        lines.append("%s:" % group)
        for c in commands:
            lines.append("  %s %s" % (c.name, c.usage) if c.usage
                         else "  %s" % c.name)
            lines.append("      %s" % c.summary)
    lines += [
        "Daemon:",
        "  events [-m] [-s] [dp] [zone=N] [match]",
        "                     stream connection events until interrupted",
        "                     (system@NAME: the kernel's, without daemon)",
        "  list-commands      list the daemon's commands",
        "  version            print the daemon's version",
        "  exit               make the daemon exit",
        "Offline only (-r):",
        "  states             print each packet's ct_state",
        "Help:",
        "  help [COMMAND]     this text, or one command's (also: "
        "COMMAND -h)",
        "",
        "Targets:",
        "  -t, --target=TARGET  pidfile name or socket to contact "
        "(default ovsctd)",
        "Offline mode:",
        "  -r, --read=FILE      run the pcap/pcapng FILE (-: standard "
        "input) through a local engine",
        "  --action=ACTION      ct() action (default %s)" % DEFAULT_ACTION,
        "  --batch=N            packets per engine call (default 32)",
        "  --write=OUT          write the packets, after NAT, to OUT",
        "  --clock=C            capture (default): the capture's time "
        "stamps drive the",
        "                       clock; wall: every packet at one time",
        "Other options:",
        "  -f, --format=FMT     text (default) or json",
        "  --pretty             indent JSON output",
        "  -T, --timeout=SECS   wait at most SECS seconds for a response",
        "  -h, --help           print this helpful information",
        "  -V, --version        display ovsct version information",
    ]
    return "\n".join(lines) + "\n"


# Help of the commands that are not in the table: (usage, summary).
LOCAL_COMMANDS = {
    "events": ("[-m] [-s] [dp] [zone=N] [match]",
               "Stream connection events until interrupted: the daemon's, "
               "or with system@NAME the kernel's (no daemon)."),
    "list-commands": ("", "List the daemon's commands."),
    "version": ("", "Print the daemon's version."),
    "exit": ("[--cleanup]", "Make the daemon exit."),
    "set-options": ("[--format text|json]",
                    "Set the output format of this connection."),
    "states": ("", "Print each packet's ct_state (offline only: "
               "ovsct -r FILE states)."),
}


def command_help(name: str) -> str | None:
    """Help for one command, made here from the command table (never asked
    of the daemon): usage line, summary, then where to read more.  None if
    'name' is no command we know."""
    if name in LOCAL_COMMANDS:
        full = name
        usage, summary = LOCAL_COMMANDS[name]
    else:
        full = command_name(name)
        try:
            row = _table().get(full)
        except ImportError:
            row = None
        if row is None:
            return None
        usage, summary = row.usage, row.summary
    short = full.split("/", 1)[1] if full.startswith(("dpctl/", "ct/")) \
        else full
    lines = ["usage: %s %s%s" % (PROGRAM, short, " " + usage if usage else "")]
    if short != full:
        lines.append("       ovs-appctl -t ovsctd %s%s"
                     % (full, " " + usage if usage else ""))
    lines += ["", summary, "",
              "See ovsct(8) for the details, %s --help for the options."
              % PROGRAM]
    return "\n".join(lines) + "\n"


def _wants_help(args: list[str]) -> bool:
    """'ovsct help [COMMAND]' or 'ovsct COMMAND ... -h|--help'."""
    return args[0] == "help" or any(a in ("-h", "--help") for a in args[1:])


def run_help(args: list[str], out: TextIO) -> int:
    if args[0] == "help":
        if len(args) == 1:
            out.write(help_text())
            return 0
        if len(args) > 2:
            raise UsageError("help takes at most one command")
        name = args[1]
    else:
        name = args[0]
    text = command_help(name)
    if text is None:
        raise UsageError('"%s" is not a known command (use --help for a '
                         "list)" % name)
    out.write(text)
    return 0


# ---------------------------------------------------------------------------
# Output.

class OutputClosed(Exception):
    """The reader of our output went away (ovsct dump-conntrack | head).
    Not an OSError, so that the transport does not take it for a failure
    of the socket."""


# Exit status when the output was closed: what a shell reports for a
# command killed by SIGPIPE, as ovs-appctl is.
EXIT_PIPE = 128 + signal.SIGPIPE


def _write_json(value: Any, pretty: bool, out: TextIO) -> None:
    if hasattr(value, "json_bytes"):
        # Made by the engine (Conntrack.dump_json(), format.JsonText):
        # compact with sorted keys already, as json.dumps() below would
        # write it.
        if pretty:
            value = json.loads(value.json_bytes())
        else:
            buffer = getattr(out, "buffer", None)
            if buffer is not None:
                out.flush()
                buffer.write(value.json_bytes() + b"\n")
            else:
                out.write(value.json_bytes().decode("utf-8") + "\n")
            return
    if pretty:
        out.write(json.dumps(value, indent=4, sort_keys=True) + "\n")
    else:
        out.write(json.dumps(value, separators=(",", ":"), sort_keys=True)
                  + "\n")


def _write_result(result: Any, fmt: str, pretty: bool, out: TextIO) -> None:
    if isinstance(result, client.RawJSON):
        if pretty:
            _write_json(result.value(), pretty, out)
            return
        out.flush()
        try:
            fd = out.fileno()
        except (AttributeError, OSError, ValueError):
            out.write(bytes(result.data).decode("utf-8") + "\n")
        else:
            result.write_to(fd)
            os.write(fd, b"\n")
    elif isinstance(result, client.RawText):
        out.flush()
        try:
            fd = out.fileno()
        except (AttributeError, OSError, ValueError):
            out.write(str(result))
        else:
            result.write_to(fd)
    elif isinstance(result, str) and fmt == "text":
        # Bytes, as ovs-appctl's fputs(): the text is UTF-8 whatever the
        # locale says.
        buffer = getattr(out, "buffer", None)
        if buffer is not None:
            out.flush()
            buffer.write(result.encode("utf-8"))
        else:
            out.write(result)
    else:
        _write_json(result, pretty, out)


# ---------------------------------------------------------------------------
# Client mode.

def _on_alarm(signum: int, frame: Any) -> NoReturn:
    # What ovs-appctl --timeout does: fatal_signal logs and re-raises.
    _warn_log("fatal_signal", "terminating with signal 14 (Alarm clock)",
              sys.stderr)
    sys.stderr.flush()
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGALRM)
    raise SystemExit(128 + signal.SIGALRM)      # Not reached.


def run_client(opts: Options, args: list[str], out: TextIO,
               err: TextIO) -> int:
    target = opts.target or rundir.DEFAULT_TARGET
    method = command_name(args[0])
    params = args[1:]
    if method == "ct/replay" and params:
        # The daemon's working directory is not ours (--detach: "/").
        params[0] = os.path.abspath(params[0])
    if opts.timeout:
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(opts.timeout)
    try:
        path = rundir.resolve_target(target)
        with client.UnixctlClient.connect(path) as conn:
            if opts.fmt != "text":
                error, _ = conn.transact("set-options",
                                         ["--format", opts.fmt])
                if error is None:
                    error, result = conn.transact(method, params)
            else:
                # Text goes to stdout as it arrives (ovs-appctl prints the
                # result verbatim, so printing it piecewise is the same).
                out.flush()
                sink = _fd_writer(out)
                error, result = conn.transact(method, params, sink=sink)
    except client.ClientError as e:
        if e.log:
            _warn_log(e.log[0], e.log[1], err)
        if e.message == "transaction error":
            err.write("%s: %s: %s\n" % (PROGRAM, target, e))
        else:
            err.write("%s: %s\n" % (PROGRAM, e))
            if e.errno in NO_DAEMON_ERRNOS and "/" not in target:
                err.write(NO_DAEMON_HINT % {"program": PROGRAM})
        return 1
    if error is not None:
        err.write(error if isinstance(error, str) else json.dumps(error))
        err.write("%s: %s: server returned an error\n" % (PROGRAM, target))
        return 2
    if result is not client.STREAMED:
        _write_result(result, opts.fmt, opts.pretty, out)
    return 0


def _fd_writer(out: TextIO) -> Callable[[bytes], None]:
    """A sink writing bytes to 'out': straight to its file descriptor when
    it has one, else decoded through write()."""
    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):
        return lambda data: out.write(data.decode("utf-8"))

    def write(data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(fd, view):]
        except BrokenPipeError:
            raise OutputClosed from None
    return write


# ---------------------------------------------------------------------------
# Offline mode.

def run_offline(opts: Options, args: list[str], out: TextIO,
                err: TextIO) -> int:
    from ovsct import format as fmt
    from ovsct.action import parse_ct_action
    from ovsct.commands import CommandError, Context, dispatch
    from ovsct.engine import Conntrack

    name = args[0]
    if name != "states":
        name = command_name(name)
        if name not in _table():
            raise UsageError("%s: not available with -r (use a dpctl/ or "
                             "ct/ command, or states)" % args[0])
    action_text = opts.action or DEFAULT_ACTION
    try:
        action = parse_ct_action(action_text)
    except ValueError as e:
        raise UsageError("--action: %s" % e)

    if name == "states" and len(args) > 1:
        raise UsageError("states takes no arguments")
    seen = [0]

    def print_states(states: bytes) -> None:
        # Each batch as soon as it has run (-r - on a live pipe).
        first = seen[0] + 1
        seen[0] += len(states)
        out.write("".join("%d: %s\n" % (i, fmt.ct_state_name(s))
                          for i, s in enumerate(states, first)))
        out.flush()

    on_batch = (print_states if name == "states" and opts.fmt != "json"
                else None)

    with Conntrack(manual_clock=True, start_ms=0, sweeper=False) as engine:
        try:
            states = engine.execute_pcap(
                opts.read, action, opts.batch,
                capture_clock=opts.clock == "capture", write=opts.write,
                on_batch=on_batch)
        except (OSError, ValueError) as e:
            out.flush()
            err.write("%s: %s\n" % (PROGRAM, _capture_error(opts, e)))
            return 1
        engine.set_time(engine.now + OFFLINE_TIME_MS)

        if name == "states":
            if on_batch is None:
                _write_json([{"packet": i, "ct_state":
                              fmt.ct_state_name(s).split("|")}
                             for i, s in enumerate(states, 1)],
                            opts.pretty, out)
            return 0

        context = Context(engine=engine, program=PROGRAM)
        try:
            value = dispatch(context, name, args[1:]).value(
                opts.fmt == "json")
        except CommandError as e:
            err.write(e.text if e.text.endswith("\n") else e.text + "\n")
            return 2
    if opts.fmt == "json":
        _write_json(value, opts.pretty, out)
    elif value:
        out.write(value if value.endswith("\n") else value + "\n")
    return 0


def _capture_error(opts: Options, e: Exception) -> str:
    """"FILE: reason" for an error reading -r FILE or writing --write."""
    path = getattr(e, "filename", None) or opts.read
    reason = getattr(e, "strerror", None) or str(e)
    if not reason.startswith("%s: " % path):
        reason = "%s: %s" % (path, reason)
    return reason


# ---------------------------------------------------------------------------

def run_bench(args: list[str]) -> int:
    import argparse

    from ovsct import bench

    parser = argparse.ArgumentParser(prog=PROGRAM)
    subparsers = parser.add_subparsers(dest="command")
    bench.add_parser(subparsers)
    return bench.run(parser.parse_args(args))


def main(argv: list[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        opts, args = parse_options(argv)
        if opts.help:
            out.write(help_text())
            return 0
        if opts.version:
            out.write("%s (ovsct) %s\n" % (PROGRAM, __version__))
            return 0
        if not args:
            raise UsageError("at least one non-option argument is required "
                             "(use --help for help)")
        if args[0] == "bench" and opts.read is None:
            return run_bench(args)
        if _wants_help(args):
            return run_help(args, out)
        if opts.read is not None:
            return run_offline(opts, args, out, err)
        if args[0] == "states":
            raise UsageError("states needs a capture: %s -r FILE states"
                             % PROGRAM)
        if args[0] == "events":
            # system@NAME: the kernel's conntrack events, from netlink
            # (ovsct/kernel/events.py); any other datapath: the daemon's
            # table (ovsct/events.py).
            from ovsct.kernel.events import cli_events, is_kernel_events
            if is_kernel_events(args[1:]):
                return cli_events(args[1:], opts.fmt == "json", opts.pretty,
                                  out, err, PROGRAM)
            from ovsct.events import run_events
            return run_events(opts.target or rundir.DEFAULT_TARGET,
                              args[1:], opts.fmt == "json", out, err,
                              PROGRAM)
        # --- kernel datapath hook (issue 11): dpctl commands on
        # system@NAME run here without a daemon, like ovs-dpctl.
        from ovsct.kernel.cli import run_local, wants_local
        if wants_local(command_name(args[0]), args[1:]):
            return run_local(command_name(args[0]), args[1:],
                             opts.fmt == "json", opts.pretty, out, err,
                             PROGRAM)
        # --- end of hook.
        return run_client(opts, args, out, err)
    except UsageError as e:
        err.write("%s: %s\n" % (PROGRAM, e))
        return 1
    except (BrokenPipeError, OutputClosed):
        return _output_closed(out)
    finally:
        try:
            out.flush()
        except (BrokenPipeError, ValueError):
            _output_closed(out)


def _output_closed(out: TextIO) -> int:
    """Output closed early (ovsct dump-conntrack | head): end quietly, with
    the status of a command killed by SIGPIPE.  What is still buffered is
    dropped (stdout now points at /dev/null, so that the interpreter's
    final flush does not complain)."""
    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):
        return EXIT_PIPE
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
    return EXIT_PIPE


if __name__ == "__main__":
    sys.exit(main())
