"""The ovsct command: offline mode (-r), option parsing, client errors and
timeouts compared with the real ovs-appctl, and the client module's
decoding of back-to-back JSON replies."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ovsct import cli, client, jsonrpc
from daemonlib import OVS_APPCTL, ROOT
from enginecheck import needs_engine

DATA = Path(ROOT) / "tests" / "data"
OUTPUTS = DATA / "ovs"
STAMP = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\|", re.M)

needs_appctl = pytest.mark.skipif(not os.access(OVS_APPCTL, os.X_OK),
                                  reason="ovs-appctl not installed")


def ovsct(*args, env=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "ovsct.cli"] + list(args),
                          cwd=ROOT, capture_output=True, timeout=timeout,
                          env=env)


def appctl(*args, env=None, timeout=60):
    # argv[0] "ovs-appctl", as from $PATH: getopt prints it.
    return subprocess.run(["ovs-appctl"] + list(args), executable=OVS_APPCTL,
                          capture_output=True, timeout=timeout, env=env)


def same_as_appctl(ours, theirs):
    """ovsct's result equals ovs-appctl's with the program name and the
    log time stamps made equal."""
    def norm(text):
        return STAMP.sub(b"TS|", text)
    assert ours.returncode == theirs.returncode
    assert ours.stdout == theirs.stdout
    assert norm(ours.stderr) == norm(theirs.stderr.replace(
        b"ovs-appctl: ", b"ovsct: ")), (ours.stderr, theirs.stderr)


# ---------------------------------------------------------------------------
# Offline mode.

UDP_STATES = b"".join(b"%d: %s\n" % (i, s) for i, s in enumerate(
    [b"new|trk", b"est|rpl|trk", b"new|trk", b"new|trk", b"new|trk",
     b"est|rpl|trk", b"new|trk", b"est|rpl|trk", b"new|trk", b"new|trk",
     b"new|trk", b"new|trk", b"new|trk", b"new|trk", b"new|trk"], 1))

# (src, dst, sport, dport, timeout) of the connections in udp.pcap.
UDP_FLOWS = [
    ("10.0.0.1", "10.0.0.2", 40000, 53, 29),
    ("10.0.0.1", "10.0.0.2", 40007, 53, 59),
    ("10.0.0.1", "10.0.0.3", 40001, 123, 59),
    ("10.0.0.4", "10.0.0.5", 1000, 2000, 29),
    ("10.1.0.1", "10.1.0.2", 5000, 5001, 59),
    ("fc00::1", "fc00::2", 40002, 53, 29),
    ("fc00::1", "fc00::2", 40003, 53, 59),
    ("fc00::1", "fc00::2", 40004, 53, 59),
    ("fc00::1", "fc00::2", 40005, 53, 59),
    ("fc00::1", "fc00::2", 40006, 53, 59),
    ("fc00::10", "fc00::20", 5000, 5001, 59),
]
UDP_DUMP_S = "".join(
    "udp,orig=(src=%s,dst=%s,sport=%d,dport=%d),"
    "reply=(src=%s,dst=%s,sport=%d,dport=%d){zone},timeout=%d\n"
    % (a, b, p, q, b, a, q, p, t) for a, b, p, q, t in UDP_FLOWS)


@needs_engine
def test_states_udp():
    r = ovsct("-r", str(DATA / "udp.pcap"), "states")
    assert (r.returncode, r.stdout, r.stderr) == (0, UDP_STATES, b"")


@needs_engine
def test_states_json():
    r = ovsct("-r", str(DATA / "udp.pcap"), "-f", "json", "states")
    assert r.returncode == 0
    states = json.loads(r.stdout)
    assert states[:2] == [{"packet": 1, "ct_state": ["new", "trk"]},
                          {"packet": 2, "ct_state": ["est", "rpl", "trk"]}]
    assert len(states) == 15


@needs_engine
def test_dump_timeouts_as_ovs_prints_them():
    """One-way UDP shows 59 (udp_first 60 s), with a reply 29 (30 s): the
    offline clock queries 1 ms after the packets, as OVS does."""
    r = ovsct("-r", str(DATA / "udp.pcap"), "dump-conntrack", "-s")
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.decode().splitlines()) == \
        UDP_DUMP_S.format(zone="").splitlines()


@needs_engine
def test_action_zone():
    r = ovsct("-r", str(DATA / "udp.pcap"), "--action", "ct(commit,zone=5)",
              "dpctl/dump-conntrack", "-s", "zone=5")
    assert sorted(r.stdout.decode().splitlines()) == \
        UDP_DUMP_S.format(zone=",zone=5").splitlines()
    r = ovsct("-r", str(DATA / "udp.pcap"), "--action", "ct(commit,zone=5)",
              "dump-conntrack", "zone=0")
    assert (r.returncode, r.stdout) == (0, b"")


@needs_engine
def test_offline_commands_and_errors():
    pcap = str(DATA / "udp.pcap")
    assert ovsct("-r", pcap, "ct-get-nconns").stdout == b"11\n"
    assert ovsct("-r", pcap, "--batch", "1", "states").stdout == UDP_STATES
    r = ovsct("-r", pcap, "ct-stats-show")
    assert r.stdout == b"Connections Stats:\n    Total: 11\n  UDP: 11\n"
    r = ovsct("-r", pcap, "-f", "json", "ct-get-nconns")
    assert json.loads(r.stdout) == {"nconns": 11}
    r = ovsct("-r", pcap, "flush-conntrack", "zone=abc")
    assert (r.returncode, r.stdout, r.stderr) == (
        2, b"", b"ovsct: failed to parse zone (Invalid argument)\n")
    r = ovsct("-r", "/nonexistent.pcap", "states")
    assert r.returncode == 1
    assert r.stderr.startswith(b"ovsct: /nonexistent.pcap: ")
    r = ovsct("-r", pcap, "version")
    assert r.returncode == 1 and b"not available with -r" in r.stderr
    r = ovsct("-r", pcap, "--action", "ct(bogus)", "states")
    assert r.returncode == 1 and r.stderr.startswith(b"ovsct: --action: ")


@needs_engine
def test_write_keeps_every_packet(tmp_path):
    out = tmp_path / "out.pcap"
    r = ovsct("-r", str(DATA / "sample.pcap"), "--write", str(out), "states")
    assert r.returncode == 0
    again = ovsct("-r", str(out), "states")
    assert again.stdout == r.stdout


@needs_engine
def test_write_after_nat(tmp_path):
    out = tmp_path / "nat.pcap"
    r = ovsct("-r", str(DATA / "udp.pcap"), "--action",
              "ct(commit,nat(src=10.9.9.9))", "--write", str(out),
              "dump-conntrack")
    assert r.returncode == 0
    assert b"reply=(src=10.0.0.2,dst=10.9.9.9,sport=53," in r.stdout
    # The written frames carry the translated source: read back, the
    # client's flows start from 10.9.9.9 and none from 10.0.0.1.
    r = ovsct("-r", str(out), "dump-conntrack")
    assert r.returncode == 0
    assert (b"udp,orig=(src=10.9.9.9,dst=10.0.0.2,sport=40000,dport=53),"
            b"reply=(src=10.0.0.2,dst=10.9.9.9,sport=53,dport=40000)\n"
            in r.stdout)
    assert b"orig=(src=10.0.0.1," not in r.stdout


# ---------------------------------------------------------------------------
# Options, names, help.

@needs_appctl
@pytest.mark.parametrize("argv", [
    [], ["--bogus", "version"], ["-x", "version"], ["-t"],
    ["--timeout=0", "version"], ["--timeout=abc", "version"],
    ["-t", "a", "-t", "b", "version"],
])
def test_option_errors_like_ovs_appctl(argv):
    same_as_appctl(ovsct(*argv), appctl(*argv))


def test_option_errors():
    for argv, text in ((["-f", "xml", "version"],
                        b"ovsct: value xml on -f or --format is invalid\n"),
                       (["--batch=2", "version"],
                        b"ovsct: --batch needs -r FILE\n"),
                       (["--pretty=1", "x"], b"ovsct: option '--pretty' "
                        b"doesn't allow an argument\n")):
        r = ovsct(*argv)
        assert (r.returncode, r.stderr) == (1, text)


def test_options_stop_at_the_command():
    opts, args = cli.parse_options(["-t", "x", "-fjson", "dump-conntrack",
                                    "-m", "-s"])
    assert (opts.target, opts.fmt, args) == ("x", "json",
                                             ["dump-conntrack", "-m", "-s"])
    opts, args = cli.parse_options(["--target=/a.ctl", "--", "-v"])
    assert (opts.target, args) == ("/a.ctl", ["-v"])


@needs_engine
def test_command_names():
    assert cli.command_name("dump-conntrack") == "dpctl/dump-conntrack"
    assert cli.command_name("dpctl/dump-conntrack") == "dpctl/dump-conntrack"
    assert cli.command_name("replay") == "ct/replay"
    assert cli.command_name("list-zone-tp") == "ct/list-zone-tp"
    assert cli.command_name("version") == "version"
    assert cli.command_name("list-commands") == "list-commands"
    assert cli.command_name("vlog/list") == "vlog/list"
    assert cli.command_name("no-such") == "no-such"


@needs_engine
def test_help_lists_every_table_command():
    from ovsct.commands import COMMANDS

    r = ovsct("--help")
    assert r.returncode == 0
    text = r.stdout.decode()
    for command in COMMANDS:
        assert "  %s %s" % (command.name, command.usage) in text or \
            "  %s\n" % command.name in text
        assert command.summary in text
    assert ovsct("-V").stdout == b"ovsct (ovsct) 0.1.0\n"


def test_bench_is_delegated():
    r = ovsct("bench", "--help")
    assert r.returncode == 0 and b"--conns" in r.stdout


# ---------------------------------------------------------------------------
# Client failures, compared with ovs-appctl.

@needs_appctl
def test_bad_target_like_golden():
    r = ovsct("-t", "/nonexistent.ctl", "dpctl/dump-conntrack")
    same_as_appctl(r, appctl("-t", "/nonexistent.ctl",
                             "dpctl/dump-conntrack"))
    expected = (OUTPUTS / "122_err_bad_target.stderr").read_bytes()
    assert STAMP.sub(b"TS|", r.stderr) == STAMP.sub(
        b"TS|", expected.replace(b"ovs-appctl:", b"ovsct:"))
    assert r.returncode == 1


@needs_appctl
def test_missing_pidfile_like_ovs_appctl(tmp_path):
    env = dict(os.environ, OVS_RUNDIR=str(tmp_path))
    ours = ovsct("-t", "nosuch", "version", env=env)
    # ovs-appctl's lines, then ours saying how to get a daemon.
    hint = (cli.NO_DAEMON_HINT % {"program": "ovsct"}).encode()
    assert ours.stderr.endswith(hint)
    ours.stderr = ours.stderr[:-len(hint)]
    same_as_appctl(ours, appctl("-t", "nosuch", "version", env=env))
    # Default target: ovsctd (ovs-appctl's is ovs-vswitchd).
    r = ovsct("version", env=env)
    assert r.stderr.endswith(b'ovsct: cannot read pidfile "%s/ovsctd.pid" '
                             b'(No such file or directory)\n'
                             % str(tmp_path).encode() + hint)


@pytest.fixture
def fake_server(tmp_path):
    """A socket whose server misbehaves as told: 'close' (no reply),
    'garbage', 'hang', or a list of byte strings sent one by one."""
    path = str(tmp_path / "fake.ctl")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(8)
    behaviour = {"mode": "close"}
    conns = []

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conns.append(conn)
            conn.recv(65536)
            mode = behaviour["mode"]
            if mode == "garbage":
                conn.sendall(b"xyz")
            if mode in ("close", "garbage"):
                conn.close()
            elif isinstance(mode, list):
                for piece in mode:
                    conn.sendall(piece)
    threading.Thread(target=serve, daemon=True).start()
    yield path, behaviour
    listener.close()
    for conn in conns:
        conn.close()


@needs_appctl
@pytest.mark.parametrize("mode", ["close", "garbage"])
def test_transaction_error_like_ovs_appctl(fake_server, mode):
    path, behaviour = fake_server
    behaviour["mode"] = mode
    theirs = appctl("-t", path, "version")
    ours = ovsct("-t", path, "version")
    same_as_appctl(ours, theirs)
    assert ours.stderr.endswith(b"ovsct: %s: transaction error (End of file)"
                                b"\n" % path.encode())


@needs_appctl
def test_timeout_like_ovs_appctl(fake_server):
    path, behaviour = fake_server
    behaviour["mode"] = "hang"
    theirs = appctl("--timeout=1", "-t", path, "version")
    ours = ovsct("--timeout=1", "-t", path, "version")
    assert ours.returncode == theirs.returncode == -signal.SIGALRM
    same_as_appctl(ours, theirs)


def test_split_and_escaped_replies(fake_server):
    path, behaviour = fake_server
    text = "a\\b \"q\" \u00e9\u4e2d\n" * 3
    reply = json.dumps({"id": 0, "result": text, "error": None},
                       ensure_ascii=False).encode()
    behaviour["mode"] = [reply[i:i + 3] for i in range(0, len(reply), 3)]
    with client.UnixctlClient.connect(path) as c:
        assert c.transact("version", [], timeout=10) == (None, text)
    r = ovsct("-t", path, "version")
    assert r.stdout == text.encode()


def test_server_error_text_goes_to_stderr(fake_server):
    path, behaviour = fake_server
    behaviour["mode"] = [b'{"id":0,"error":"two\\nlines\\n"}']
    r = ovsct("-t", path, "x")
    assert (r.returncode, r.stdout, r.stderr) == (
        2, b"", b"two\nlines\novsct: %s: server returned an error\n"
        % path.encode())


def test_json_results_are_printed_sorted(fake_server):
    path, behaviour = fake_server
    behaviour["mode"] = [b'{"id":0,"result":"","error":null}',
                         b'{"id":1,"result":{"b":1,"a":[1,2]},"error":null}']
    r = ovsct("-f", "json", "-t", path, "x")
    assert r.stdout == b'{"a":[1,2],"b":1}\n'


# ---------------------------------------------------------------------------
# Fast path of the client decoder.

def _rawtext(payload):
    buf = bytearray(payload)
    return jsonrpc.fast_reply(buf, 0, len(buf))


def test_fast_path_unescapes_only_newlines():
    reply = _rawtext(b'{"id":7,"result":"a\\nb\\n","error":null}')
    assert reply["id"] == 7 and str(reply["result"]) == "a\nb\n"
    # Anything else goes to the real parser.
    for payload in (b'{"id":7,"result":"a\\tb","error":null}',
                    b'{"id":7,"result":"a\\\\nb","error":null}',
                    b'{"id":7,"result":"a\\"b","error":null}',
                    b'{"id":7,"result":"a\\u0041","error":null}',
                    b'{"id":7,"error":"x"}',
                    b'{"error":null,"id":7,"result":"x"}'):
        assert _rawtext(payload) is None, payload


def test_fast_path_pieces_do_not_split_escapes():
    body = b"x" * 9 + b"\\n" + b"y" * 20
    reply = _rawtext(b'{"id":0,"result":"' + body + b'","error":null}')
    pieces = list(reply["result"].pieces(size=10))
    assert b"".join(pieces) == b"x" * 9 + b"\n" + b"y" * 20
    assert all(not p.endswith(b"\\") for p in pieces)


def test_rundir_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("OVS_RUNDIR", str(tmp_path))
    assert client.default_rundir() == str(tmp_path)
    (tmp_path / "ovsctd.pid").write_text("%d\n" % os.getpid())
    assert client.resolve_target("ovsctd") == str(
        tmp_path / ("ovsctd.%d.ctl" % os.getpid()))
    assert client.resolve_target("/x/y.ctl") == "/x/y.ctl"
    (tmp_path / "stale.pid").write_text("999999999\n")
    with pytest.raises(client.ClientError) as e:
        client.resolve_target("stale")
    assert str(e.value) == 'cannot read pidfile "%s/stale.pid" ' \
        '(No such process)' % tmp_path
