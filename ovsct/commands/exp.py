"""dpctl/dump-conntrack-exp: the ALG expectations (ct(alg=ftp|tftp)).

OVS (lib/dpctl.c dpctl_dump_conntrack_exp(), newer than 3.1) prints one
line per expectation, ct_dpif_format_exp_entry():

    PROTO,orig=(TUPLE)[,zone=N][,mark=M][,labels=0xL],parent=(TUPLE)

where the expected connection's source port, unknown, is 0.  The lines
are formatted by the engine (ext/format.c ovsct_format_exp()).
Neighbours: show.py (dump-conntrack), dpctl.py (the option loop, [dp]).
"""

from __future__ import annotations

from ovsct.commands.dpctl import Dpctl, dpctl, engine_call, require_dp
from ovsct.commands.table import CONN, Result
from ovsct.numbers import scan_prefixed

EXP_START_FAILED = "starting conntrack expectations dump"


@dpctl("dump-conntrack-exp", "[dp] [zone=N]", 0, 2, group=CONN,
       read_only=True, summary="Print the ALG expectations (data "
       "connections FTP and TFTP control connections announced).")
def dump_conntrack_exp(run: Dpctl, argv: list[str]) -> Result:
    zone = None
    if len(argv) > 1:
        zone = scan_prefixed(argv[-1], "zone=", 16)
        if zone is not None:
            argv = argv[:-1]
    require_dp(run, argv, 2)
    lines = engine_call(run, EXP_START_FAILED,
                        lambda: run.engine.dump_exp(zone))
    return Result("".join(line + "\n" for line in sorted(lines)),
                  [{"line": line} for line in sorted(lines)])
