"""ovsct.commands: the command table, dpctl argument handling and error
texts, checked against the golden outputs of a real OVS 3.1
(tests/data/ovs, with "ovs-vswitchd:" -> "ovsctd:" and
"dummy@ovs-dummy" -> "ovsct@ovsct"), and the handlers on a real engine.

Where OVS 3.1 and the upstream grammar that ovsct follows differ
(flush-conntrack takes mark=/labels= and up to 6 params and skips a [dp]
before zone=; ct-del-limits takes "default"), the test says so.  Tests of
argument errors run with an engine stand-in that fails if touched: they
also check that nothing reaches the engine before the arguments parse.
"""

import shlex
import socket
import struct
from pathlib import Path

import pytest

from ovsct.commands import (
    COMMANDS, UNBOUNDED, CommandError, Context, Result, dispatch,
    find_command,
)

DATA = Path(__file__).parent / "data"
OUT = DATA / "ovs"


# ---------------------------------------------------------------------------
# Golden files

def _golden_index() -> dict[int, tuple[str, int, list[str]]]:
    """INDEX.tsv: seq -> (file stem, exit status, argv after ovs-appctl)."""
    index = {}
    for line in (OUT / "INDEX.tsv").read_text().splitlines()[1:]:
        seq, stem, status, command = line.split("\t", 3)
        index[int(seq)] = (stem, int(status), shlex.split(command)[1:])
    return index


INDEX = _golden_index()


def ours(text: str) -> str:
    return (text.replace("ovs-vswitchd:", "ovsctd:")
            .replace("dummy@ovs-dummy", "ovsct@ovsct"))


def golden_case(seq: int) -> tuple[str, list[str], str, str]:
    """(method, params, stdout, error body) of golden command 'seq', in
    our names; the error body lacks ovs-appctl's own last line (if any)
    and the final newline, like CommandError.text."""
    stem, _, argv = INDEX[seq]
    method, params = argv[0], [ours(a) for a in argv[1:]]
    stdout = ours((OUT / f"{stem}.txt").read_text())
    err_path = OUT / f"{stem}.stderr"
    error = ""
    if err_path.exists():
        lines = ours(err_path.read_text()).splitlines()
        if lines[-1].startswith("ovs-appctl: "):
            lines.pop()
        error = "\n".join(lines)
    return method, params, stdout, error


class NoEngine:
    """Engine stand-in for argument errors: any use is a test failure."""

    def __getattr__(self, name):
        pytest.fail(f"the engine was used ({name}) before the arguments "
                    f"were checked")


def run(ctx: Context, method: str, *params: str) -> Result:
    return dispatch(ctx, method, list(params))


def error_of(ctx: Context, method: str, *params: str) -> str:
    with pytest.raises(CommandError) as e:
        dispatch(ctx, method, list(params))
    return e.value.text


@pytest.fixture
def noengine():
    return Context(NoEngine())


# ---------------------------------------------------------------------------
# The table

def test_table_shape():
    names = [c.name for c in COMMANDS]
    assert len(names) == len(set(names))
    for c in COMMANDS:
        assert 0 <= c.min_args <= c.max_args
        assert c.name.startswith(("dpctl/", "ct/"))
        assert c.summary and c.group
        assert find_command(c.name) is c
    assert find_command("nope") is None
    assert [c.name for c in COMMANDS if c.deferred] == ["ct/replay"]
    # version, list-commands, exit and vlog/* are the daemon's.
    assert not {"version", "list-commands", "exit"} & set(names)


def test_usage_and_counts_match_ovs():
    """Every dpctl command OVS 3.1 lists has our usage, except the two
    whose grammar grew upstream; param counts as in OVS's lib/dpctl.c
    dpctl_commands[]."""
    golden = {}
    for line in (OUT / "002_list-commands.txt").read_text().splitlines()[1:]:
        name, _, usage = line[2:].partition(" ")
        golden[name] = line
    upstream = {
        "dpctl/flush-conntrack": "[dp] [zone=N] [mark=X[/M]] "
        "[labels=Y[/N]] [ct-orig-tuple [ct-reply-tuple]]",
        "dpctl/ct-del-limits": "[dp] [default] [zone=N1[,N2]...]",
    }
    for c in COMMANDS:
        if not c.name.startswith("dpctl/"):
            continue
        line = "  %-23s %s" % (c.name, c.usage)
        if c.name in upstream:
            assert c.usage == upstream[c.name]
        elif c.name in golden:
            assert line == golden[c.name]
        else:       # Added after 3.1.
            assert c.name in ("dpctl/ct-get-sweep-interval",
                              "dpctl/ct-set-sweep-interval",
                              "dpctl/dump-conntrack-exp")
    counts = {c.name[6:]: (c.min_args, c.max_args) for c in COMMANDS
              if c.name.startswith("dpctl/")}
    assert counts == {
        # dump-conntrack and ct-stats-show take filter arguments (issue
        # 13); without any, their handlers apply OVS 3.1's 4 and 3.
        "dump-conntrack": (0, 10), "flush-conntrack": (0, 6),
        "dump-conntrack-exp": (0, 2),
        "ct-stats-show": (0, 9), "ct-bkts": (0, 2),
        "ct-set-maxconns": (1, 2), "ct-get-maxconns": (0, 1),
        "ct-get-nconns": (0, 1), "ct-enable-tcp-seq-chk": (0, 1),
        "ct-disable-tcp-seq-chk": (0, 1), "ct-get-tcp-seq-chk": (0, 1),
        "ct-set-limits": (1, UNBOUNDED), "ct-del-limits": (1, 3),
        "ct-get-limits": (0, 2), "ct-get-sweep-interval": (0, 1),
        "ct-set-sweep-interval": (1, 2), "ipf-set-enabled": (1, 2),
        "ipf-set-disabled": (1, 2), "ipf-set-min-frag": (2, 3),
        "ipf-set-max-nfrags": (1, 2), "ipf-get-status": (0, 1),
        "list-commands": (0, UNBOUNDED),
    }


