"""Bad input gets a clear error, never a crash: random argument lists for
every command of the table, and random ct() action texts.

Seeded pseudo-random inputs built from the tokens the parsers know (so
that they get past the first check and deep into the grammar) mixed with
junk.  A command may only return a Result or raise CommandError; the
action parser may only return an Action or raise ValueError.  The engine
behind the commands is real and must stay consistent afterwards.
"""

import random

from enginecheck import require_engine

require_engine()

from ovsct.action import parse_ct_action  # noqa: E402
from ovsct.commands import (  # noqa: E402
    COMMANDS, CommandError, Context, Result, dispatch)
from ovsct.engine import Conntrack  # noqa: E402

TOKENS = [
    "", "-m", "-s", "-ms", "--more", "--bogus", "-x", "-5", "zone=", "zone=5",
    "zone=70000", "zone=-1", "zone=abc", "zone=5,7", "zone=1,limit=3",
    "zone=1,limit=", "limit=2", "default", "default=10", "default=-1",
    "gt=1", "gt=x", "mark=1/0xff", "mark=0/0", "mark=0x", "labels=0x1/0x1",
    "labels=1/", "ct_nw_src=10.0.0.1", "ct_nw_dst=10.0.0.2,ct_nw_proto=17",
    "ct_nw_src=10.0.0.1,ct_nw_dst=10.0.0.2,ct_nw_proto=17,ct_tp_src=1,"
    "ct_tp_dst=2", "ct_ipv6_src=fc00::1", "ct_nw_proto=1,icmp_type=8,"
    "icmp_code=0,icmp_id=5", "icmp_type=8", "ct_tp_src=1", "ct_nw_proto=300",
    "ct_nw_src=1.2.3", "foo=1", "ct_nw_proto", "ovsct@ovsct",
    "netdev@ovs-netdev", "bogus@dp", "verbose", "10", "0", "0x10", "10abc",
    "4294967296", "udp_first=7", "tcp_syn_sent=x", "--may-exist",
    "--if-exists", "ct(commit)", "\x00", "é", "zone=5 zone=6", "'", "=",
    ",", ":", "a:b:c", "ct_nw_src=10.0.0.1:ct_nw_proto=6",
]


def _arg(rng):
    if rng.random() < 0.15:
        alphabet = "az09=,:/-_.()@ \t"
        return "".join(rng.choice(alphabet)
                       for _ in range(rng.randrange(12)))
    return rng.choice(TOKENS)


def test_every_command_survives_random_arguments():
    rng = random.Random(20261126)
    with Conntrack(manual_clock=True, sweeper=False) as engine:
        ctx = Context(engine=engine, program="ovsctd")
        # Commands that replay or write files are skipped: their
        # arguments name files (ct/restore only reads, and stays).
        names = [c.name for c in COMMANDS
                 if c.name not in ("ct/replay", "ct/save")]
        for _ in range(4000):
            name = rng.choice(names)
            args = [_arg(rng) for _ in range(rng.randrange(6))]
            try:
                result = dispatch(ctx, name, args)
            except CommandError as e:
                assert isinstance(e.text, str) and e.text
                continue
            assert isinstance(result, Result)
            assert isinstance(result.text, str)
            result.data        # The JSON rendering must not fail either.
        engine.maxconns = 3000000
        assert engine.nconns() == len(engine.dump())


def test_action_parser_survives_random_text():
    rng = random.Random(7)
    parts = ["ct(", ")", "commit", "force", "zone=", "5", "70000", ",",
             "exec(", "set_field:", "->ct_mark", "->ct_label", "0x", "/",
             "nat", "nat(", "src=", "dst=", "10.0.0.1", "-", ":", "1000",
             "[fc00::1]", "persistent", "random", "hash", "table=1", "alg=ftp",
             "(", "junk", " "]
    for _ in range(5000):
        text = "".join(rng.choice(parts) for _ in range(rng.randrange(12)))
        try:
            parse_ct_action(text)
        except ValueError as e:
            assert str(e)
