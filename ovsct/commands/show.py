"""dpctl/dump-conntrack, dpctl/ct-stats-show and dpctl/ct-bkts
(lib/dpctl.c dpctl_dump_conntrack(), dpctl_ct_stats_show(),
dpctl_ct_bkts()).  The texts come from ovsct.format and the engine's C
formatter."""

from __future__ import annotations

from ovsct import format as fmt
from ovsct.commands.dpctl import (DATAPATH_ALIASES, Dpctl, dpctl,
                                  engine_call, require_dp)
from ovsct.commands.flush import (ParseError, is_filter_arg,
                                  parse_dump_filter)
from ovsct.commands.table import CONN, CommandError, Result, too_many_args
from ovsct.numbers import scan_prefixed
from ovsct.types import FlushFilter

# What dpctl prints when the engine fails a walk of the table (OVS: when
# ct_dpif_dump_start() fails).
DUMP_START_FAILED = "starting conntrack dump"
# Bytes of dump text or JSON per piece when the dump is streamed
# (Context.stream_dump, the daemon).
STREAM_PIECE = 32 << 10


# OVS 3.1's maxima for the params (options included) of the two commands
# below; our filter arguments may take more (see _filter()).
OVS31_DUMP_MAX_ARGS = 4
OVS31_STATS_MAX_ARGS = 3
FILTER_USAGE = ("[mark=X[/M]] [labels=Y[/N]] [state=S[,S...]] "
                "[ct-orig-tuple [ct-reply-tuple]]")


def _filter(run: Dpctl, argv: list[str], name: str, max_args: int
            ) -> tuple[FlushFilter | None, list[str]]:
    """The filter arguments of a dump (an extension of ours: the
    flush-conntrack match plus CIDR prefixes and state=), if any; returns
    (filter or None, argv without them).  Without any, the command is
    OVS's, arity included."""
    if not any(is_filter_arg(a) for a in argv[1:]):
        if run.n_params > max_args:
            raise CommandError(too_many_args("dpctl/" + name, max_args))
        return None, argv
    keep, args = argv[:1], argv[1:]
    if args and args[0] in DATAPATH_ALIASES:
        keep, args = argv[:2], argv[2:]
    ds: list[str] = []
    try:
        return parse_dump_filter(args, ds), keep
    except ParseError:
        run.fail("".join(ds))


@dpctl("dump-conntrack", "[-m] [-s] [dp] [zone=N]", 0, 10, group=CONN,
       read_only=True, summary="Print the connections, one line each (-m "
       "verbose, -s timeouts); filters as ct-stats-show's.")
def dump_conntrack(run: Dpctl, argv: list[str]) -> Result:
    engine = run.engine
    verbose = run.verbosity > 0
    stats = run.print_statistics
    flt, argv = _filter(run, argv, "dump-conntrack", OVS31_DUMP_MAX_ARGS)
    if flt is not None:
        # The engine applies the filter while it walks the table.
        selection: FlushFilter | int | None = flt
    else:
        selection = None
        if len(argv) > 1:
            selection = scan_prefixed(argv[-1], "zone=", 16)
            if selection is not None:
                argv = argv[:-1]
    require_dp(run, argv, 2)
    if run.ctx.stream_dump:
        # Small pieces, each made in C when the client has taken the
        # previous one: a client that does not read pins one piece, not
        # the dump.
        return Result(
            lambda: engine.dump_text_chunks(selection, verbose=verbose,
                                            stats=stats, size=STREAM_PIECE),
            lambda: engine.dump_json_chunks(selection, size=STREAM_PIECE))
    return Result(lambda: engine.dump_text(selection, verbose=verbose,
                                           stats=stats),
                  lambda: engine.dump_json(selection))


@dpctl("ct-stats-show", "[dp] [zone=N]", 0, 9, group=CONN, read_only=True,
       summary="Count the connections per protocol (-m: per TCP state).  "
       "Both also take " + FILTER_USAGE + " in any order (the usage shown "
       "is OVS's).")
def ct_stats_show(run: Dpctl, argv: list[str]) -> Result:
    verbose = run.verbosity > 0
    flt, argv = _filter(run, argv, "ct-stats-show", OVS31_STATS_MAX_ARGS)
    if flt is not None:
        require_dp(run, argv, 2)
        stats = engine_call(run, DUMP_START_FAILED,
                            lambda: run.engine.stats(flt))
        return Result(fmt.stats_text(stats, verbose),
                      fmt.stats_json(stats, flt.zone))
    zone = None
    while len(argv) > 1:
        last = argv[-1]
        value = scan_prefixed(last, "zone=", 16)
        if last.startswith("verbose"):
            verbose = True
        elif value is not None:
            zone = value
        else:
            break
        argv = argv[:-1]
    require_dp(run, argv, 2)
    stats = engine_call(run, DUMP_START_FAILED,
                        lambda: run.engine.stats(zone))
    return Result(fmt.stats_text(stats, verbose), fmt.stats_json(stats, zone))


@dpctl("ct-bkts", "[dp] [gt=N]", 0, 2, group=CONN, read_only=True,
       summary="Show how the connections spread over the table's buckets.")
def ct_bkts(run: Dpctl, argv: list[str]) -> Result:
    gt = 0
    if len(argv) > 1:
        # 32 bits, not OVS's 16: our buckets are real and may hold more
        # (ovsct(8), "Differences from Open vSwitch", item 6).
        value = scan_prefixed(argv[-1], "gt=", 32)
        if value is not None:
            gt = value
            argv = argv[:-1]
    require_dp(run, argv, 2)
    counts = engine_call(run, DUMP_START_FAILED, run.engine.bucket_counts)
    return Result(fmt.bkts_text(counts, gt), fmt.bkts_json(counts, gt))
