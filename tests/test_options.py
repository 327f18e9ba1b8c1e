"""Command-line options are checked where they are parsed: a bad value
fails at once, before ovsctd creates anything or daemonizes, with a message
naming the rule (ovsct.numbers, unixctl/main.py check_options(),
ovsct/cli.py parse_options())."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ovsct.numbers import (OptionError, option_int, option_power_of_two,
                           parse_c_uint, scan_decimal, scan_prefixed)

ROOT = Path(__file__).resolve().parents[1]
BUCKETS_RULE = b"--buckets must be a power of two between 1 and 1048576"
THREADS_RULE = b"--threads must be an integer between 1 and 1024"
BATCH_RULE = b"--batch must be an integer between 1 and 4294967295"


def run(module, *argv, env=None):
    return subprocess.run([sys.executable, "-m", module, *argv], cwd=ROOT,
                          capture_output=True, timeout=30,
                          env=dict(os.environ, **(env or {})))


@pytest.mark.parametrize("argv, rule", [
    (["--buckets", "1000"], BUCKETS_RULE),
    (["--buckets=0"], BUCKETS_RULE),
    (["--buckets", "2097152"], BUCKETS_RULE),
    (["--buckets", "x"], BUCKETS_RULE),
    (["--buckets", "-4"], BUCKETS_RULE),
    (["--threads", "0"], THREADS_RULE),
    (["--threads", "1025"], THREADS_RULE),
    (["--threads", "two"], THREADS_RULE),
])
def test_ovsctd_refuses_bad_numbers_before_daemonizing(tmp_path, argv, rule):
    rundir = tmp_path / "run"
    r = run("unixctl.main", "--detach", *argv,
            env={"OVS_RUNDIR": str(rundir), "OVS_LOGDIR": str(tmp_path)})
    assert r.returncode == 2, r.stderr
    assert rule in r.stderr
    assert b"cannot create the connection tracker" not in r.stderr
    # Nothing was made: no run directory, pidfile or socket.
    assert not rundir.exists()


def test_ovsctd_buckets_limit_is_the_engines():
    from ovsct.engine import Conntrack
    from unixctl.main import MAX_BUCKETS

    with Conntrack(buckets=MAX_BUCKETS, sweeper=False) as ct:
        assert ct.n_buckets == MAX_BUCKETS
    for bad in (MAX_BUCKETS * 2, 1000):
        with pytest.raises(ValueError):
            Conntrack(buckets=bad, sweeper=False)


def test_ovsctd_accepts_a_good_buckets_value():
    from unixctl.main import build_parser, check_options

    args = build_parser().parse_args(["--buckets", "1024", "--threads", "4"])
    check_options(args)
    assert (args.buckets, args.threads) == (1024, 4)
    args = build_parser().parse_args([])
    check_options(args)
    assert (args.buckets, args.threads) == (None, 1)


@pytest.mark.parametrize("value", ["0", "-1", "x", "4294967296"])
def test_ovsct_batch_rule(value):
    r = run("ovsct.cli", "-r", "tests/data/udp.pcap", "--batch", value,
            "states")
    assert (r.returncode, r.stdout) == (1, b"")
    expected = b"ovsct: %s (not '%s')\n" % (BATCH_RULE, value.encode())
    assert r.stderr == expected


def test_ovsct_timeout_out_of_range_is_refused_like_ovs_appctl():
    r = run("ovsct.cli", "--timeout=99999999999", "version")
    assert (r.returncode, r.stderr) == (
        1, b"ovsct: value 99999999999 on -T or --timeout is invalid\n")


def test_number_helpers():
    assert scan_decimal("65535", 16) == 65535
    assert scan_decimal("65536", 16) is None
    assert scan_decimal("0x10", 16) is None
    assert scan_decimal("", 16) is None
    assert scan_prefixed("zone=5", "zone=", 16) == 5
    assert scan_prefixed("gt=5", "zone=", 16) is None
    assert parse_c_uint("0x10", 8) == 16
    assert parse_c_uint("010", 8) == 8
    with pytest.raises(ValueError):
        parse_c_uint("256", 8)
    assert option_int("--n", "7", 1, 8) == 7
    assert option_power_of_two("--b", "64", 1, 64) == 64
    for text in ("0", "9", "x", ""):
        with pytest.raises(OptionError, match="--n must be an integer "
                           "between 1 and 8"):
            option_int("--n", text, 1, 8)
    for text in ("3", "128", "0"):
        with pytest.raises(OptionError, match="--b must be a power of two "
                           "between 1 and 64"):
            option_power_of_two("--b", text, 1, 64)