@pytest.mark.parametrize("seq", [104, 105, 109, 115, 118, 119])
def test_unixctl_checks_golden(noengine, seq):
    method, params, _, error = golden_case(seq)
    assert error_of(noengine, method, *params) == error


def test_unixctl_checks_flush_upstream(noengine):
    # 094: OVS 3.1 allows 4 params; upstream (and ovsct) allow 6 for
    # mark= and labels=.  Without them, "a b c d e" gets 3.1's arity
    # error (issue 13); with them, the tuple parser speaks.
    assert error_of(noengine, "dpctl/flush-conntrack", *"abcdefg") == \
        '"dpctl/flush-conntrack" command takes at most 6 arguments'
    assert error_of(Context(NoEngine()), "dpctl/flush-conntrack",
                    *"abcde") == \
        '"dpctl/flush-conntrack" command takes at most 4 arguments'
    assert error_of(Context(NoEngine()), "dpctl/flush-conntrack",
                    "mark=1", *"abcd") == \
        "ovsctd: field a missing value (Invalid argument)"


def test_list_commands(noengine):
    text = run(noengine, "dpctl/list-commands").text
    lines = text.splitlines()
    assert lines[0] == "The available commands are:"
    assert lines[1] == "  dpctl/dump-conntrack          [-m] [-s] [dp] " \
        "[zone=N]"
    assert lines[-1] == "  dpctl/list-commands           "
    assert len(lines) == 1 + sum(c.name.startswith("dpctl/")
                                 for c in COMMANDS)
    # It goes through the dpctl option loop like every dpctl command.
    assert error_of(noengine, "dpctl/list-commands", "-x") == \
        "Unrecognized option -x"


# ---------------------------------------------------------------------------
# Argument errors against the golden outputs (no engine needed)

@pytest.mark.parametrize("seq", [
    90, 92, 93, 96, 97, 98, 99, 100, 101, 102, 103, 106, 107, 108, 110, 111,
    112, 114, 116,
])
def test_argument_errors_golden(noengine, seq):
    method, params, _, error = golden_case(seq)
    assert error_of(noengine, method, *params) == error


def test_program_name():
    ctx = Context(NoEngine(), program="ovs-vswitchd")
    assert error_of(ctx, "dpctl/flush-conntrack", "zone=abc") == \
        "ovs-vswitchd: failed to parse zone (Invalid argument)"


