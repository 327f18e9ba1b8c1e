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
working meanwhile.  The adapter below is
the only code that calls reply / reply_error for table commands.

Neighbours: unixctl/server.py, ovsct/commands.py (table and handlers),
ovsct/engine.py (Conntrack), ovsct/client.py (default_rundir()).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import stat
import sys
import threading
from typing import Any

import ovs.daemon
import ovs.dirs
import ovs.fatal_signal
import ovs.poller
import ovs.util
import ovs.vlog

PROGRAM = "ovsctd"
# ovs.util.PROGRAM_NAME feeds the default pidfile, log file and vlog %A; it
# must be right before the ovs modules compute their defaults.
ovs.util.PROGRAM_NAME = PROGRAM

import ovsct  # noqa: E402
from ovsct import client  # noqa: E402
from unixctl import server as unixctl_server  # noqa: E402

vlog = ovs.vlog.Vlog("ovsctd")

VERSION = "%s (ovsct) %s" % (PROGRAM, ovsct.__version__)
DEFAULT_ACTION = "ct(commit)"


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

    server = daemon.server
    as_json = conn.fmt == unixctl_server.JSON

    def job() -> None:
        # Result.value() renders lazily (a dump is formatted only in the
        # form asked for), so it runs here, off the loop thread.
        try:
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

    pool = daemon.packets if command.deferred else daemon.control
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
    # "--cleanup" is accepted for scripts written for ovs-vswitchd; ovsctd
    # keeps no state that outlives it.
    daemon.exiting = True
    conn.reply(None)


def register_commands(daemon: Daemon) -> None:
    from ovsct.commands import COMMANDS

    for command in COMMANDS:
        unixctl_server.command_register(
            command.name, command.usage, command.min_args,
            command.max_args, _table_callback, (command, daemon))
    unixctl_server.command_register("exit", "[--cleanup]", 0, 1,
                                    _unixctl_exit, daemon)


# ---------------------------------------------------------------------------
# Options and directories.

def _prepare_rundir(rundir: str) -> None:
    """Creates 'rundir' (mode 0700) if missing; refuses a per-user directory
    that someone else owns or others may write."""
    try:
        os.makedirs(rundir, mode=0o700)
        return
    except FileExistsError:
        pass
    except OSError as e:
        ovs.util.ovs_fatal(e.errno, "%s: cannot create run directory"
                           % rundir)
    st = os.stat(rundir)
    if not stat.S_ISDIR(st.st_mode):
        ovs.util.ovs_fatal(0, "%s: not a directory" % rundir)
    if (rundir == client.user_rundir()
            and (st.st_uid != os.getuid() or st.st_mode & 0o022)):
        ovs.util.ovs_fatal(0, "%s: not owned by us or writable by others"
                           % rundir)


def _default_logdir(rundir: str) -> str:
    env = os.environ.get("OVS_LOGDIR")
    if env:
        return env
    if os.access("/var/log/openvswitch", os.W_OK | os.X_OK):
        return "/var/log/openvswitch"
    return rundir


