"""ovsctd --state-file with a real daemon and the real ovs-appctl.

Traffic is replayed through ct/replay (TCP with window scaling and data,
UDP, ICMP, SNAT), settings are changed, the periodic save catches up, the
daemon is SIGKILLed and a new one started on the same state file: its dump
is the dump from before with timeouts reduced by the elapsed time, its
settings are the same, the TCP connection continues est inside its window
and inv outside it, and replies to the translated tuples are translated
back.  A corrupted or truncated state file is logged and set aside; the
daemon still starts, with an empty table.
"""

from __future__ import annotations

import os
import re
import signal
import time

import pytest

import framebuild as fb
from daemonlib import Ovsctd
from ovsct.engine import pcap_write
from persistlib import CLIENT, SERVER, tcp_handshake

SNAT_ACTION = "ct(commit,zone=7,nat(src=10.1.1.240-10.1.1.250:3000-3010))"
TIMEOUT_RE = re.compile(r"timeout=(\d+)")
NAT_REPLY_RE = re.compile(r"reply=\(src=10\.0\.0\.2,dst=(10\.1\.1\.\d+),"
                          r"sport=53,dport=(\d+)\)")


def write_pcap(path, frames: list[bytes]) -> str:
    offsets = [0]
    for f in frames:
        offsets.append(offsets[-1] + len(f))
    pcap_write(str(path), b"".join(frames), offsets)
    return str(path)


def ok(r) -> str:
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r.stdout.decode()


def dump(d) -> list[str]:
    return sorted(ok(d.appctl("dpctl/dump-conntrack", "-s")).splitlines())


def settings(d) -> tuple:
    return (ok(d.appctl("dpctl/ct-get-maxconns")),
            ok(d.appctl("dpctl/ct-get-sweep-interval")),
            ok(d.appctl("dpctl/ct-get-tcp-seq-chk")),
            ok(d.appctl("dpctl/ct-get-limits")),
            ok(d.appctl("ct/list-zone-tp")))


def wait_saved(path: str, saves: int = 2, timeout: float = 10.0) -> None:
    """Waits until 'path' was replaced 'saves' times from now: the last
    of those saves began after every change made before this call."""
    def stamp():
        try:
            st = os.stat(path)
            return (st.st_ino, st.st_mtime_ns)
        except FileNotFoundError:
            return None

    last = stamp()
    deadline = time.monotonic() + timeout
    while saves:
        assert time.monotonic() < deadline, "no periodic save"
        time.sleep(0.02)
        now = stamp()
        if now != last:
            saves -= 1
            last = now


def strip_timeouts(lines: list[str]) -> list[str]:
    return [TIMEOUT_RE.sub("timeout=T", line) for line in lines]


def load_traffic(d, tmp_path) -> None:
    frames = [f for batch in tcp_handshake(40000) for f in batch]
    frames += [fb.udp4(CLIENT, SERVER, 2000 + i, 53) for i in range(20)]
    frames += [fb.udp4(SERVER, CLIENT, 53, 2000),
               fb.icmp4_query(CLIENT, SERVER, 8, 77)]
    text = ok(d.appctl("ct/replay", write_pcap(tmp_path / "main.pcap",
                                               frames)))
    assert "27 packets" in text
    nat = [fb.udp4(CLIENT, SERVER, 6000 + i, 53) for i in range(3)]
    text = ok(d.appctl("ct/replay", write_pcap(tmp_path / "nat.pcap", nat),
                       SNAT_ACTION))
    assert "new|trk|snat: 3" in text
    ok(d.appctl("dpctl/ct-set-maxconns", "5000"))
    ok(d.appctl("dpctl/ct-set-sweep-interval", "700"))
    ok(d.appctl("dpctl/ct-set-limits", "default=900", "zone=7,limit=50"))
    ok(d.appctl("ct/add-zone-tp", "zone=3", "icmp_first=17"))