@pytest.mark.parametrize("params, error", [
    # man/ovsct-commands.man, "Differences from Open vSwitch" 5: strict
    # numbers (OVS wraps or truncates).
    (["dpctl/flush-conntrack", "zone=70000"], "failed to parse zone"),
    (["dpctl/flush-conntrack", "zone=5x"], "failed to parse zone"),
    (["dpctl/flush-conntrack", "zone="], "failed to parse zone"),
    (["dpctl/dump-conntrack", "zone=70000"], "datapath not found"),
    (["dpctl/dump-conntrack", "zone=-1"], "datapath not found"),
    (["dpctl/ct-set-maxconns", "-1"], "Unrecognized option -1"),
    (["dpctl/ct-stats-show", "zone=70000"], "datapath not found"),
    # gt= is 32 bits (ovsct(8) differences, item 6).
    (["dpctl/ct-bkts", "gt=4294967296"], "datapath not found"),
    (["dpctl/ct-set-maxconns", "0x10"], "maxconns missing or malformed"),
    (["dpctl/ct-set-maxconns", "10abc"], "maxconns missing or malformed"),
    (["dpctl/ct-set-maxconns", "4294967296"],
     "maxconns missing or malformed"),
    (["dpctl/ct-set-maxconns", " 10"], "maxconns missing or malformed"),
    (["dpctl/ct-set-sweep-interval", "0"], "invalid sweep value"),
    (["dpctl/ct-set-sweep-interval", "5s"], "invalid sweep value"),
    (["dpctl/ct-set-limits", "default=-1"], "invalid default limit"),
    (["dpctl/ct-set-limits", "default=4294967296"], "invalid default limit"),
    (["dpctl/ct-set-limits", "default="], "invalid default limit"),
    (["dpctl/ct-set-limits", "zone=1,limit=4294967296"],
     "failed to parse field limit"),
    (["dpctl/ct-set-limits", "zone=0x10000,limit=1"],
     "failed to parse field zone"),
    (["dpctl/ct-get-limits", "zone=1,70000"], "invalid zone"),
    (["dpctl/ct-get-limits", "zone=1,-2"], "invalid zone"),
    (["dpctl/ct-del-limits", "zone=0x5"], "invalid zone"),
])
def test_strict_numbers(noengine, params, error):
    text = error_of(noengine, *params)
    if not error.startswith("Unrecognized"):
        error = f"ovsctd: {error} (Invalid argument)"
    assert text == error


@pytest.mark.parametrize("params, error", [
    (["-x"], "Unrecognized option -x"),
    (["-mx"], "Unrecognized option -x"),
    (["-m", "-sq"], "Unrecognized option -q"),
    (["--bogus"], "Unrecognized option --bogus"),
    (["--"], "Unrecognized option --"),
    (["--more=1"], "Unrecognized option --more=1"),
])
def test_unknown_options(noengine, params, error):
    assert error_of(noengine, "dpctl/dump-conntrack", *params) == error


@pytest.mark.parametrize("method, params", [
    # At the internal maximum, a non-datapath argv[1] is "not found".
    ("dpctl/dump-conntrack", ["bogus"]),
    ("dpctl/dump-conntrack", ["zone=5", "zone=7"]),
    ("dpctl/dump-conntrack", ["-m", "-s", "ovs", "zone=5"]),
    ("dpctl/ct-stats-show", ["bogus"]),
    ("dpctl/ct-stats-show", ["bogus", "verbose", "zone=5"]),
    ("dpctl/ct-stats-show", ["zone=abc"]),
    ("dpctl/ct-bkts", ["bogus"]),
    ("dpctl/ct-set-maxconns", ["bad-dp", "10"]),
    ("dpctl/ct-set-sweep-interval", ["bad-dp", "10"]),
    ("dpctl/ct-get-maxconns", ["bogus"]),
    ("dpctl/ct-get-nconns", ["netdev@other"]),
    ("dpctl/ct-get-tcp-seq-chk", ["ovsct"]),
    ("dpctl/ct-get-sweep-interval", ["dummy@ovsct"]),  # system@: kernel
    ("dpctl/ct-get-limits", ["zone=1", "zone=2"]),
    ("dpctl/ct-del-limits", ["default", "zone=1", "zone=2"]),
])
def test_datapath_not_found(noengine, method, params):
    assert error_of(noengine, method, *params) == \
        "ovsctd: datapath not found (Invalid argument)"


def test_flush_four_args_quirk(noengine):
    # OVS lib/dpctl.c dpctl_flush_conntrack(): exactly 4 non-datapath
    # arguments hit the rule.
    assert error_of(noengine, "dpctl/flush-conntrack", "zone=1", "mark=1",
                    "labels=1", "ct_nw_src=10.1.1.1") == (
        "ovsctd: datapath not found (Invalid argument)\n"
        "ovsctd: Cannot open dpif (Invalid argument)")


