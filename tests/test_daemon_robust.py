"""ovsctd under abuse (issue 12, points 1 to 5): many connections, no file
descriptors left, clients that never read, a second daemon on the same
socket, huge numbers, invalid JSON-RPC ids, vlog/set errors, --monitor
restarts and a FIFO with no writer.  Every test drives a real daemon, with
the real ovs-appctl where it is the natural client.
"""

import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from enginecheck import require_engine

require_engine()

from daemonlib import OVS_APPCTL, ROOT, Ovsctd, alive  # noqa: E402
from pcaplib import write_udp_flows_pcap  # noqa: E402

needs_appctl = pytest.mark.skipif(not os.access(OVS_APPCTL, os.X_OK),
                                  reason="ovs-appctl not installed")


@contextlib.contextmanager
def nofile(soft):
    """This process's RLIMIT_NOFILE soft limit set to 'soft' (children
    started meanwhile inherit it), restored afterwards."""
    old = resource.getrlimit(resource.RLIMIT_NOFILE)
    hard = old[1]
    if hard != resource.RLIM_INFINITY and soft > hard:
        pytest.skip("RLIMIT_NOFILE hard limit %d < %d" % (hard, soft))
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, old)


def connect(path, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)         # Blocking: waits while the backlog is full.
    s.settimeout(timeout)
    return s


def request(s, method, params=(), req_id=1):
    s.sendall(json.dumps({"id": req_id, "method": method,
                          "params": list(params)}).encode())


def read_reply(s):
    buf = b""
    dec = json.JSONDecoder()
    while True:
        try:
            return dec.raw_decode(buf.decode())[0]
        except ValueError:
            chunk = s.recv(1 << 20)
            if not chunk:
                raise EOFError(buf[:200])
            buf += chunk


def transact(s, method, params=(), req_id=1):
    request(s, method, params, req_id)
    return read_reply(s)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def log_text(d):
    try:
        with open(d.log) as f:
            return f.read()
    except OSError:
        return ""


# ---------------------------------------------------------------------------
# 1. Descriptors above 1023.

@needs_appctl
def test_1100_connections_held_daemon_keeps_serving():
    """ovs.poller's select() died on descriptor 1024; the loop now polls
    with poll(2).  1,100 connections are opened and held; requests on the
    last ones (descriptors above 1023 in the daemon) are answered, as is
    ovs-appctl, and the socket and pidfile stay."""
    with nofile(4096), Ovsctd("--max-clients", "2000", detach=True) as d:
        held = []
        try:
            for _ in range(1100):
                held.append(connect(d.socket))
            # The last connections have the highest descriptors.
            for i, s in enumerate(held[-5:]):
                r = transact(s, "version", req_id=i)
                assert r["error"] is None and "ovsctd" in r["result"]
            r = d.appctl("dpctl/ct-get-nconns")
            assert r.returncode == 0, r.stderr
            assert r.stdout == b"0\n"
            assert alive(d.pid)
            assert os.path.exists(d.socket) and os.path.exists(d.pidfile)
        finally:
            for s in held:
                s.close()
        r = d.appctl("version")
        assert r.returncode == 0, r.stderr
        assert "Traceback" not in log_text(d)


# ---------------------------------------------------------------------------
# 2. The client cap and running out of descriptors.

@needs_appctl
def test_clients_over_the_cap_get_a_clear_refusal():
    with Ovsctd("--max-clients", "3") as d:
        held = [connect(d.socket) for _ in range(3)]
        try:
            # The held ones count once accepted: make sure they are.
            for i, s in enumerate(held):
                assert transact(s, "version", req_id=i)["error"] is None
            r = d.appctl("version")
            assert r.returncode == 2
            err = r.stderr.decode()
            assert "too many clients (3 connected, the maximum is 3" in err
            assert "--max-clients" in err
        finally:
            held.pop().close()
        deadline = time.monotonic() + 10
        while d.appctl("version").returncode:
            assert time.monotonic() < deadline, "slot not freed"
            time.sleep(0.05)
        for s in held:
            s.close()


