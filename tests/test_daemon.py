"""ovsctd end to end: a real daemon driven by the real /usr/bin/ovs-appctl,
by ovsct and by raw sockets.

What is checked: byte-for-byte output against ovs-vswitchd's captures
(tests/data/ovs, "ovs-vswitchd" read as "ovsctd"), exit codes, the
JSON-RPC wire format, malformed requests closing only their connection, a
client that never reads not blocking others, deferred ct/replay, socket and
directory permissions, and clean removal of socket and pidfile on exit and
SIGTERM.
"""

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from enginecheck import require_engine

require_engine()

from daemonlib import OVS_APPCTL, Ovsctd  # noqa: E402
from ovsct import commands  # noqa: E402
from pcaplib import write_udp_flows_pcap  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
OUTPUTS = DATA / "ovs"

needs_appctl = pytest.mark.skipif(not os.access(OVS_APPCTL, os.X_OK),
                                  reason="ovs-appctl not installed")

BUILTINS = {"exit": "[--cleanup]", "list-commands": "",
            "set-options": "[--format text|json]", "version": "",
            "vlog/close": "", "vlog/list": "", "vlog/reopen": "",
            "vlog/set": "{spec | PATTERN:destination:pattern}"}


@pytest.fixture(scope="module")
def daemon():
    with Ovsctd() as d:
        yield d


@pytest.fixture
def fresh():
    with Ovsctd() as d:
        yield d


def connect(d):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(d.socket)
    return s


def recv_message(s, timeout=10.0):
    """Reads one JSON object (the replies are objects back to back)."""
    decoder = json.JSONDecoder()
    buf = b""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return decoder.raw_decode(buf.decode())[0], buf
        except ValueError:
            pass
        s.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = s.recv(1 << 20)
        if not chunk:
            raise EOFError(buf)
        buf += chunk


def transact(s, method, params, req_id=0):
    s.sendall(json.dumps({"id": req_id, "method": method,
                          "params": params}).encode())
    return recv_message(s)[0]


def is_closed(s, timeout=5.0):
    """True if the peer closed 's' without sending anything."""
    s.settimeout(timeout)
    try:
        return s.recv(4096) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


# ---------------------------------------------------------------------------
# Golden outputs of ovs-vswitchd 3.1, reproduced through ovsctd.

# Captures that do not depend on packets and on which ovsct does not differ
# on purpose (man/ovsct-commands.man, "Differences from Open vSwitch": 008
# ct-bkts shows real buckets, 113 zone=70000 is rejected; 094 used 3.1's
# flush-conntrack maximum).  The ipf-set-* sequence 073-077 changes state:
# tests/test_ipf.py replays it in order.
GOLDEN = [
    "003_dpctl_help", "006_empty_dpctl_dump-conntrack",
    "007_empty_dpctl_ct-stats-show", "009_empty_dpctl_ct-get-nconns",
    "010_default_dpctl_ct-get-maxconns", "011_default_dpctl_ct-get-limits",
    "012_default_dpctl_ct-get-tcp-seq-chk",
    "013_default_dpctl_ipf-get-status", "014_default_dpctl_ipf-get-status_-m",
    "117_err_ipf-set-enabled_v5",
    "090_err_flush-conntrack_zone=abc", "092_err_flush-conntrack_bad_tuple",
    "093_err_flush-conntrack_unknown_field",
    "095_err_flush-conntrack_dp_then_zone",
    "096_err_flush-conntrack_port_no_proto",
    "097_err_flush-conntrack_icmp_no_proto",
    "098_err_flush-conntrack_v4_v6_mix",
    "099_err_flush-conntrack_three_tuples",
    "100_err_ct-set-limits_zone=70000", "101_err_ct-set-limits_zone=5_nolimit",
    "102_err_ct-set-limits_limit=abc", "103_err_ct-set-limits_garbage",
    "104_err_ct-set-limits_noargs", "105_err_ct-del-limits_noargs",
    "106_err_ct-del-limits_zone=abc", "107_err_ct-get-limits_zone=abc",
    "108_err_ct-set-maxconns_abc", "109_err_ct-set-maxconns_noargs",
    "110_err_ct-set-maxconns_negative", "111_err_ct-bkts_gt=abc",
    "112_err_dump-conntrack_zone=abc", "114_err_dump-conntrack_bad_dp",
    "115_err_dump-conntrack_too_many", "116_err_ct-stats-show_zone=abc",
    "118_err_unknown_dpctl_command", "119_err_unknown_command",
]