@pytest.mark.parametrize("params, error", [
    (["mark=abc"], "failed to parse mark"),
    (["mark=1/zz"], "failed to parse mark"),
    (["mark=1x"], "failed to parse mark"),
    (["mark=0x100000000"], "failed to parse mark"),
    (["labels=0x" + "1" * 33], "failed to parse labels"),
    (["labels=18446744073709551616"], "failed to parse labels"),
    (["zone=1", "labels=1", "mark=1"],
     "invalid conntrack tuple field: mark"),
    (["mark=1", "zone=1"], "invalid conntrack tuple field: zone"),
    (["zone=1", "mark=1", "ct_nw_src=1.1.1.1", "", "x"],
     "invalid arguments"),
    (["ct_nw_src=10.0.0.1,ct_nw_src=10.0.0.2"],
     "ct_nw_src is set multiple times"),
    (["ct_nw_src=10.0.0.1", "ct_ipv6_dst=fc00::1"],
     "the L3 protocol does not match fc00::1"),
    (["ct_nw_dst=10.0.0.1,ct_tp_dst=70000,ct_nw_proto=6"],
     "failed to parse field ct_tp_dst"),
    (["ct_nw_proto=256"], "failed to parse field ct_nw_proto"),
    (["ct_nw_proto=1,icmp_id=65536"], "failed to parse field icmp_id"),
    (["ct_nw_proto=1,icmp_type=0x100"], "failed to parse field icmp_type"),
    (["ct_ipv6_src=10.0.0.1"], "failed to parse field ct_ipv6_src"),
    (["ct_ipv6_src=fe80::1%eth0"], "failed to parse field ct_ipv6_src"),
    (["ct_nw_dst=010.0.0.1"], "failed to parse field ct_nw_dst"),
    (["icmp_type=8,ct_nw_proto=1"], "invalid L4 fields"),
    (["ct_nw_proto=17", "icmp_code=0"], "invalid L4 fields"),
    (["ct_tp_src=1"], "port is set without protocol"),
    (["ct_nw_src="], "field ct_nw_src missing value"),
    (["ct_nw_proto=6,ct_nw_proto=17,foo=1"],
     "ct_nw_proto is set multiple timesinvalid conntrack tuple field: foo"),
])
def test_flush_parse_errors(noengine, params, error):
    assert error_of(noengine, "dpctl/flush-conntrack", *params) == \
        f"ovsctd: {error} (Invalid argument)"


@pytest.mark.parametrize("params, error", [
    (["ovsct@ovsct"], "too few arguments"),
    (["netdev@ovs-netdev"], "too few arguments"),
    (["zone=5,limit=1", "default=7"], "invalid zone limit field: default"),
    (["zone=5,limit=1,foo=2"], "invalid zone limit field: foo"),
    (["limit=5"], "failed to parse zone limit"),
    (["zone=5,limit="], "field limit missing value"),
])
def test_set_limits_errors(noengine, params, error):
    assert error_of(noengine, "dpctl/ct-set-limits", *params) == \
        f"ovsctd: {error} (Invalid argument)"


@pytest.mark.parametrize("method, params, error", [
    ("dpctl/ct-del-limits", ["ovsct@ovsct"], "too few arguments"),
    ("dpctl/ct-del-limits", ["foo"], "invalid argument foo"),
    ("dpctl/ct-del-limits", ["default", "zone5"], "invalid argument zone5"),
    ("dpctl/ct-get-limits", ["zones=1"], "invalid argument zones=1"),
    ("dpctl/ct-get-limits", ["ovsct@ovsct", "zone=a"], "invalid zone"),
])
def test_limits_zone_list_errors(noengine, method, params, error):
    assert error_of(noengine, method, *params) == \
        f"ovsctd: {error} (Invalid argument)"


def test_maxconns_without_value(noengine):
    # After the options and the datapath, argv[argc - 1] is what is left.
    assert error_of(noengine, "dpctl/ct-set-maxconns", "-m") == \
        "ovsctd: maxconns missing or malformed (Invalid argument)"
    assert error_of(noengine, "dpctl/ct-set-maxconns", "ovsct@ovsct") == \
        "ovsctd: maxconns missing or malformed (Invalid argument)"


# ---------------------------------------------------------------------------
# Frames for the engine-backed tests (every checksum correct).

def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _l4(proto: int, src: str, dst: str, l4: bytes, csum_at: int) -> bytes:
    """Ethernet + IPv4/IPv6 around 'l4', with the L4 checksum (at offset
    'csum_at' of l4) filled in over the pseudo-header."""
    v6 = ":" in src
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    s, d = socket.inet_pton(fam, src), socket.inet_pton(fam, dst)
    if csum_at >= 0:
        pseudo = s + d + (struct.pack("!IxxxB", len(l4), proto) if v6
                          else struct.pack("!xBH", proto, len(l4)))
        c = _csum(pseudo + l4)
        l4 = l4[:csum_at] + struct.pack("!H", c) + l4[csum_at + 2:]
    if v6:
        ip = struct.pack("!IHBB", 6 << 28, len(l4), proto, 64) + s + d
        eth_type = 0x86DD
    else:
        ip = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(l4), 0, 0, 64,
                         proto, 0) + s + d
        ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
        eth_type = 0x0800
    return (b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01"
            + struct.pack("!H", eth_type) + ip + l4)


def udp(src: str, dst: str, sport: int, dport: int) -> bytes:
    return _l4(17, src, dst, struct.pack("!HHHH", sport, dport, 8, 0), 6)


def tcp_syn(src: str, dst: str, sport: int, dport: int) -> bytes:
    hdr = struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, 5 << 4, 0x02,
                      65535, 0, 0)
    return _l4(6, src, dst, hdr, 16)


