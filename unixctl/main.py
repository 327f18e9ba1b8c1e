"""ovsctd main: daemon options, startup order, command registration, loop.

Startup follows ovs tests/test-unixctl.py: add and handle the options of
ovs.daemon, ovs.vlog and our own, daemonize_start(), create the engine (after
the fork: it owns a sweeper thread), create the server, register every
command of ovsct.commands.COMMANDS once with the engine in the Context as
aux, replay the --pcap files, daemonize_complete(), loop.

Threads.  The loop thread only does socket I/O.  Table commands run one at a
time, in arrival order, on a single control thread, so a long engine call
(a dump of a million connections) never stalls the other clients; results
come back to the loop through UnixctlServer.call_from_thread().  Deferred
commands (Command.deferred: ct/replay) run on the --threads packet workers
instead, so several replays proceed in parallel and control commands keep
working meanwhile.  Long polls (Command.long_poll: ct/events-read) wait on
a pool of their own.  The adapter below is
the only code that calls reply / reply_error for table commands.

Options are checked where they are parsed (check_options(), --action),
before the process daemonizes, so a bad value fails at once with a message
naming the rule.

Neighbours: unixctl/server.py, ovsct/commands/ (table and handlers),
ovsct/engine.py (Conntrack), ovsct/rundir.py (run directory, socket path).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import re
import signal
import sys
import threading
from typing import Any

import ovs.daemon
import ovs.dirs
import ovs.fatal_signal
import ovs.unixctl
import ovs.util
import ovs.vlog

PROGRAM = "ovsctd"
# ovs.util.PROGRAM_NAME feeds the default pidfile, log file and vlog %A; it
# must be right before the ovs modules compute their defaults.
ovs.util.PROGRAM_NAME = PROGRAM

import ovsct  # noqa: E402
from ovsct.action import DEFAULT_ACTION  # noqa: E402
from ovsct import live  # noqa: E402
from ovsct import rundir as rundirs  # noqa: E402
from ovsct.numbers import (OptionError, option_int,  # noqa: E402
                           option_power_of_two)
from unixctl import persist  # noqa: E402
from unixctl import server as unixctl_server  # noqa: E402
from unixctl.poller import Poller  # noqa: E402

vlog = ovs.vlog.Vlog("ovsctd")

VERSION = "%s (ovsct) %s" % (PROGRAM, ovsct.__version__)


class Daemon:
    """State shared by the loop and the command callbacks."""

    def __init__(self, engine: Any, context: Any,
                 server: unixctl_server.UnixctlServer, threads: int):
        self.engine = engine
        self.context = context
        self.server = server
        self.exiting = False
        self.control = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="control")
        self.packets = concurrent.futures.ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix="pkt")
        # Long polls (Command.long_poll: ct/events-read) wait here, one
        # thread each, up to EVENT_READERS at once (more queue).
        self.waiters = concurrent.futures.ThreadPoolExecutor(
            max_workers=EVENT_READERS, thread_name_prefix="events")
        self._busy = 0
        self._busy_lock = threading.Lock()

    def submit(self, pool: concurrent.futures.Executor, fn: Any) -> None:
        with self._busy_lock:
            self._busy += 1

        def run() -> None:
            try:
                fn()
            finally:
                with self._busy_lock:
                    self._busy -= 1
        pool.submit(run)

    @property
    def busy(self) -> bool:
        with self._busy_lock:
            return self._busy > 0


# ---------------------------------------------------------------------------
# The adapter: table command -> unixctl callback.

def _table_callback(conn: unixctl_server.UnixctlConnection, argv: list[str],
                    aux: tuple) -> None:
    command, daemon = aux
    from ovsct.commands import CommandError
    from ovsct.commands.coverage import check_nat_exhaustion

    server = daemon.server
    as_json = conn.fmt == unixctl_server.JSON

    def job() -> None:
        # Result.value() renders lazily (a dump is formatted only in the
        # form asked for), so it runs here, off the loop thread.
        try:
            # OVS's NAT exhaustion warning, rate-limited (issue 13).
            check_nat_exhaustion(daemon.engine, vlog.warn)
            value = command.handler(daemon.context, argv).stream(as_json)
        except CommandError as e:
            server.call_from_thread(conn.reply_error, e.text)
        except Exception as e:      # A bug: report it, keep serving.
            vlog.exception("%s %s" % (command.name, " ".join(argv)))
            server.call_from_thread(conn.reply_error,
                                    "%s: %s: internal error (%s)"
                                    % (PROGRAM, command.name, e))
        else:
            server.call_from_thread(_reply, conn, value, as_json)

    pool = (daemon.waiters if command.long_poll
            else daemon.packets if command.deferred else daemon.control)
    daemon.submit(pool, job)


def _reply(conn: unixctl_server.UnixctlConnection, value: Any,
           as_json: bool) -> None:
    if not as_json:
        conn.reply(value)
        return
    try:
        conn.reply_json(value)
    except (TypeError, ValueError) as e:    # Data that is not JSON-able.
        vlog.err("cannot encode reply: %s" % e)
        conn.reply_error("%s: cannot encode reply (%s)" % (PROGRAM, e))


def _unixctl_exit(conn: unixctl_server.UnixctlConnection, argv: list[str],
                  daemon: Daemon) -> None:
    # "--cleanup" is accepted for scripts written for ovs-vswitchd and has
    # no effect (a --state-file is saved at every clean exit).
    daemon.exiting = True
    conn.reply(None)


def _vlog_set_levels(spec: str) -> str | None:
    """lib/vlog.c vlog_set_levels_from_string(), texts included: words
    split at " ,:\t", at most one destination, level and module each, an
    unnamed level meaning dbg; "PATTERN:dest:pattern" and
    "FACILITY:facility".  Returns an error text or None.  (The ovs
    library's version answers success for an unknown word and ignores a
    spec without a level.)"""
    vlog_mod = ovs.vlog
    modules = getattr(vlog_mod.Vlog, "_Vlog__mfl", {})
    words = [w for w in re.split(r"[ ,:\t]", spec) if w]
    first = words[0].lower() if words else ""
    if first == "pattern":
        parts = re.split(r"[ ,:\t]", spec, maxsplit=2)
        if len(parts) < 2 or not parts[1]:
            return "missing destination"
        dest = parts[1].lower()
        if dest != "any" and dest not in vlog_mod.DESTINATIONS:
            return 'unknown destination "%s"' % parts[1]
        pattern = parts[2] if len(parts) > 2 else ""
        for d in (vlog_mod.DESTINATIONS if dest == "any" else [dest]):
            vlog_mod.Vlog.set_pattern(d, pattern)
        return None
    if first == "facility":
        facility = spec.split(":", 1)[1] if ":" in spec else ""
        if facility.lower() not in vlog_mod.FACILITIES:
            return "invalid facility"
        vlog_mod.Vlog.add_syslog_handler(facility.lower())
        return None
    module = level = destination = None
    for word in (w.lower() for w in words):
        if word == "any":
            continue
        if word in vlog_mod.DESTINATIONS:
            if destination:
                return "cannot specify multiple destinations"
            destination = word
        elif word in vlog_mod.LEVELS:
            if level:
                return "cannot specify multiple levels"
            level = word
        elif word in modules:
            if module:
                return "cannot specify multiple modules"
            module = word
        else:
            return 'no destination, level, or module "%s"' % word
    vlog_mod.Vlog.set_level(module or "any", destination or "any",
                            level or "dbg")
    return None


def _unixctl_vlog_set(conn: unixctl_server.UnixctlConnection,
                      argv: list[str], aux: Any) -> None:
    """lib/vlog.c vlog_unixctl_set(): no argument sets everything to dbg;
    the first bad spec is the error reply."""
    if not argv:
        ovs.vlog.Vlog.set_level("any", "any", "dbg")
    for arg in argv:
        error = _vlog_set_levels(arg)
        if error:
            conn.reply_error(error)
            return
    conn.reply(None)


def _should_restart(status: int) -> bool:
    """ovs.daemon's restart rule for --monitor, plus SIGKILL (the OOM
    killer's signal, and ovsctd(8): "Restart the daemon if it dies from a
    signal"); a fatal exception in the loop exits with
    ovs.daemon.RESTART_EXIT_CODE, which the rule already covers."""
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
        return True
    return _library_should_restart(status)


_library_should_restart = ovs.daemon._should_restart


def register_commands(daemon: Daemon) -> None:
    from ovsct.commands import COMMANDS

    for command in COMMANDS:
        unixctl_server.command_register(
            command.name, command.usage, command.min_args,
            command.max_args, _table_callback, (command, daemon))
    unixctl_server.command_register("exit", "[--cleanup]", 0, 1,
                                    _unixctl_exit, daemon)
    # ovs.vlog registered its own vlog/set (Vlog.init()); OVS's answers
    # errors as errors.
    ovs.unixctl.commands.pop("vlog/set", None)
    unixctl_server.command_register(
        "vlog/set", "{spec | PATTERN:destination:pattern}", 0,
        MAX_UNBOUNDED, _unixctl_vlog_set, None)


# ---------------------------------------------------------------------------
# Options and directories.

def _default_logdir(rundir: str) -> str:
    env = os.environ.get("OVS_LOGDIR")
    if env:
        return env
    if os.access("/var/log/openvswitch", os.W_OK | os.X_OK):
        return "/var/log/openvswitch"
    return rundir


# Limits of the numeric options.  MAX_BUCKETS is the engine's: ovsct_create()
# in ext/conntrack.c refuses more (tests/test_daemon.py checks both agree).
MAX_BUCKETS = 1 << 20
MAX_THREADS = 1024
MAX_CLIENTS = 1 << 20
MAX_UNBOUNDED = sys.maxsize
EVENT_READERS = 32


def check_options(args: argparse.Namespace) -> None:
    """Checks and converts the numeric options in place, before anything
    is created or the process daemonizes.  Raises OptionError naming the
    rule."""
    if args.buckets is not None:
        args.buckets = option_power_of_two("--buckets", args.buckets, 1,
                                           MAX_BUCKETS)
    args.threads = option_int("--threads", args.threads, 1, MAX_THREADS)
    if args.max_clients is not None:
        args.max_clients = option_int("--max-clients", args.max_clients, 1,
                                      MAX_CLIENTS)
    args.workers = option_int("--workers", args.workers, 1,
                              live.max_workers())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="ovsct daemon: a connection tracker with Open vSwitch "
        "userspace conntrack semantics, controlled with ovs-appctl "
        "(ovs-appctl -t ovsctd dpctl/dump-conntrack) or ovsct.")
    group = parser.add_argument_group(title="ovsctd Options")
    group.add_argument("--unixctl", metavar="PATH",
                       help="control socket (default: "
                       "<rundir>/ovsctd.<pid>.ctl)")
    group.add_argument("--buckets", metavar="N",
                       help="table buckets: a power of two between 1 and "
                       "%d (default: the engine's, 4096)" % MAX_BUCKETS)
    group.add_argument("--threads", default="1", metavar="N",
                       help="packet worker threads for ct/replay and --pcap "
                       "(1 to %d, default 1)" % MAX_THREADS)
    group.add_argument("--max-clients", metavar="N",
                       help="clients served at once; more are refused with "
                       "an error (1 to %d, default: %d or fewer if the "
                       "open-files limit is lower)"
                       % (MAX_CLIENTS, unixctl_server.DEFAULT_MAX_CLIENTS))
    group.add_argument("--pcap", action="append", default=[],
                       metavar="FILE",
                       help="replay FILE at start (repeatable)")
    group.add_argument("--action", default=DEFAULT_ACTION, metavar="ACTION",
                       help="ct() action for --pcap, --interface and "
                       "--bridge (default %s)"
                       % DEFAULT_ACTION)
    persist.add_args(group)     # --state-file, --save-interval
    # Hook: the live datapath's options (ovsct/live.py, issue 10).
    group.add_argument("--interface", action="append", default=[],
                       metavar="IFACE[,IFACE...]",
                       help="track every frame IFACE carries, passively "
                       "(repeatable)")
    group.add_argument("--bridge", metavar="INSIDE,OUTSIDE",
                       help="forward frames between two interfaces after "
                       "tracking them")
    group.add_argument("--firewall", action="store_true",
                       help="with --bridge: pass OUTSIDE frames only if "
                       "+est or +rel")
    group.add_argument("--workers", default="1", metavar="N",
                       help="threads per live interface or bridge "
                       "(default 1)")
    group.add_argument("--no-pidfile", action="store_true",
                       help="do not create <rundir>/ovsctd.pid")
    group.add_argument("-V", "--version", action="version", version=VERSION)
    ovs.daemon.add_args(parser)
    ovs.vlog.add_args(parser)
    return parser


# ---------------------------------------------------------------------------
# Startup replay.

def _replay_at_start(daemon: Daemon, files: list[str], action: str) -> None:
    """Replays 'files' on the packet workers (in parallel when --threads > 1)
    and waits, so that the state is loaded when the daemon reports ready.
    Exits on the first failure."""
    from ovsct.commands import CommandError, find_command

    replay = find_command("ct/replay")
    futures = [(path, daemon.packets.submit(replay.handler, daemon.context,
                                            [path, action]))
               for path in files]
    for path, future in futures:
        try:
            result = future.result()
        except CommandError as e:
            ovs.util.ovs_fatal(0, "%s: %s" % (path, e.text.rstrip("\n")),
                               vlog)
        except (OSError, ValueError) as e:
            ovs.util.ovs_fatal(0, "%s: %s" % (path, e), vlog)
        vlog.info("replayed %s: %s" % (path, result.text.strip()))


# ---------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    rundir = rundirs.default_rundir()
    ovs.dirs.RUNDIR = rundir
    ovs.dirs.LOGDIR = _default_logdir(rundir)

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_options(args)
    except OptionError as e:
        parser.error(str(e))

    from ovsct.action import parse_ct_action
    try:
        parse_ct_action(args.action)
    except ValueError as e:
        parser.error("--action: %s" % e)
    try:
        live_names, live_pair = live.validate_options(
            args.interface, args.bridge, args.firewall, args.action)
    except ValueError as e:
        parser.error(str(e))

    # OVS daemons log errors to syslog, not everything.
    ovs.vlog.Vlog.set_levels_from_string("syslog:err")
    ovs.vlog.handle_args(args)
    try:
        rundirs.prepare_rundir(rundir)
    except OSError as e:
        ovs.util.ovs_fatal(0, e.strerror)
    if args.pidfile is None and not args.no_pidfile:
        args.pidfile = ovs.daemon.make_pidfile_name(None)
    ovs.daemon.handle_args(args)
    ovs.daemon._should_restart = _should_restart

    ovs.daemon.daemonize_start()

    from ovsct.commands import Context
    from ovsct.engine import Conntrack

    try:
        engine = Conntrack(buckets=args.buckets or 0)
    except (ValueError, MemoryError) as e:
        ovs.util.ovs_fatal(0, "cannot create the connection tracker (%s)"
                           % e, vlog)
    context = Context(engine=engine, program=PROGRAM, stream_dump=True)
    persist.start(args, engine, context)    # restore --state-file

    if args.unixctl:
        path = ovs.util.abs_file_name(rundir, args.unixctl)
    else:
        path = rundirs.ctl_path(rundir, PROGRAM, os.getpid())
    try:
        server = unixctl_server.UnixctlServer.create(path, VERSION,
                                                     args.max_clients)
    except unixctl_server.SocketInUse:
        ovs.util.ovs_fatal(0, "%s: another process is listening on this "
                           "control socket (is %s already running?); not "
                           "starting" % (path, PROGRAM), vlog)
    except OSError as e:
        ovs.util.ovs_fatal(e.errno, "could not initialize control socket %s"
                           % path, vlog)
    from ovsct.engine import trim
    server.trim_hook = trim

    daemon = Daemon(engine, context, server, args.threads)
    register_commands(daemon)
    if args.pcap:
        _replay_at_start(daemon, args.pcap, args.action)
    try:
        live.start(engine, live_names, live_pair, args.firewall, args.action,
                   args.workers)
    except (OSError, ValueError) as e:
        ovs.util.ovs_fatal(0, "live datapath: %s"
                           % (getattr(e, "strerror", None) or e), vlog)

    ovs.daemon.daemonize_complete()
    vlog.info("%s: listening on %s (at most %d clients)"
              % (VERSION, path, server.max_clients))

    try:
        _loop(daemon)
    except Exception:
        # Never silently: the log says why, and the exit status makes
        # --monitor start a new daemon (ovs.daemon restarts on
        # RESTART_EXIT_CODE).  The socket and pidfile are removed here and
        # the process ends at once: a normal exit would first wait for the
        # worker threads, possibly for ever.
        vlog.exception("fatal error in the main loop; exiting")
        server.unlink_own()
        if args.pidfile:
            ovs.fatal_signal.unlink_file_now(args.pidfile)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(ovs.daemon.RESTART_EXIT_CODE)

    _shutdown(daemon, args.pidfile)
    return 0


def _loop(daemon: Daemon) -> None:
    server = daemon.server
    while not daemon.exiting:
        server.run()
        if _FAULT and os.path.exists(_FAULT):
            os.unlink(_FAULT)
            raise RuntimeError("fault injected (OVSCTD_TEST_FAULT)")
        poller = Poller()
        server.wait(poller)
        if daemon.exiting:
            poller.immediate_wake()
        poller.block()


# Tests of the fatal-error path set OVSCTD_TEST_FAULT=FILE: when FILE
# exists, the loop removes it and raises, as an unforeseen bug would (once:
# the daemon --monitor starts again does not).
_FAULT = os.environ.get("OVSCTD_TEST_FAULT")


def _shutdown(daemon: Daemon, pidfile: str | None) -> None:
    """After "exit": send the reply, remove the socket, stop the workers,
    free the engine, remove the pidfile (atexit hook of ovs.daemon)."""
    daemon.server.flush(1000)
    daemon.server.close()
    persist.stop(daemon.context)            # last save to --state-file
    daemon.control.shutdown(wait=False, cancel_futures=True)
    daemon.packets.shutdown(wait=False, cancel_futures=True)
    daemon.waiters.shutdown(wait=False, cancel_futures=True)
    if daemon.busy:
        # A replay is still inside the engine; do not free it under the
        # worker or wait for the replay to end.
        vlog.info("exiting with work in progress")
        if pidfile:
            ovs.fatal_signal.unlink_file_now(pidfile)
        sys.stdout.flush()
        os._exit(0)
    live.detach(daemon.engine)      # Joins the live workers first.
    daemon.engine.close()
    vlog.info("exiting")


if __name__ == "__main__":
    sys.exit(main())
