"""Issue 13, the CLI an operator meets first: per-command help made
locally from the command table, a helpful message when no daemon runs,
`ovsct states` without a capture, and `ovsct ... | head` ending quietly."""

import os
import subprocess
import sys

import pytest

from ovsct import cli
from enginecheck import needs_engine  # noqa: E402
from daemonlib import ROOT, Ovsctd  # noqa: E402
from pcaplib import write_udp_flows_pcap  # noqa: E402


def ovsct(*args, env=None):
    return subprocess.run([sys.executable, "-m", "ovsct.cli"] + list(args),
                          cwd=ROOT, capture_output=True, timeout=60,
                          env=env)


@pytest.fixture
def no_daemon(tmp_path):
    """An environment whose run directory holds no daemon: anything sent
    to one would fail."""
    return dict(os.environ, OVS_RUNDIR=str(tmp_path),
                PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH",
                                                              ""))


@needs_engine
def test_per_command_help_is_local(no_daemon):
    from ovsct.commands import COMMANDS

    for command in COMMANDS:
        short = command.name.split("/", 1)[1]
        if short in cli.BUILTINS:       # "list-commands" is unixctl's.
            short = command.name
        texts = [ovsct("help", short, env=no_daemon),
                 ovsct(short, "-h", env=no_daemon),
                 ovsct(command.name, "--help", env=no_daemon),
                 ovsct(short, "-m", "--help", env=no_daemon)]
        for r in texts:
            assert (r.returncode, r.stderr) == (0, b""), r.stderr
            assert r.stdout == texts[0].stdout
        text = texts[0].stdout.decode()
        first = text.splitlines()[0]
        assert first == ("usage: ovsct %s %s" % (
            command.name.split("/", 1)[1], command.usage)).rstrip()
        assert "ovs-appctl -t ovsctd %s" % command.name in text
        assert command.summary in text


def test_help_of_builtins_and_unknown(no_daemon):
    r = ovsct("help", "version", env=no_daemon)
    assert r.returncode == 0
    assert r.stdout.startswith(b"usage: ovsct version\n")
    r = ovsct("states", "--help", env=no_daemon)
    assert b"ovsct -r FILE states" in r.stdout
    r = ovsct("help", env=no_daemon)
    assert r.stdout == cli.help_text().encode()
    r = ovsct("help", "no-such", env=no_daemon)
    assert (r.returncode, r.stdout) == (1, b"")
    assert r.stderr == (b'ovsct: "no-such" is not a known command (use '
                        b'--help for a list)\n')


def test_states_needs_a_capture(no_daemon):
    r = ovsct("states", env=no_daemon)
    assert (r.returncode, r.stdout) == (1, b"")
    assert r.stderr == b"ovsct: states needs a capture: ovsct -r FILE states\n"


def test_no_daemon_says_how_to_start_one(no_daemon):
    r = ovsct("dump-conntrack", env=no_daemon)
    assert r.returncode == 1
    lines = r.stderr.decode().splitlines()
    assert lines[-2].startswith('ovsct: cannot read pidfile "')
    assert lines[-1] == cli.NO_DAEMON_HINT.rstrip("\n") % {
        "program": "ovsct"}
    assert '"ovsctd --detach"' in lines[-1] and "-r FILE" in lines[-1]


@needs_engine
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_output_closed_early_ends_quietly(tmp_path, fmt):
    """`ovsct dump-conntrack | head -c 100` on a dump much bigger than a
    pipe: no "transaction error (Broken pipe)", no traceback, the status of
    a command killed by SIGPIPE (141), and the daemon keeps serving."""
    pcap = str(tmp_path / "flows.pcap")
    write_udp_flows_pcap(pcap, 20000)
    with Ovsctd("--pcap", pcap, timeout=60) as d:
        ovsct_cmd = [sys.executable, "-m", "ovsct.cli", "-f", fmt,
                     "dump-conntrack"]
        producer = subprocess.Popen(ovsct_cmd, cwd=ROOT, env=d.env,
                                    stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
        head = subprocess.run(["head", "-c", "100"], stdin=producer.stdout,
                              capture_output=True, timeout=60)
        producer.stdout.close()
        stderr = producer.stderr.read()
        status = producer.wait(60)
        assert len(head.stdout) == 100
        assert stderr == b""
        assert status == cli.EXIT_PIPE
        r = d.ovsct("ct-get-nconns")
        assert r.stdout == b"20000\n"