def echo(src: str, dst: str, ident: int, reply: bool = False) -> bytes:
    v6 = ":" in src
    kind = (129 if reply else 128) if v6 else (0 if reply else 8)
    msg = struct.pack("!BBHHH", kind, 0, 0, ident, 1)
    if v6:
        return _l4(58, src, dst, msg, 2)
    msg = msg[:2] + struct.pack("!H", _csum(msg)) + msg[4:]
    return _l4(1, src, dst, msg, -1)


NEW_TRK = 0x21


@pytest.fixture
def ctx():
    from ovsct.engine import Conntrack
    ct = Conntrack(buckets=1, manual_clock=True, start_ms=1000,
                   sweeper=False)
    yield Context(ct)
    ct.close()


def commit(ctx: Context, frames: list[bytes], action: str) -> None:
    from ovsct.action import parse_ct_action
    states = ctx.engine.execute_frames(frames, parse_ct_action(action))
    assert set(states) == {NEW_TRK}, states.hex()


def lines(text: str) -> list[str]:
    assert text == "" or text.endswith("\n")
    return text.splitlines()


# ---------------------------------------------------------------------------
# Engine-backed: defaults and settings against the golden outputs

@pytest.mark.parametrize("seq", [6, 7, 8, 9, 10, 11, 12])
def test_empty_engine_golden(ctx, seq):
    method, params, stdout, _ = golden_case(seq)
    # The unixctl layer adds "\n" to a non-empty body without one.
    assert run(ctx, method, *params).text == stdout


def test_settings_golden(ctx):
    for seq in [58, 59, 61, 63, 64, 65, 66, 67, 68, 69]:
        method, params, stdout, _ = golden_case(seq)
        text = run(ctx, method, *params).text
        assert text + ("" if text.endswith("\n") else "\n") == stdout
    # Bodies exactly as OVS's handlers produce them.
    assert run(ctx, "dpctl/ct-set-maxconns", "7").text == \
        "setting maxconns successful"
    assert run(ctx, "dpctl/ct-get-maxconns").data == {"maxconns": 7}
    assert run(ctx, "dpctl/ct-enable-tcp-seq-chk").text == \
        "enabling TCP sequence checking successful"
    assert run(ctx, "dpctl/ct-get-tcp-seq-chk").data == {"tcp_seq_chk": True}
    assert run(ctx, "dpctl/ct-set-sweep-interval", "5000").text == \
        "setting sweep interval successful\n"
    assert run(ctx, "dpctl/ct-get-sweep-interval").text == "5000"
    assert ctx.engine.sweep_interval == 5000


def test_datapath_argument(ctx):
    for dp in ("ovsct@ovsct", "netdev@ovs-netdev"):
        assert run(ctx, "dpctl/ct-set-maxconns", dp, "12").data == \
            {"maxconns": 12}
        assert run(ctx, "dpctl/ct-get-nconns", dp).text == "0\n"
        assert run(ctx, "dpctl/ct-get-limits", dp, "zone=5").text == \
            "default limit=0\nzone=5,limit=0,count=0\n"
    # Below the internal maximum a stray argument is ignored (OVS).
    assert run(ctx, "dpctl/ct-enable-tcp-seq-chk", "bogus").text == \
        "enabling TCP sequence checking successful"
    assert run(ctx, "dpctl/dump-conntrack", "zone=7", "-m").text == ""
    assert run(ctx, "dpctl/ct-del-limits", "zone=1", "zone=2").data == \
        {"default": False, "zones": [1]}


def test_limits_sequence_golden(ctx):
    # 045/046/048 depend on 3.1's traffic; the rest are counts of 0.
    for seq in [38, 39, 40, 41, 42, 43, 44, 47, 49, 50, 51, 52, 54, 55]:
        method, params, stdout, _ = golden_case(seq)
        assert run(ctx, method, *params).text == stdout, seq
    assert run(ctx, "dpctl/ct-get-limits", "zone=").text == \
        "default limit=4294967295\n"
    assert run(ctx, "dpctl/ct-get-limits", "zone=9,,5").data == {
        "default": 4294967295,
        "zones": [{"zone": 9, "limit": 4294967295, "count": 0},
                  {"zone": 5, "limit": 4294967295, "count": 0}]}
    assert run(ctx, "dpctl/ct-del-limits", "zone=5,7").text == ""
    assert run(ctx, "dpctl/ct-del-limits", "default").text == ""
    assert run(ctx, "dpctl/ct-get-limits").text == "default limit=0\n"
    # Deleting a zone without a limit is a silent success.
    assert run(ctx, "dpctl/ct-del-limits", "zone=99").text == ""


# ---------------------------------------------------------------------------
# Engine-backed: connections

UDP_Z5 = ("udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=1,dport=2),reply=("
          "src=10.1.1.2,dst=10.1.1.1,sport=2,dport=1),zone=5")
