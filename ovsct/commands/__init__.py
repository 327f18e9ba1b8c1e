"""THE command table and its handlers.

Every front end (the ovsctd unixctl daemon, the offline `ovsct` CLI, help
and the man pages) uses COMMANDS.  The package is split by job:

    table.py     Command, Result, CommandError, Context, the @command
                 decorator that declares a row, dispatch() with unixctl's
                 own checks
    dpctl.py     dpctl's option loop, [dp] handling, engine errors, the
                 @dpctl decorator; dpctl/list-commands
    show.py      dump-conntrack, ct-stats-show, ct-bkts
    exp.py       dump-conntrack-exp (ALG expectations)
    flush.py     flush-conntrack and its grammar (-> one FlushFilter)
    settings.py  maxconns, nconns, TCP sequence checking, sweep interval
    ipf.py       IP fragment reassembly settings and status
    limits.py    zone limits
    tp.py        ct/*-zone-tp timeout policies
    persist.py   ct/save, ct/restore
    live.py      ct/*-interface(s): the live datapath
    replay.py    ct/replay
    coverage.py  ct/coverage-show (counters as coverage/show) and the
                 NAT exhaustion warning
    events.py    ct/events-read (connection events, long poll)

Each row is declared once, on its handler; each error text is written in
the handler that reports it.  The list below only orders the rows: dpctl/*
in OVS's all_commands order (lib/dpctl.c), then ct/*.

Neighbours: format.py (all text and JSON shapes), action.py (ct() syntax,
OVS's key=value splitter), numbers.py (strict numbers), types.py (the
FlushFilter a flush builds), engine.py (Conntrack, loaded lazily so that
the table can be imported without the C extension).
"""

from __future__ import annotations

from ovsct.commands import (coverage, dpctl, events, exp, flush, ipf,
                            limits, live, persist, replay, settings, show,
                            tp)
from ovsct.commands.dpctl import DATAPATH, DATAPATH_ALIASES
from ovsct.commands.table import (UNBOUNDED, Command, CommandError, Context,
                                  Result, build, dispatch, find_command,
                                  index)

__all__ = [
    "Command", "COMMANDS", "Context", "Result", "CommandError", "DATAPATH",
    "DATAPATH_ALIASES", "UNBOUNDED", "find_command", "dispatch",
]

COMMANDS: list[Command] = build([
    show.dump_conntrack,
    exp.dump_conntrack_exp,
    flush.flush_conntrack,
    show.ct_stats_show,
    show.ct_bkts,
    settings.ct_set_maxconns,
    settings.ct_get_maxconns,
    settings.ct_get_nconns,
    settings.ct_enable_tcp_seq_chk,
    settings.ct_disable_tcp_seq_chk,
    settings.ct_get_tcp_seq_chk,
    limits.ct_set_limits,
    limits.ct_del_limits,
    limits.ct_get_limits,
    settings.ct_get_sweep_interval,
    settings.ct_set_sweep_interval,
    ipf.ipf_set_enabled,
    ipf.ipf_set_disabled,
    ipf.ipf_set_min_frag,
    ipf.ipf_set_max_nfrags,
    ipf.ipf_get_status,
    dpctl.list_commands,
    tp.add_zone_tp,
    tp.del_zone_tp,
    tp.list_zone_tp,
    persist.save,
    persist.restore,
    replay.replay,
    coverage.coverage_show,
    events.events_read,
    live.add_interface,
    live.del_interface,
    live.show_interfaces,
])
index(COMMANDS)