def _positive(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a number" % text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _nonnegative(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a number" % text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


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
    group.add_argument("--buckets", type=_nonnegative, default=0,
                       metavar="N",
                       help="table buckets (0: engine default)")
    group.add_argument("--threads", type=_positive, default=1, metavar="N",
                       help="packet worker threads for ct/replay and --pcap")
    group.add_argument("--pcap", action="append", default=[],
                       metavar="FILE",
                       help="replay FILE at start (repeatable)")
    group.add_argument("--action", default=DEFAULT_ACTION, metavar="ACTION",
                       help="ct() action for --pcap, --interface and "
                       "--bridge (default %s)"
                       % DEFAULT_ACTION)
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
    group.add_argument("--workers", type=_positive, default=1, metavar="N",
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
    from ovsct.commands import COMMANDS, CommandError

    replay = next((c for c in COMMANDS if c.name == "ct/replay"), None)
    futures = []
    for path in files:
        if replay is not None:
            futures.append((path, daemon.packets.submit(
                replay.handler, daemon.context, [path, action])))
        else:
            from ovsct.action import parse_ct_action
            futures.append((path, daemon.packets.submit(
                daemon.engine.execute_pcap, path, parse_ct_action(action))))
    for path, future in futures:
        try:
            result = future.result()
        except CommandError as e:
            ovs.util.ovs_fatal(0, "%s: %s" % (path, e.text.rstrip("\n")),
                               vlog)
        except (OSError, ValueError) as e:
            ovs.util.ovs_fatal(0, "%s: %s" % (path, e), vlog)
        text = getattr(result, "text", None)
        if text is None:
            text = "%d packets" % len(result)
        vlog.info("replayed %s: %s" % (path, text.strip()))


# ---------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    rundir = client.default_rundir()
    ovs.dirs.RUNDIR = rundir
    ovs.dirs.LOGDIR = _default_logdir(rundir)

    parser = build_parser()
    args = parser.parse_args(argv)

    from ovsct.action import parse_ct_action
    try:
        parse_ct_action(args.action)
    except ValueError as e:
        parser.error("--action: %s" % e)
    from ovsct import _engine, live
    try:
        live_names, live_pair = live.validate_options(
            args.interface, args.bridge, args.firewall, args.action,
            args.workers, _engine.LIVE_MAX_WORKERS)
    except ValueError as e:
        parser.error(str(e))

    # OVS daemons log errors to syslog, not everything.
    ovs.vlog.Vlog.set_levels_from_string("syslog:err")
    ovs.vlog.handle_args(args)
    _prepare_rundir(rundir)
    if args.pidfile is None and not args.no_pidfile:
        args.pidfile = ovs.daemon.make_pidfile_name(None)
    ovs.daemon.handle_args(args)

    ovs.daemon.daemonize_start()

    from ovsct.commands import Context
    from ovsct.engine import Conntrack

    try:
        engine = Conntrack(buckets=args.buckets)
    except (ValueError, MemoryError) as e:
        ovs.util.ovs_fatal(0, "cannot create the connection tracker (%s)"
                           % e, vlog)
    context = Context(engine=engine, program=PROGRAM, stream_dump=True)

    if args.unixctl:
        path = ovs.util.abs_file_name(rundir, args.unixctl)
    else:
        path = "%s/%s.%d.ctl" % (rundir, PROGRAM, os.getpid())
    try:
        server = unixctl_server.UnixctlServer.create(path, VERSION)
    except OSError as e:
        ovs.util.ovs_fatal(e.errno, "could not initialize control socket %s"
                           % path, vlog)

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
    vlog.info("%s: listening on %s" % (VERSION, path))

    while not daemon.exiting:
        server.run()
        poller = ovs.poller.Poller()
        server.wait(poller)
        if daemon.exiting:
            poller.immediate_wake()
        poller.block()

    _shutdown(daemon, args.pidfile)
    return 0


def _shutdown(daemon: Daemon, pidfile: str | None) -> None:
    """After "exit": send the reply, remove the socket, stop the workers,
    free the engine, remove the pidfile (atexit hook of ovs.daemon)."""
    daemon.server.flush(1000)
    daemon.server.close()
    daemon.control.shutdown(wait=False, cancel_futures=True)
    daemon.packets.shutdown(wait=False, cancel_futures=True)
    if daemon.busy:
        # A replay is still inside the engine; do not free it under the
        # worker or wait for the replay to end.
        vlog.info("exiting with work in progress")
        if pidfile:
            ovs.fatal_signal.unlink_file_now(pidfile)
        sys.stdout.flush()
        os._exit(0)
    from ovsct import live
    live.detach(daemon.engine)      # Joins the live workers first.
    daemon.engine.close()
    vlog.info("exiting")


if __name__ == "__main__":
    sys.exit(main())