def test_sigkill_and_restart_keeps_the_state(tmp_path):
    state = str(tmp_path / "ct.state")
    with Ovsctd("--state-file=" + state,
                "--save-interval=0.2") as a:
        load_traffic(a, tmp_path)
        wait_saved(state)
        before = dump(a)
        before_settings = settings(a)
        t_before = time.monotonic()
        os.kill(a.pid, signal.SIGKILL)
        a.wait_exit()
    assert len(before) == 25
    assert any("ESTABLISHED" in line for line in before)

    with Ovsctd("--state-file=" + state) as b:
        after = dump(b)
        elapsed = time.monotonic() - t_before
        assert strip_timeouts(after) == strip_timeouts(before)
        for x, y in zip(before, after):
            t0 = int(TIMEOUT_RE.search(x).group(1))
            t1 = int(TIMEOUT_RE.search(y).group(1))
            assert 0 <= t0 - t1 <= elapsed + 1, (x, y)
        assert settings(b) == before_settings
        with open(b.log) as f:
            assert "restored 25 of 25 connections from %s" % state in f.read()

        # The TCP connection goes on: in its window est, outside inv.
        cont = [fb.tcp4(CLIENT, SERVER, 40000, 80, "PA", 1006, 5007,
                        b"more"),
                fb.tcp4(SERVER, CLIENT, 80, 40000, "A", 5007, 1010),
                fb.tcp4(CLIENT, SERVER, 40000, 80, "PA", 900_000_000, 5007,
                        b"x")]
        text = ok(b.appctl("ct/replay", write_pcap(tmp_path / "cont.pcap",
                                                   cont)))
        assert "  est|trk: 1\n" in text and "  est|rpl|trk: 1\n" in text
        assert "  inv|trk: 1\n" in text

        # Replies to the translated tuples are translated back.
        translated = NAT_REPLY_RE.findall("\n".join(after))
        assert len(translated) == 3
        replies = [fb.udp4(SERVER, addr, 53, int(port))
                   for addr, port in translated]
        text = ok(b.appctl("ct/replay",
                           write_pcap(tmp_path / "reply.pcap", replies),
                           SNAT_ACTION))
        assert "  est|rpl|trk|dnat: 3\n" in text, text
        assert ok(b.appctl("dpctl/ct-get-nconns")).strip() == "25"


def test_clean_exit_saves(tmp_path):
    state = str(tmp_path / "ct.state")
    with Ovsctd("--state-file=" + state,
                "--save-interval=3600") as a:
        ok(a.appctl("ct/replay", write_pcap(
            tmp_path / "u.pcap", [fb.udp4(CLIENT, SERVER, 1, 53)])))
        before = dump(a)
        ok(a.appctl("exit"))
        assert a.wait_exit() == 0
    with Ovsctd("--state-file=" + state) as b:
        assert strip_timeouts(dump(b)) == strip_timeouts(before)


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_bad_state_file_is_set_aside(tmp_path, damage):
    state = str(tmp_path / "ct.state")
    with Ovsctd("--state-file=" + state,
                "--save-interval=3600") as a:
        load_traffic(a, tmp_path)
        ok(a.appctl("ct/save"))
        os.kill(a.pid, signal.SIGKILL)
        a.wait_exit()
    with open(state, "r+b") as f:
        data = bytearray(f.read())
        if damage == "flip":
            data[len(data) // 2] ^= 0x01
        else:
            del data[len(data) - 100:]
        f.seek(0)
        f.truncate()
        f.write(data)
    bad = bytes(data)

    with Ovsctd("--state-file=" + state) as b:
        assert dump(b) == []
        assert ok(b.appctl("dpctl/ct-get-nconns")).strip() == "0"
        assert ok(b.appctl("dpctl/ct-get-maxconns")).strip() == "3000000"
        with open(b.log) as f:
            log = f.read()
        why = "corrupt (checksum mismatch)"
        if damage == "truncate":
            why = "truncated: %d bytes, expected %d" % (
                len(bad), len(bad) + 100)
        assert "cannot restore %s: %s; starting with an empty table" % (
            state, why) in log, log
        with open(state + ".rejected", "rb") as f:
            assert f.read() == bad
        # The same file through ct/restore: refused with the same reason.
        r = b.appctl("ct/restore", state + ".rejected")
        assert r.returncode == 2
        assert r.stderr.decode().startswith(
            "ovsctd: cannot restore %s: %s\n" % (state + ".rejected", why))


def test_save_and_restore_commands(tmp_path):
    path = str(tmp_path / "manual.state")
    with Ovsctd() as a:
        r = a.appctl("ct/save")
        assert r.returncode == 2
        assert r.stderr.decode().startswith(
            "ovsctd: no FILE given and no --state-file set\n")
        load_traffic(a, tmp_path)
        text = ok(a.appctl("ct/save", path))
        assert text == ("saved 25 connections, 1 zone limits, 1 timeout "
                        "policies to %s (%d bytes)\n"
                        % (path, os.path.getsize(path)))
        before = dump(a)
        before_settings = settings(a)
        # Restoring into the same table: all duplicates.
        text = ok(a.appctl("ct/restore", path))
        assert text.startswith("restored 0 of 25 connections from %s "
                               "(25 duplicates, 0 expired, 0 refused by "
                               "limits)" % path), text
        r = a.appctl("ct/restore", str(tmp_path / "missing"))
        assert r.returncode == 2
        assert r.stderr.decode().startswith(
            "ovsctd: cannot restore %s: cannot open: No such file or "
            "directory\n" % (tmp_path / "missing"))
    with Ovsctd() as b:
        r = b.ovsct("-f", "json", "restore", path)
        assert r.returncode == 0, r.stderr
        assert b'"restored": 25' in r.stdout.replace(b'":25', b'": 25')
        assert strip_timeouts(dump(b)) == strip_timeouts(before)
        assert settings(b) == before_settings