ICMP_Z3 = ("icmp,orig=(src=10.1.1.1,dst=10.1.1.2,id=0,type=8,code=0),reply="
           "(src=10.1.1.2,dst=10.1.1.1,id=0,type=0,code=0),zone=3")
ICMP6 = ("icmpv6,orig=(src=fc00::1,dst=fc00::2,id=0,type=128,code=0),reply="
         "(src=fc00::2,dst=fc00::1,id=0,type=129,code=0)")
TCP_Z7 = ("tcp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=1234,dport=80),reply="
          "(src=10.1.1.2,dst=10.1.1.1,sport=80,dport=1234),zone=7,"
          "protoinfo=(state=SYN_SENT)")
UDP6_MARK = ("udp,orig=(src=fc00::1,dst=fc00::2,sport=10000,dport=5000),"
             "reply=(src=fc00::2,dst=fc00::1,sport=5000,dport=10000),"
             "mark=170,labels=0xaa00000000")


@pytest.fixture
def loaded(ctx):
    commit(ctx, [udp("10.1.1.1", "10.1.1.2", 1, 2)], "ct(commit,zone=5)")
    commit(ctx, [echo("10.1.1.1", "10.1.1.2", 0)], "ct(commit,zone=3)")
    commit(ctx, [echo("fc00::1", "fc00::2", 0)], "ct(commit)")
    commit(ctx, [tcp_syn("10.1.1.1", "10.1.1.2", 1234, 80)],
           "ct(commit,zone=7)")
    commit(ctx, [udp("fc00::1", "fc00::2", 10000, 5000)],
           "ct(commit,exec(set_field:170->ct_mark,"
           "set_field:0xaa00000000->ct_label))")
    ctx.engine.advance(1)
    return ctx


def test_dump(loaded):
    assert sorted(lines(run(loaded, "dpctl/dump-conntrack").text)) == sorted(
        [UDP_Z5, ICMP_Z3, ICMP6, TCP_Z7, UDP6_MARK])
    assert lines(run(loaded, "dpctl/dump-conntrack", "zone=5").text) == \
        [UDP_Z5]
    assert run(loaded, "dpctl/dump-conntrack", "zone=99").text == ""
    assert lines(run(loaded, "dpctl/dump-conntrack", "ovsct@ovsct",
                     "zone=7").text) == [TCP_Z7]
    assert lines(run(loaded, "dpctl/dump-conntrack", "-m", "-s",
                     "zone=7").text) == [
        TCP_Z7.replace("zone=7", "id=0,zone=7,status=0,timeout=29").replace(
            "(state=SYN_SENT)", "(state_orig=SYN_SENT,state_reply=CLOSED,"
            "flags_orig=0,flags_reply=0)")]
    for opts in (["-ms"], ["--more", "--statistics"], ["-m", "--names"]):
        text = run(loaded, "dpctl/dump-conntrack", *opts, "zone=5").text
        assert text.startswith(UDP_Z5.replace("zone=5", "id=0,zone=5"))
    assert run(loaded, "dpctl/dump-conntrack", "-s", "zone=5").text == \
        UDP_Z5 + ",timeout=59\n"


def test_dump_json(loaded):
    data = run(loaded, "dpctl/dump-conntrack").data
    assert [e["protocol"] for e in data] == ["udp", "icmpv6", "icmp",
                                             "udp", "tcp"]
    mark = data[0]
    assert mark["orig"] == {"src": "fc00::1", "dst": "fc00::2",
                            "sport": 10000, "dport": 5000}
    assert (mark["zone"], mark["mark"], mark["labels"]) == \
        (0, 170, 0xaa00000000)
    assert data[4]["tcp"]["state_orig"] == "SYN_SENT"
    assert data[4]["timeout"] == 29
    assert run(loaded, "dpctl/dump-conntrack", "zone=3").data[0]["orig"] == \
        {"src": "10.1.1.1", "dst": "10.1.1.2", "id": 0, "type": 8,
         "code": 0}
    # The renderings are computed on demand, each on its own.
    r = run(loaded, "dpctl/dump-conntrack", "zone=5")
    assert r.value(False) == UDP_Z5 + "\n"
    assert r.value(True)[0]["zone"] == 5


