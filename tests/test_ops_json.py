"""Issue 13, JSON at scale: the client frames a reply once (Framer.skim()
crosses what cannot end it at C speed) and prints a big structured result
as the daemon sent it, with the same bytes as parsing and re-encoding it
with sorted keys would give."""

import json
import random

import pytest

from ovsct import client, jsonrpc
from enginecheck import needs_engine  # noqa: E402
from daemonlib import Ovsctd  # noqa: E402
from pcaplib import write_udp_flows_pcap  # noqa: E402


# Strings full of what could fool a scanner: quotes, backslashes, brackets.
_LEAVES = [1, -2.5, True, None, "plain", 'a"b\\', "x{]", "\\\\", "\u00e9",
           "[[{", "}", '\\"', ""]


def _value(rng, depth=0):
    r = rng.random()
    if depth > 4 or r < 0.3:
        return rng.choice(_LEAVES)
    if r < 0.65:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    return {rng.choice(["k", '"}', "[", "\\"]) + str(i): _value(rng, depth + 1)
            for i in range(rng.randint(0, 5))}


@pytest.mark.parametrize("seed", range(8))
def test_skim_frames_as_the_exact_scan(seed):
    """Messages cut at random places and skimmed in blocks of any size come
    out whole, in order, each once."""
    rng = random.Random(seed)
    for _ in range(150):
        msgs = [{"id": i, "result": _value(rng)}
                for i in range(rng.randint(1, 4))]
        data = b"".join(json.dumps(m, ensure_ascii=rng.random() < 0.5)
                        .encode() + b" " * rng.randint(0, 2) for m in msgs)
        framer, out, i = jsonrpc.Framer(), [], 0
        while i < len(data):
            k = rng.randint(1, 300)
            framer.feed(data[i:i + k])
            i += k
            while True:
                framer.skim(block=rng.choice([1, 3, 16, 64, 4096]))
                msg = framer.next_message(fast=False)
                if msg is None:
                    break
                out.append(msg)
                # The framing counted the containers of the top level.
                assert framer.last_top_closes == sum(
                    isinstance(v, (list, dict)) for v in msg.values())
        assert out == msgs


def test_balanced():
    def check(text):
        buf = bytearray(text)
        return jsonrpc.balanced(buf, 0, len(buf))
    assert check(b'{"a":[1,{"b":"]}"}]},[]')
    assert check(b'"x\\"]"')
    assert not check(b'{"a":[1]')
    assert not check(b'"open')
    assert not check(b'1],[2')          # Closes before it opens.


def _parse(payload):
    buf = bytearray(payload)
    return client._parse(buf, 0, len(buf))


def _framed(payload, seed=0):
    """'payload' received in random pieces, framed as the client frames it
    (skim() after each read, then next_text()), and parsed with the
    framing's count of top-level containers: no second pass."""
    rng = random.Random(seed)
    framer, i, msg = jsonrpc.Framer(), 0, None
    while msg is None:
        k = rng.randint(1, 1 << 20)
        framer.feed(payload[i:i + k])
        i += k
        framer.skim()
        text = framer.next_text()
        if text is not None:
            msg = client._parse(*text, top_closes=framer.last_top_closes)
    assert i >= len(payload)
    return msg


def test_big_structured_result_is_passed_through():
    rows = [{"a": i, "s": 'q"}]\\' * (i % 3)} for i in range(50000)]
    body = json.dumps(rows, separators=(",", ":"), sort_keys=True)
    assert len(body) > client.RAW_JSON_MIN
    msg = _parse(b'{"id":7,"result":%s,"error":null}' % body.encode())
    assert msg["id"] == 7 and msg["error"] is None
    raw = msg["result"]
    assert isinstance(raw, client.RawJSON)
    assert bytes(raw.data) == body.encode()
    assert raw.value() == rows
    # Not one container from head to tail: parsed the ordinary way.
    two = b'{"id":7,"result":%s,"x":[],"error":null}' % body.encode()
    assert _parse(two)["result"] == rows
    # The same through the framing, which counts the containers itself.
    for seed in range(3):
        raw = _framed(b'{"id":7,"result":%s,"error":null}' % body.encode(),
                      seed)["result"]
        assert isinstance(raw, client.RawJSON)
        assert bytes(raw.data) == body.encode()
        assert _framed(two, seed)["result"] == rows
    # Two lists side by side look like one from head to tail: not passed
    # through, but parsed (and refused, as ovs-appctl would).
    pair = body[:-1] + "],[" + body[1:]
    with pytest.raises(jsonrpc.ProtocolError):
        _framed(b'{"id":7,"result":%s,"error":null}' % pair.encode())
    # Small results are parsed (and so printed re-encoded, sorted).
    assert _parse(b'{"id":1,"result":{"b":1,"a":2},"error":null}')[
        "result"] == {"a": 2, "b": 1}


@needs_engine
def test_json_dump_through_the_daemon_matches_sorted_encoding(tmp_path):
    """A dump bigger than RAW_JSON_MIN, printed by the pass-through path,
    is byte for byte what ovs-appctl's json_to_string(JSSF_SORT) would
    print for the same value; --pretty parses it."""
    pcap = str(tmp_path / "flows.pcap")
    write_udp_flows_pcap(pcap, 6000)
    with Ovsctd("--pcap", pcap, timeout=60) as d:
        r = d.ovsct("-f", "json", "dump-conntrack")
        assert r.returncode == 0, r.stderr
        assert len(r.stdout) > client.RAW_JSON_MIN
        rows = json.loads(r.stdout)
        assert len(rows) == 6000
        assert r.stdout == json.dumps(rows, separators=(",", ":"),
                                      sort_keys=True).encode() + b"\n"
        pretty = d.ovsct("-f", "json", "--pretty", "dump-conntrack")
        assert json.loads(pretty.stdout) == rows
        assert pretty.stdout.startswith(b"[\n")