def test_default_cap_follows_the_open_files_limit():
    """With 64 descriptors the default cap is 64 - 32 = 32 clients, so the
    daemon never runs out: the 33rd gets the refusal."""
    with nofile(64):
        d = Ovsctd().start()
    try:
        held = []
        try:
            for _ in range(32):
                held.append(connect(d.socket))
                transact(held[-1], "version")
            extra = connect(d.socket)
            r = transact(extra, "version")
            extra.close()
            assert r.get("result") is None
            assert "too many clients (32 connected, the maximum is 32" in \
                r["error"]
        finally:
            for s in held:
                s.close()
        _wait_served(d)
    finally:
        d.__exit__()


def _wait_served(d, timeout=10):
    """Waits until a new client is served (the daemon has seen the others
    leave)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with connect(d.socket, timeout=2) as s:
                if transact(s, "version")["error"] is None:
                    return
        except (OSError, EOFError):
            pass
        assert time.monotonic() < deadline, "not served again"
        time.sleep(0.05)


def test_out_of_descriptors_backs_off_and_rate_limits_its_log():
    """The cap set above what the descriptors allow: accept() fails with
    EMFILE.  The daemon used to spin (100% CPU, ~28k log lines in 7 s);
    now it pauses accepting, logs one line per 5 s plus a count of what it
    dropped, and serves again once descriptors are free."""
    with nofile(64):
        d = Ovsctd("--max-clients", "1000").start()
    try:
        held = []
        try:
            for _ in range(120):
                held.append(connect(d.socket))
            time.sleep(2)
            log = log_text(d)
            assert 1 <= log.count("accept failed: Too many open files") <= 2
            # Meanwhile the accepted clients are served.
            for s in held[:3]:
                assert transact(s, "version")["error"] is None
            time.sleep(4)
            log = log_text(d)
            assert log.count("accept failed: Too many open files") <= 3
            assert "due to excessive rate" in log
        finally:
            for s in held:
                s.close()
        _wait_served(d)
        assert alive(d.pid)
    finally:
        d.__exit__()


# ---------------------------------------------------------------------------
# 3. Slow clients.

@pytest.fixture(scope="module")
def big_pcap(tmp_path_factory):
    path = tmp_path_factory.mktemp("robust") / "flows.pcap"
    write_udp_flows_pcap(str(path), 100000)
    return str(path)


def _never_reading(d, n, method, params, fmt_json=False):
    socks = []
    for i in range(n):
        s = connect(d.socket)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        if fmt_json:
            assert transact(s, "set-options",
                            ["--format", "json"])["error"] is None
        request(s, method, params, req_id=100 + i)
        socks.append(s)
    return socks


@needs_appctl
@pytest.mark.parametrize("fmt_json", [False, True], ids=["text", "json"])
def test_clients_that_never_read_hold_little_and_give_it_back(big_pcap,
                                                              fmt_json):
    """100 clients ask for a dump of 100,000 connections (about 10 MB of
    text, 30 MB of JSON each) and never read.  Each holds at most one
    small piece in the daemon (before: the whole JSON reply, or a 1 MB
    text piece), other clients are served meanwhile, and the memory comes
    back once they leave."""
    with Ovsctd("--pcap", big_pcap) as d:
        with connect(d.socket) as s:
            transact(s, "dpctl/dump-conntrack")     # Warm up the path.
        time.sleep(0.5)
        base = rss_kb(d.pid)
        socks = _never_reading(d, 100, "dpctl/dump-conntrack", [],
                               fmt_json)
        try:
            time.sleep(2)
            t0 = time.monotonic()
            r = d.appctl("dpctl/ct-get-nconns")
            assert r.returncode == 0 and r.stdout == b"100000\n"
            assert time.monotonic() - t0 < 5
            during = rss_kb(d.pid)
            per_client = (during - base) / 100
            assert per_client < 512, (base, during)
        finally:
            for s in socks:
                s.close()
        time.sleep(1)
        d.appctl("version")             # A pass of the loop after trim.
        time.sleep(0.5)
        after = rss_kb(d.pid)
        assert after - base < 16 << 10, (base, during, after)


def test_json_dump_is_streamed_and_complete(tmp_path):
    """The JSON dump comes from the engine batch by batch; all entries are
    there, once each, as the text dump lists them."""
    pcap = str(tmp_path / "f.pcap")
    write_udp_flows_pcap(pcap, 5000)
    with Ovsctd("--pcap", pcap) as d, connect(d.socket) as s:
        assert transact(s, "set-options", ["--format", "json"])["error"] \
            is None
        r = transact(s, "dpctl/dump-conntrack", req_id=2)
        assert r["error"] is None and r["id"] == 2
        entries = r["result"]
        assert len(entries) == 5000
        keys = {(e["orig"]["src"], e["orig"]["sport"]) for e in entries}
        assert len(keys) == 5000
        assert all(e["protocol"] == "udp" and e["orig"]["dst"] ==
                   "10.200.0.1" for e in entries)
        r = transact(s, "dpctl/dump-conntrack", ["zone=5"], req_id=3)
        assert r["result"] == []


# ---------------------------------------------------------------------------
# 4. One daemon per socket.

@needs_appctl
def test_second_daemon_on_a_live_socket_refuses_to_start():
    with Ovsctd() as first:
        path = first.socket
        second = Ovsctd("--unixctl=" + path, "--no-pidfile")
        with pytest.raises(RuntimeError) as exc:
            second.start()
        assert "another process is listening on this control socket" in \
            str(exc.value)
        assert "exited with 1" in str(exc.value)
        assert os.path.exists(path)
        r = first.appctl("version")
        assert r.returncode == 0, r.stderr


def test_stale_socket_is_replaced_and_only_our_own_is_removed(tmp_path):
    path = str(tmp_path / "ctl")
    d1 = Ovsctd("--unixctl=" + path, "--no-pidfile")
    try:
        _start_at(d1, path)
        os.kill(d1.pid, signal.SIGKILL)
        d1.proc.wait()
        assert os.path.exists(path)             # Left behind.
    finally:
        d1.__exit__()
    d2 = Ovsctd("--unixctl=" + path, "--no-pidfile")
    try:
        _start_at(d2, path)                     # The stale one replaced.
        # Another process takes the path over (after removing ours).
        os.unlink(path)
        other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        other.bind(path)
        other.listen(1)
        try:
            os.kill(d2.pid, signal.SIGTERM)
            d2.wait_exit(10)
            assert os.path.exists(path), "removed another process's socket"
        finally:
            other.close()
    finally:
        d2.__exit__()


def _start_at(d, path):
    """Starts 'd' whose socket is at 'path' (Ovsctd.start() waits for the
    default socket name)."""
    d.proc = subprocess.Popen(
        [sys.executable, "-m", "unixctl.main", "--no-chdir",
         "--log-file=" + d.log] + d.args, env=d.env, cwd=ROOT,
        stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    d.pid = d.proc.pid
    deadline = time.monotonic() + 20
    while True:
        try:
            with connect(path, timeout=2) as s:
                if transact(s, "version")["error"] is None:
                    return
        except (OSError, EOFError):
            pass
        assert d.proc.poll() is None, "ovsctd exited"
        assert time.monotonic() < deadline, "ovsctd did not start"
        time.sleep(0.05)


# ---------------------------------------------------------------------------
# 5. Smaller points.

HUGE = "1" * 5000

# Argument lists with numbers where the commands take them; each number is
# replaced in turn.
SAMPLES = [
    ["5"], ["zone=5"], ["-m", "zone=5"], ["-s", "ovsct@ovsct", "zone=5"],
    ["gt=1"], ["ovsct@ovsct", "10"], ["zone=1,limit=3"], ["default=10"],
    ["default=10", "zone=1,limit=3"], ["zone=1,2"], ["default", "zone=1"],
    ["zone=5", "ct_nw_src=10.0.0.1,ct_nw_dst=10.0.0.2,ct_nw_proto=17,"
     "ct_tp_src=1,ct_tp_dst=2"],
    ["ct_nw_proto=1,icmp_type=8,icmp_code=0,icmp_id=5"],
    ["zone=5", "mark=1/0xff"], ["labels=0x1/0x1"],
    ["zone=5", "udp_first=7", "tcp_syn_sent=30"],
    ["--may-exist", "zone=5", "icmp_reply=9"], ["--if-exists", "zone=5"],
]


@needs_appctl
@pytest.mark.parametrize("args", [
    ["dpctl/ct-set-maxconns", HUGE],
    ["dpctl/dump-conntrack", "zone=" + HUGE],
    ["dpctl/ct-bkts", "gt=" + HUGE],
    ["dpctl/flush-conntrack", "zone=" + HUGE],
    ["dpctl/flush-conntrack", "ct_nw_proto=17,ct_tp_src=" + HUGE],
    ["dpctl/ct-set-limits", "zone=1,limit=" + HUGE],
    ["dpctl/ct-set-limits", "default=" + HUGE],
    ["ct/replay", "/nonexistent", "ct(zone=%s)" % HUGE],
])
def test_huge_decimal_is_a_parse_error(daemon_module, args):
    r = daemon_module.appctl(*args)
    assert r.returncode == 2
    err = r.stderr.decode()
    assert "internal error" not in err and "Traceback" not in err
    assert "digits" not in err                  # Python's own message.


@pytest.fixture(scope="module")
def daemon_module():
    with Ovsctd() as d:
        yield d


def test_every_command_parses_huge_numbers_without_internal_error():
    """Each command of the table, with every number of its usual arguments
    replaced by 5,000 digits: a CommandError, never another exception (the
    daemon reports those as "internal error")."""
    import re

    from ovsct.commands import COMMANDS, CommandError, Context, dispatch
    from ovsct.engine import Conntrack

    with Conntrack(manual_clock=True, sweeper=False) as engine:
        ctx = Context(engine=engine, program="ovsctd")
        for c in COMMANDS:
            if c.name == "ct/replay":
                continue
            for sample in SAMPLES:
                for i, arg in enumerate(sample):
                    for base in ("", "0x", "0"):
                        big = re.sub(r"[0-9]+", base + HUGE, arg)
                        args = sample[:i] + [big] + sample[i + 1:]
                        try:
                            dispatch(ctx, c.name, args)
                        except CommandError:
                            pass


def test_nan_and_infinite_ids_close_the_connection(daemon_module):
    """NaN and Infinity are not JSON: like OVS's parser (lib/json.c), the
    request is a protocol error and the connection closes without a reply
    (before: the id was echoed back as invalid JSON)."""
    d = daemon_module
    for bad in (b"NaN", b"Infinity", b"-Infinity", b"1e400"):
        with connect(d.socket) as s:
            s.sendall(b'{"id":' + bad + b',"method":"version","params":[]}')
            assert s.recv(4096) == b""
    with connect(d.socket) as s:
        assert transact(s, "version", req_id=1.5)["id"] == 1.5


@needs_appctl
def test_vlog_set_errors_as_ovs(daemon_module):
    """lib/vlog.c vlog_unixctl_set(): the first bad spec is an error reply
    with vlog_set_levels_from_string()'s text."""
    d = daemon_module
    cases = {
        "bogus": 'no destination, level, or module "bogus"',
        "file:dbg:info": "cannot specify multiple levels",
        "file:console": "cannot specify multiple destinations",
        "unixctl:ovsctd:dbg": "cannot specify multiple modules",
        "PATTERN": "missing destination",
        "PATTERN:nowhere:%m": 'unknown destination "nowhere"',
        "FACILITY:nowhere": "invalid facility",
    }
    for spec, text in cases.items():
        r = d.appctl("vlog/set", spec)
        assert r.returncode == 2, spec
        assert r.stderr.decode() == text + "\novs-appctl: ovsctd: server " \
            "returned an error\n", spec
    # A spec without a level means dbg.
    assert d.appctl("vlog/set", "unixctl:file").returncode == 0
    line = [ln for ln in d.appctl("vlog/list").stdout.decode().splitlines()
            if ln.startswith("unixctl ")][0]
    assert line.split()[3] == "dbg"
    assert d.appctl("vlog/set", "unixctl:file:info").returncode == 0
    assert d.appctl("vlog/set", "PATTERN:file:%m").returncode == 0