def golden(name):
    """(argv after "ovs-appctl", exit status, stdout, stderr) of a capture,
    with ovs-vswitchd's name replaced by ours."""
    import shlex

    for line in (OUTPUTS / "INDEX.tsv").read_text().splitlines()[1:]:
        seq, base, status, command = line.split("\t")
        if base == name:
            break
    else:
        raise KeyError(name)
    argv = shlex.split(command)[1:]

    def read(suffix):
        path = OUTPUTS / (name + suffix)
        text = path.read_bytes() if path.exists() else b""
        return text.replace(b"ovs-vswitchd", b"ovsctd")
    return argv, int(status), read(".txt"), read(".stderr")


@needs_appctl
@pytest.mark.parametrize("name", GOLDEN)
def test_golden_ovs_appctl(fresh_state_daemon, name):
    argv, status, out, err = golden(name)
    r = fresh_state_daemon.appctl(*argv)
    assert (r.returncode, r.stdout, r.stderr) == (status, out, err)


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_ovsct(fresh_state_daemon, name):
    argv, status, out, err = golden(name)
    r = fresh_state_daemon.ovsct(*argv)
    err = err.replace(b"ovs-appctl: ", b"ovsct: ")
    assert (r.returncode, r.stdout, r.stderr) == (status, out, err)


@pytest.fixture(scope="module")
def fresh_state_daemon():
    """A daemon with an empty table; the golden commands above either fail
    or do not change state."""
    with Ovsctd() as d:
        yield d


@needs_appctl
def test_version(daemon):
    r = daemon.appctl("version")
    assert (r.returncode, r.stdout, r.stderr) == (
        0, b"ovsctd (ovsct) 0.1.0\n", b"")
    assert daemon.ovsct("version").stdout == r.stdout


@needs_appctl
def test_list_commands_is_the_table_in_ovs_format(daemon):
    r = daemon.appctl("list-commands")
    assert r.returncode == 0
    usages = {c.name: c.usage for c in commands.COMMANDS}
    usages.update(BUILTINS)
    expected = "The available commands are:\n" + "".join(
        "  %-23s %s\n" % (name, usages[name]) for name in sorted(usages))
    assert r.stdout.decode() == expected
    # The format is OVS's own: compare with a line of the 3.1 capture.
    ref = (OUTPUTS / "002_list-commands.txt").read_text()
    assert "  dpctl/ct-get-nconns     [dp]\n" in ref
    assert "  dpctl/ct-get-nconns     [dp]\n" in expected
    assert "  version                 \n" in ref


@needs_appctl
def test_ovsct_and_ovs_appctl_print_the_same(tmp_path):
    """Same bytes from both clients, on a populated table."""
    with Ovsctd("--pcap", str(DATA / "sample.pcap"),
                "--pcap", str(DATA / "udp.pcap")) as d:
        for argv in (["dpctl/dump-conntrack"], ["dpctl/dump-conntrack", "-m"],
                     ["dpctl/dump-conntrack", "zone=0"],
                     ["dpctl/ct-stats-show"], ["dpctl/ct-stats-show", "-m"],
                     ["dpctl/ct-bkts"], ["dpctl/ct-get-nconns"],
                     ["dpctl/ct-get-limits"], ["dpctl/list-commands"],
                     ["ct/list-zone-tp"], ["list-commands"],
                     ["dpctl/flush-conntrack", "zone=abc"]):
            a = d.appctl(*argv)
            b = d.ovsct(*argv)
            assert a.returncode == b.returncode, argv
            assert a.stdout == b.stdout, argv
            assert a.stderr.replace(b"ovs-appctl:", b"ovsct:") == b.stderr
        n = int(d.appctl("dpctl/ct-get-nconns").stdout)
        assert n > 0
        assert len(d.appctl("dpctl/dump-conntrack").stdout.splitlines()) == n
        # Short names are the dpctl/ and ct/ ones.
        assert d.ovsct("dump-conntrack").stdout == \
            d.appctl("dpctl/dump-conntrack").stdout