def test_stats_and_bkts(loaded):
    text = run(loaded, "dpctl/ct-stats-show", "-m").text
    assert text == ("Connections Stats:\n    Total: 5\n  TCP: 1\n"
                    "    Conn per TCP states:\n\t  [SYN_SENT]=1\n"
                    "  UDP: 2\n  ICMP: 1\n  ICMPv6: 1\n")
    assert run(loaded, "dpctl/ct-stats-show", "zone=7", "verbose").text == \
        text.replace("Total: 5", "Total: 1").split("  UDP")[0]
    assert run(loaded, "dpctl/ct-stats-show", "verbose", "zone=5").text == \
        "Connections Stats:\n    Total: 1\n  UDP: 1\n"
    assert run(loaded, "dpctl/ct-stats-show", "zone=3").data["total"] == 1
    assert run(loaded, "dpctl/ct-bkts").text == (
        "Total Buckets: 1\nCurrent Connections: 5\n\n"
        "+-----------+-----------------------------------------+\n"
        "|  Buckets  |         Connections per Buckets         |\n"
        "+-----------+-----------------------------------------+\n"
        "   0..  7   |     5\n\n")
    text = run(loaded, "dpctl/ct-bkts", "gt=5").text
    assert text.endswith("   0..  7   |     .\n\n")
    assert run(loaded, "dpctl/ct-bkts", "gt=4").data["buckets"] == [5]
    assert run(loaded, "dpctl/ct-get-nconns").text == "5\n"


def flush(ctx, *params):
    return run(ctx, "dpctl/flush-conntrack", *params)


def dump(ctx) -> list[str]:
    return sorted(lines(run(ctx, "dpctl/dump-conntrack").text))


def test_flush_five_tuple(loaded):
    tup = "ct_nw_src=10.1.1.1,ct_nw_dst=10.1.1.2,ct_nw_proto=17," \
          "ct_tp_src=1,ct_tp_dst=2"
    # 078: the connection is in zone 5, the lookup in zone 0 fails.
    assert error_of(loaded, "dpctl/flush-conntrack", tup) == \
        "ovsctd: failed to flush conntrack (No such file or directory)"
    # The reply orientation finds it too.
    rtup = "ct_nw_src:10.1.1.2,ct_nw_dst:10.1.1.1 ct_nw_proto=17," \
           "ct_tp_src=2,ct_tp_dst=1"
    assert flush(loaded, "zone=5", rtup).data == {"zone": 5, "flushed": 1}
    assert UDP_Z5 not in dump(loaded)
    # ICMP: addresses, proto and the echo fields.
    flush(loaded, "zone=3", "ct_nw_src=10.1.1.1,ct_nw_dst=10.1.1.2,"
          "ct_nw_proto=1,icmp_type=8,icmp_code=0,icmp_id=0")
    assert ICMP_Z3 not in dump(loaded)
    # The "set multiple times" note stays in front of a later error.
    assert error_of(loaded, "dpctl/flush-conntrack", "ovsct@ovsct",
                    "ct_nw_proto=1,ct_nw_proto=1,ct_nw_src=1.1.1.1,"
                    "ct_nw_dst=1.1.1.2") == (
        "ovsctd: ct_nw_proto is set multiple timesfailed to flush "
        "conntrack (No such file or directory)")


def test_flush_partial(loaded):
    # 084: a partial tuple without a zone matches in every zone.
    assert flush(loaded, "ct_nw_src=10.1.1.1").data == \
        {"zone": None, "flushed": 3}
    assert dump(loaded) == sorted([ICMP6, UDP6_MARK])
    # 083: reply-only match ('' for the orig tuple).
    flush(loaded, "", "ct_ipv6_src=fc00::2,ct_nw_proto=17")
    assert dump(loaded) == [ICMP6]


def test_flush_zone_mark_labels(loaded):
    assert flush(loaded, "zone=5").data == {"zone": 5, "flushed": 1}
    assert flush(loaded, "mark=0xaa/0xaa").data["flushed"] == 1
    assert UDP6_MARK not in dump(loaded)
    assert flush(loaded, "zone=7", "mark=1").data["flushed"] == 0
    assert flush(loaded, "labels=0xaa00000000/0xff00000000").data[
        "flushed"] == 0
    # A zero mask is no match at all: everything in zone 7, then all.
    assert flush(loaded, "zone=7", "mark=5/0").data == \
        {"zone": 7, "flushed": 1}
    assert flush(loaded, "ovsct@ovsct", "mark=0/0", "labels=0/0").data == \
        {"zone": None, "flushed": 2}
    assert dump(loaded) == []


def test_flush_dp_then_four_args(loaded):
    # Upstream skips the datapath (3.1 did not: 095); with it in front the
    # 4-argument form works.
    assert flush(loaded, "ovsct@ovsct", "zone=5").data["flushed"] == 1
    assert flush(loaded, "ovsct@ovsct", "zone=0", "mark=170",
                 "labels=0xaa00000000", "ct_ipv6_src=fc00::1").data == \
        {"zone": 0, "flushed": 1}
    # ICMP partial matches compare id/type/code even when 0 (OVS): proto
    # alone matches no echo request, whose type is 8.
    # The empty reply tuple compares too: id 0, type 0 (echo reply).
    assert flush(loaded, "ct_nw_proto=1").data["flushed"] == 0
    assert flush(loaded, "zone=3", "ct_nw_proto=1,icmp_type=8,icmp_id=5",
                 "").data["flushed"] == 0
    assert flush(loaded, "zone=3", "ct_nw_proto=1,icmp_type=8").data[
        "flushed"] == 1
    assert flush(loaded).data == {"zone": None, "flushed": 2}
    assert run(loaded, "dpctl/ct-get-nconns").text == "0\n"


