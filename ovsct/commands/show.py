"""dpctl/dump-conntrack, dpctl/ct-stats-show and dpctl/ct-bkts
(lib/dpctl.c dpctl_dump_conntrack(), dpctl_ct_stats_show(),
dpctl_ct_bkts()).  The texts come from ovsct.format and the engine's C
formatter."""

from __future__ import annotations

from ovsct import format as fmt
from ovsct.commands.dpctl import Dpctl, dpctl, engine_call, require_dp
from ovsct.commands.table import CONN, Result
from ovsct.numbers import scan_prefixed

# What dpctl prints when the engine fails a walk of the table (OVS: when
# ct_dpif_dump_start() fails).
DUMP_START_FAILED = "starting conntrack dump"
# Bytes of dump text, and entries of the JSON dump (about 350 bytes of
# JSON each), per piece when the dump is streamed (Context.stream_dump,
# the daemon).
STREAM_PIECE = 32 << 10
STREAM_ENTRIES = 64


@dpctl("dump-conntrack", "[-m] [-s] [dp] [zone=N]", 0, 4, group=CONN,
       read_only=True, summary="Print the connections, one line each "
       "(-m verbose, -s timeouts).")
def dump_conntrack(run: Dpctl, argv: list[str]) -> Result:
    zone = None
    if len(argv) > 1:
        zone = scan_prefixed(argv[-1], "zone=", 16)
        if zone is not None:
            argv = argv[:-1]
    require_dp(run, argv, 2)
    engine = run.engine
    verbose = run.verbosity > 0
    stats = run.print_statistics
    if run.ctx.stream_dump:
        # Small pieces, each made when the client has taken the previous
        # one: a client that does not read pins one piece, not the dump.
        return Result(
            lambda: engine.dump_text_chunks(zone, verbose=verbose,
                                            stats=stats, size=STREAM_PIECE),
            lambda: fmt.EntriesJsonStream(
                engine.dump_batches(zone, size=STREAM_ENTRIES)))
    return Result(lambda: engine.dump_text(zone, verbose=verbose,
                                           stats=stats),
                  lambda: fmt.entries_json(engine.dump(zone)))


@dpctl("ct-stats-show", "[dp] [zone=N]", 0, 3, group=CONN, read_only=True,
       summary="Count the connections per protocol (-m: per TCP state).")
def ct_stats_show(run: Dpctl, argv: list[str]) -> Result:
    verbose = run.verbosity > 0
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
        value = scan_prefixed(argv[-1], "gt=", 16)
        if value is not None:
            gt = value
            argv = argv[:-1]
    require_dp(run, argv, 2)
    counts = engine_call(run, DUMP_START_FAILED, run.engine.bucket_counts)
    return Result(fmt.bkts_text(counts, gt), fmt.bkts_json(counts, gt))