# ---------------------------------------------------------------------------
# Wire format (OVS lib/unixctl.c unixctl_command_reply__(), lib/jsonrpc.c
# jsonrpc_create_error(): bare JSON objects back to back, no delimiter).

def test_reply_shapes(daemon):
    s = connect(daemon)
    s.sendall(b'{"id":"abc","method":"dpctl/ct-get-nconns","params":[]}')
    msg, raw = recv_message(s)
    assert raw == b'{"id":"abc","result":"0\\n","error":null}'
    s.sendall(b'{"method":"dpctl/ct-set-maxconns","params":[],"id":5}')
    msg, raw = recv_message(s)
    assert raw == (b'{"id":5,"error":"\\"dpctl/ct-set-maxconns\\" command '
                   b'requires at least 1 arguments\\n"}')
    # An empty result stays empty; a body without a final newline gets one.
    assert transact(s, "dpctl/ct-set-maxconns", ["3000000"]) == {
        "id": 0, "result": "setting maxconns successful\n", "error": None}
    s.close()


def test_pipelined_requests_are_answered_in_order(daemon):
    s = connect(daemon)
    s.sendall(b'{"id":10,"method":"dpctl/ct-get-nconns","params":[]}'
              b'{"id":11,"method":"version","params":[]}')
    first, raw = recv_message(s)
    assert first["id"] == 10
    rest = raw[raw.index(b"}") + 1:]
    if not rest:
        second = recv_message(s)[0]
    else:
        second = json.loads(rest)
    assert second == {"id": 11, "result": "ovsctd (ovsct) 0.1.0\n",
                      "error": None}
    s.close()


def test_non_string_argument_is_an_error_not_a_close(daemon):
    s = connect(daemon)
    s.sendall(b'{"id":6,"method":"dpctl/ct-set-maxconns","params":[1000]}')
    assert recv_message(s)[0] == {
        "id": 6, "error":
        '"dpctl/ct-set-maxconns" command has non-string argument\n'}
    assert transact(s, "version", [])["result"] == "ovsctd (ovsct) 0.1.0\n"
    s.close()


MALFORMED = {
    "garbage": b"hello",
    "params_missing": b'{"id":12,"method":"version"}',
    "id_null": b'{"id":null,"method":"version","params":[]}',
    "unexpected_member": b'{"id":13,"method":"version","params":[],"foo":1}',
    "params_not_array": b'{"id":14,"method":"version","params":"x"}',
    "not_an_object": b'[1,2,3]',
    "invalid_utf8": b'{"id":15,"method":"\xff\xfe","params":[]}',
    "bad_json": b'{"id":16,,}',
    "reply_not_request": b'{"id":17,"result":"x","error":null}',
    "deep_nesting": (b'{"id":18,"method":"version","params":' + b"[" * 100000
                     + b"]" * 100000 + b"}"),
}