def test_zone_limit_counts(ctx):
    assert run(ctx, "dpctl/ct-set-limits", "zone=7,limit=1").text == ""
    commit(ctx, [udp("10.0.0.1", "10.0.0.2", 1, 2)], "ct(commit,zone=7)")
    assert run(ctx, "dpctl/ct-get-limits", "zone=7").text == \
        "default limit=0\nzone=7,limit=1,count=1\n"


# ---------------------------------------------------------------------------
# Engine-backed: ct/* commands

def test_zone_tp(ctx):
    # 125-137 (ovs-vsctl), with "dummy" (the datapath type) dropped.
    assert run(ctx, "ct/add-zone-tp", "zone=5", "udp_first=120",
               "udp_single=121", "udp_multiple=122", "icmp_first=50",
               "icmp_reply=51", "tcp_syn_sent=20",
               "tcp_established=3600").text == ""
    assert run(ctx, "ct/add-zone-tp", "zone=7", "udp_first=7",
               "tcp_syn_sent=8").text == ""
    _, _, _, error = golden_case(127)
    assert error_of(ctx, "ct/add-zone-tp", "zone=7", "udp_first=7") == \
        error.replace("ovs-vsctl:", "ovsctd:")
    assert run(ctx, "ct/add-zone-tp", "--may-exist", "zone=7",
               "udp_first=7").data == {"zone": 7,
                                       "policies": {"udp_first": 7}}
    _, _, stdout, _ = golden_case(130)
    assert run(ctx, "ct/list-zone-tp").text == stdout
    assert run(ctx, "ct/del-zone-tp", "zone=5").text == ""
    _, _, _, error = golden_case(136)
    assert error_of(ctx, "ct/del-zone-tp", "zone=55") == \
        error.replace("ovs-vsctl:", "ovsctd:")
    assert run(ctx, "ct/del-zone-tp", "--if-exists", "zone=55").data == \
        {"zone": 55, "deleted": False}
    _, _, stdout, _ = golden_case(137)
    assert run(ctx, "ct/list-zone-tp").text == stdout
    assert run(ctx, "ct/list-zone-tp").data == [
        {"zone": 7, "policies": {"udp_first": 7}}]


@pytest.mark.parametrize("params, error", [
    (["zone=8", "foo_first=3"],
     "ovsctd: foo_first is not one of the allowed values ([icmp_first, "
     "icmp_reply, tcp_close, tcp_established, tcp_fin_wait, tcp_syn_recv, "
     "tcp_syn_sent, tcp_time_wait, udp_first, udp_multiple, "
     "udp_single])"),
    (["zone=70000", "udp_first=1"],
     'ovsctd: invalid zone "zone=70000": expected zone=N with N in '
     '0..65535'),
    (["zone=default"],
     'ovsctd: invalid zone "zone=default": expected zone=N with N in '
     '0..65535'),
    (["zone=1", "udp_first"],
     'ovsctd: invalid timeout policy "udp_first": expected key=value'),
    (["zone=1", "udp_first=-1"],
     'ovsctd: invalid value "-1" for udp_first: expected 0..4294967295'),
    (["--bogus", "zone=1"], "Unrecognized option --bogus"),
])
def test_add_zone_tp_errors(ctx, params, error):
    assert error_of(ctx, "ct/add-zone-tp", *params) == error
    assert ctx.engine.list_zone_tps() == {}


def test_replay(ctx):
    path = DATA / "udp.pcap"
    r = run(ctx, "ct/replay", str(path))
    assert r.data["packets"] == 15
    assert r.data["action"] == "ct(commit)"
    assert sum(r.data["states"].values()) == 15
    assert r.text.startswith(f"15 packets from {path} through ct(commit)\n")
    assert run(ctx, "dpctl/ct-get-nconns").text != "0\n"
    r = run(ctx, "ct/replay", str(path), "ct(zone=9)")
    assert set(r.data["states"]) == {"new|trk"}


def test_replay_errors(ctx):
    assert error_of(ctx, "ct/replay", "x.pcap", "ct(force)") == \
        'ovsctd: invalid action ct(force): "force" flag requires "commit" ' \
        'flag.'
    text = error_of(ctx, "ct/replay", str(DATA / "no-such.pcap"))
    assert text.startswith(f"ovsctd: cannot replay {DATA / 'no-such.pcap'}"
                           f": ")