def _monitored():
    d = Ovsctd("--monitor", detach=True)
    d.start()
    return d


def _ppid(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rpartition(")")[2].split()[1])


def _wait_new_pid(d, old, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(d.pidfile) as f:
                pid = int(f.read())
        except (OSError, ValueError):
            pid = 0
        if pid and pid != old and alive(pid):
            d.pid = pid
            if d._answers():
                return pid
        time.sleep(0.05)
    raise AssertionError("no restart:\n" + log_text(d))


def _stop_monitored(d, monitor):
    try:
        d.__exit__()
    finally:
        if alive(monitor):
            os.kill(monitor, signal.SIGTERM)


@needs_appctl
def test_monitor_restarts_after_sigkill():
    d = _monitored()
    monitor = _ppid(d.pid)
    try:
        old = d.pid
        os.kill(old, signal.SIGKILL)
        _wait_new_pid(d, old)
        r = d.appctl("version")
        assert r.returncode == 0, r.stderr
        assert _ppid(d.pid) == monitor
    finally:
        _stop_monitored(d, monitor)


@needs_appctl
def test_fatal_exception_is_logged_and_monitor_restarts():
    fault = None
    d = Ovsctd("--monitor", detach=True)
    fault = os.path.join(d.tmpdir, "fault")
    d.env["OVSCTD_TEST_FAULT"] = fault
    d.start()
    monitor = _ppid(d.pid)
    try:
        old = d.pid
        open(fault, "w").close()
        d.appctl("version")             # Wakes the loop, which fails.
        _wait_new_pid(d, old)
        log = log_text(d)
        assert "fatal error in the main loop; exiting" in log
        assert "RuntimeError: fault injected" in log
        assert _ppid(d.pid) == monitor
        assert d.appctl("version").returncode == 0
    finally:
        _stop_monitored(d, monitor)


def test_fatal_exception_without_monitor_exits_nonzero():
    d = Ovsctd()
    fault = os.path.join(d.tmpdir, "fault")
    d.env["OVSCTD_TEST_FAULT"] = fault
    d.start()
    try:
        socket_path, pidfile = d.socket, d.pidfile
        open(fault, "w").close()
        with contextlib.suppress(OSError, EOFError):
            with connect(socket_path, timeout=5) as s:
                transact(s, "version")
        assert d.wait_exit(10) == 5
        assert "fatal error in the main loop" in log_text(d)
        assert not os.path.exists(socket_path)
        assert not os.path.exists(pidfile)
    finally:
        d.__exit__()


@needs_appctl
def test_replay_of_a_fifo_without_writer_gives_up(tmp_path):
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    pcap = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                        "udp.pcap")
    with Ovsctd() as d:
        r = d.appctl("ct/replay", fifo, timeout=30)
        assert r.returncode == 2
        assert ("cannot replay %s: no data within 5 s (a FIFO with no "
                "writer?)" % fifo) in r.stderr.decode()
        # The (single) packet worker is free again.
        r = d.appctl("ct/replay", pcap, timeout=30)
        assert r.returncode == 0, r.stderr
        # A FIFO with a writer is replayed.
        with open(pcap, "rb") as f:
            data = f.read()

        def write():
            with open(fifo, "wb") as w:
                w.write(data)
        t = threading.Thread(target=write)
        t.start()
        try:
            r = d.appctl("ct/replay", fifo, timeout=30)
        finally:
            t.join(10)
        assert r.returncode == 0, r.stderr