@pytest.mark.parametrize("payload", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_request_closes_only_that_connection(daemon, payload):
    other = connect(daemon)
    assert transact(other, "version", [])["id"] == 0
    bad = connect(daemon)
    bad.sendall(payload)
    assert is_closed(bad), "no reply and connection closed"
    bad.close()
    assert transact(other, "dpctl/ct-get-nconns", [], 1) == {
        "id": 1, "result": "0\n", "error": None}
    other.close()
    assert daemon.proc.poll() is None


def test_oversized_request_closes_the_connection(daemon):
    other = connect(daemon)
    bad = connect(daemon)
    try:
        bad.sendall(b'{"id":1,"method":"version","params":["'
                    + b"x" * (8 << 20))
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert is_closed(bad)
    assert transact(other, "version", [])["id"] == 0


def test_request_split_across_writes(daemon):
    s = connect(daemon)
    request = b'{"id":3,"method":"version","params":["\\u0041"]}'
    for i in range(len(request)):
        s.sendall(request[i:i + 1])
    assert recv_message(s)[0]["error"] == \
        '"version" command takes at most 0 arguments\n'
    s.close()


def test_set_options_format_json(daemon):
    s = connect(daemon)
    assert transact(s, "set-options", ["--format", "json"])["result"] == {
        "reply-format": "plain", "reply": ""}
    assert transact(s, "version", [])["result"] == {
        "reply-format": "plain", "reply": "ovsctd (ovsct) 0.1.0\n"}
    nconns = transact(s, "dpctl/ct-get-nconns", [])["result"]
    assert isinstance(nconns, dict)
    assert transact(s, "dpctl/dump-conntrack", [])["result"] == []
    # Errors stay strings.
    assert transact(s, "dpctl/flush-conntrack", ["zone=abc"])["error"] == \
        "ovsctd: failed to parse zone (Invalid argument)\n"
    assert transact(s, "set-options", ["--format", "xml"])["error"] == \
        "option --format has invalid value xml\n"
    assert transact(s, "set-options", ["--format", "text"])["result"] == ""
    s.close()
    r = daemon.ovsct("-f", "json", "ct-get-nconns")
    assert r.returncode == 0 and json.loads(r.stdout) == nconns


# ---------------------------------------------------------------------------
# Concurrency: stuck clients, deferred replay.

@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A daemon holding 60000 connections (a dump of ~7 MB, far more than
    a socket buffer)."""
    pcap = tmp_path_factory.mktemp("big") / "flows.pcap"
    write_udp_flows_pcap(str(pcap), 60000)
    with Ovsctd("--pcap", str(pcap), "--threads", "2") as d:
        d.flows = pcap
        yield d


def test_client_that_never_reads_does_not_block_others(big):
    stuck = []
    for i in range(3):
        s = connect(big)
        # Pipelined requests on a connection that never reads.
        s.sendall(b'{"id":0,"method":"dpctl/dump-conntrack","params":[]}'
                  * 5)
        stuck.append(s)
    time.sleep(0.3)
    start = time.monotonic()
    for i in range(20):
        r = big.appctl("dpctl/ct-get-nconns", timeout=5)
        assert r.stdout == b"60000\n"
    assert time.monotonic() - start < 10
    # A full dump for another client still completes.
    r = big.ovsct("dump-conntrack", timeout=30)
    assert r.returncode == 0 and r.stdout.count(b"\n") == 60000
    # The stuck clients' replies are intact once they read.
    msg, _ = recv_message(stuck[0], timeout=30)
    assert msg["result"].count("\n") == 60000
    for s in stuck:
        s.close()
    assert big.appctl("version").returncode == 0


def test_replay_is_deferred_and_does_not_block_control(big, tmp_path):
    pcap = tmp_path / "more.pcap"
    write_udp_flows_pcap(str(pcap), 200000, first=100000)
    replay = connect(big)
    replay.sendall(json.dumps({"id": 1, "method": "ct/replay",
                               "params": [str(pcap)]}).encode())
    other = connect(big)
    t0 = time.monotonic()
    assert transact(other, "version", [])["result"].startswith("ovsctd")
    version_time = time.monotonic() - t0
    msg = recv_message(replay, timeout=60)[0]
    assert msg["result"] == ("200000 packets from %s through ct(commit)\n"
                             "  new|trk: 200000\n" % pcap)
    assert version_time < 1.0
    replay.close()
    other.close()
    assert big.appctl("dpctl/ct-get-nconns").stdout == b"260000\n"
    assert big.appctl("dpctl/flush-conntrack").returncode == 0
    assert big.appctl("ct/replay", str(big.flows)).returncode == 0


def test_replay_errors(daemon):
    r = daemon.ovsct("replay", "/nonexistent.pcap")
    assert r.returncode == 2
    assert r.stderr.endswith(b"ovsct: ovsctd: server returned an error\n")
    assert b"/nonexistent.pcap" in r.stderr


def test_many_round_trips_on_one_connection(daemon):
    # The timing of these is a benchmark (benchmarks/rtt.py), not a test.
    s = connect(daemon)
    for method, result in (("version", "ovsctd (ovsct) 0.1.0\n"),
                           ("dpctl/ct-get-nconns", None)):
        request = json.dumps({"id": 7, "method": method,
                              "params": []}).encode()
        for _ in range(200):
            s.sendall(request)
            buf = b""
            while True:     # A reply may arrive in several reads.
                buf += s.recv(65536)
                try:
                    reply = json.loads(buf)
                    break
                except ValueError:
                    continue
            assert reply["id"] == 7 and reply["error"] is None
            if result is not None:
                assert reply["result"] == result
            else:
                assert reply["result"].strip().isdigit()
    s.close()


# ---------------------------------------------------------------------------
# Files, permissions, shutdown.

def test_socket_and_rundir_permissions(tmp_path):
    rundir = tmp_path / "run"             # Missing: the daemon creates it.
    with Ovsctd(rundir=str(rundir)) as d:
        assert stat.S_IMODE(os.stat(rundir).st_mode) == 0o700
        assert stat.S_ISSOCK(os.stat(d.socket).st_mode)
        assert stat.S_IMODE(os.stat(d.socket).st_mode) == 0o600
        assert Path(d.pidfile).read_text() == "%d\n" % d.pid


@needs_appctl
def test_exit_removes_socket_and_pidfile(fresh):
    sock, pidfile = fresh.socket, fresh.pidfile
    r = fresh.appctl("exit")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"", b"")
    assert fresh.wait_exit() == 0
    assert not os.path.exists(sock) and not os.path.exists(pidfile)
    r = fresh.appctl("version")
    assert r.returncode == 1
    assert b'cannot read pidfile "%s"' % pidfile.encode() in r.stderr


@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT])
def test_signal_removes_socket_and_pidfile(fresh, signo):
    sock, pidfile = fresh.socket, fresh.pidfile
    os.kill(fresh.pid, signo)
    assert fresh.wait_exit() == -signo
    assert not os.path.exists(sock) and not os.path.exists(pidfile)


@needs_appctl
def test_detach(tmp_path):
    with Ovsctd(detach=True) as d:
        r = d.appctl("dpctl/ct-get-nconns")
        assert (r.returncode, r.stdout) == (0, b"0\n")
        sock, pidfile = d.socket, d.pidfile
        assert d.appctl("exit").returncode == 0
        d.wait_exit()
        assert not os.path.exists(sock) and not os.path.exists(pidfile)


def test_exit_during_a_replay(tmp_path):
    pcap = tmp_path / "flows.pcap"
    write_udp_flows_pcap(str(pcap), 300000)
    with Ovsctd() as d:
        s = connect(d)
        s.sendall(json.dumps({"id": 1, "method": "ct/replay",
                              "params": [str(pcap)]}).encode())
        r = d.ovsct("exit")
        assert r.returncode == 0
        assert d.wait_exit() == 0
        assert not os.path.exists(d.socket)
        assert not os.path.exists(d.pidfile)
        s.close()


def test_second_daemon_refuses_the_same_pidfile(daemon):
    other = Ovsctd(rundir=daemon.rundir)
    with pytest.raises(RuntimeError, match="already running"):
        other.start()
    assert daemon.appctl("version").returncode == 0


def test_bad_options():
    for argv, text in ((["--threads", "0"], b"--threads"),
                       (["--action", "ct(bogus)"], b"--action"),
                       (["--buckets", "x"], b"--buckets")):
        r = subprocess.run([sys.executable, "-m", "unixctl.main"] + argv,
                           cwd=ROOT, capture_output=True, timeout=20,
                           env=dict(os.environ, OVS_RUNDIR="/nonexistent"))
        assert r.returncode == 2 and text in r.stderr, r.stderr


def test_startup_replay_failure_is_fatal(tmp_path):
    with pytest.raises(RuntimeError, match="nonexistent"):
        Ovsctd("--pcap", "/nonexistent.pcap", rundir=str(tmp_path)).start()


def test_vlog_commands(daemon):
    r = daemon.appctl("vlog/list")
    assert r.returncode == 0 and b"ovsctd" in r.stdout
    assert daemon.appctl("vlog/set", "unixctl:file:dbg").returncode == 0
    assert daemon.appctl("version").returncode == 0
    assert b"received request version" in Path(daemon.log).read_bytes()
    assert daemon.appctl("vlog/set", "unixctl:file:info").returncode == 0


def test_ovsct_replay_makes_the_path_absolute(fresh):
    r = subprocess.run([sys.executable, "-m", "ovsct.cli", "replay",
                        "udp.pcap", "ct(commit,zone=3)"], cwd=DATA,
                       env=fresh.env, capture_output=True, timeout=30)
    assert (r.returncode, r.stderr) == (0, b"")
    assert r.stdout == (b"15 packets from %s through ct(commit,zone=3)\n"
                        b"  new|trk: 12\n  est|rpl|trk: 3\n"
                        % str(DATA / "udp.pcap").encode())
    assert fresh.appctl("dpctl/ct-get-nconns").stdout == b"11\n"
