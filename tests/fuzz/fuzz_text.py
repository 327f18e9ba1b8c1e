"""atheris (libFuzzer for Python) harnesses for the text parsers.

    python tests/fuzz/fuzz_text.py TARGET [libFuzzer options] [CORPUS...]

TARGET is one of:

  flush_tuple      dpctl/flush-conntrack arguments (zone=, ct_nw_src=,
                   ct_tp_dst=, icmp_*, mark=, labels=, the tuple grammar)
  ct_limits        dpctl/ct-set-limits, ct-del-limits, ct-get-limits
  ct_action        ct(...) action texts (ovsct.action.parse_ct_action)
  tp_args          ct/add-zone-tp and ct/del-zone-tp arguments
  jsonrpc_framing  the daemon's JSON-RPC stream framing and message decoding

The input is UTF-8 text (undecodable bytes are replaced), so the seed
corpus (tests/fuzz/corpus/TARGET/) is readable.  For the command targets
the text is split at spaces into arguments (a first word "del" or "get"
picks ct-del-limits or ct-get-limits, "del" ct/del-zone-tp).  A command
may only return a Result or raise CommandError with a non-empty text; the
action parser only return an Action (whose text parses back to an equal
Action) or raise ValueError; the framer only return texts or raise
ValueError, and the same for any split of the stream into reads.  After
every command input the engine behind it must pass its invariant check.
Anything else is a crash: libFuzzer saves the input.

Run by mk/fuzz.mk (`make fuzz-TARGET`); needs atheris, which
tools/bootstrap.sh installs from PyPI (its wheel carries libFuzzer).
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)

import atheris  # noqa: E402

with atheris.instrument_imports():
    import ovs.jsonrpc  # noqa: E402
    from ovsct import action as action_mod  # noqa: E402
    from ovsct import commands as commands_mod  # noqa: E402
    from ovsct import jsonrpc  # noqa: E402       THE JSON-RPC framing

from ovsct.engine import Conntrack  # noqa: E402

CommandError = commands_mod.CommandError
Context = commands_mod.Context
Result = commands_mod.Result
dispatch = commands_mod.dispatch

_ENGINE = None
_CTX = None


def _context():
    """One engine for the whole run (creating one per input would cost
    more than the parsing); the invariant check after each input catches
    any state a command left broken."""
    global _ENGINE, _CTX
    if _ENGINE is None:
        _ENGINE = Conntrack(manual_clock=True, sweeper=False, buckets=16)
        _CTX = Context(engine=_ENGINE, program="ovsctd")
    return _CTX


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _run_command(name: str, args: list) -> None:
    ctx = _context()
    try:
        result = dispatch(ctx, name, args)
    except CommandError as e:
        if not isinstance(e.text, str) or not e.text:
            raise AssertionError(f"{name} {args!r}: empty error text")
    else:
        if not isinstance(result, Result):
            raise AssertionError(f"{name} {args!r}: returned {result!r}")
        if not isinstance(result.text, str):
            raise AssertionError(f"{name} {args!r}: text {result.text!r}")
    ctx.engine.check_invariants()


def _args(text: str) -> list:
    return text.split(" ")[:8]


def target_flush_tuple(data: bytes) -> None:
    _run_command("dpctl/flush-conntrack", _args(_text(data)))


def target_ct_limits(data: bytes) -> None:
    args = _args(_text(data))
    name = "dpctl/ct-set-limits"
    if args and args[0] in ("del", "get"):
        name = f"dpctl/ct-{args.pop(0)}-limits"
    _run_command(name, args)


def target_tp_args(data: bytes) -> None:
    args = _args(_text(data))
    name = "ct/add-zone-tp"
    if args and args[0] == "del":
        name = "ct/del-zone-tp"
        args.pop(0)
    _run_command(name, args)


def target_ct_action(data: bytes) -> None:
    text = _text(data)
    try:
        a = action_mod.parse_ct_action(text)
    except ValueError as e:
        if not str(e):
            raise AssertionError(f"{text!r}: empty error text")
        return
    if not isinstance(a, action_mod.Action):
        raise AssertionError(f"{text!r}: returned {a!r}")
    again = action_mod.parse_ct_action(str(a))
    if again != a:
        raise AssertionError(f"{text!r} -> {str(a)!r} -> {again!r}")


def _frames(data: bytes, cuts: list) -> list:
    """Feeds 'data' to a framer in pieces cut at 'cuts'; returns the texts
    it gave and whether (and where) it refused the stream."""
    framer = jsonrpc.Framer()
    out = []
    prev = 0
    for cut in sorted(set(cuts)) + [len(data)]:
        framer.feed(data[prev:cut])
        prev = cut
        while True:
            try:
                t = framer.next_text()
            except jsonrpc.ProtocolError as e:
                if not str(e):
                    raise AssertionError("framer: empty error text")
                return out + [("error", str(e))]
            if t is None:
                break
            buf, start, end = t
            out.append(bytes(buf[start:end]))
    return out


def target_jsonrpc_framing(data: bytes) -> None:
    whole = _frames(data, [])
    cuts = [b % (len(data) + 1) for b in data[:8]]
    split = _frames(data, cuts)
    if whole != split:
        raise AssertionError(f"framing depends on the reads: {whole!r} vs "
                             f"{split!r} (cuts {cuts})")
    for t in whole:
        if isinstance(t, tuple):
            continue
        if t[:1] not in (b"{", b"[") or t[-1:] not in (b"}", b"]"):
            raise AssertionError(f"framed text {t!r} is not an object")
        try:        # As the daemon decodes it (unixctl/server.py).
            obj = jsonrpc.parse(bytearray(t), 0, len(t), fast=False)
        except jsonrpc.ProtocolError:
            continue
        msg = ovs.jsonrpc.Message.from_json(obj)
        if not isinstance(msg, (ovs.jsonrpc.Message, str)):
            raise AssertionError(f"{t!r}: from_json gave {msg!r}")


TARGETS = {
    "flush_tuple": target_flush_tuple,
    "ct_limits": target_ct_limits,
    "ct_action": target_ct_action,
    "tp_args": target_tp_args,
    "jsonrpc_framing": target_jsonrpc_framing,
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} "
                 "[libFuzzer options] [CORPUS...]")
    target = TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0]] + sys.argv[2:], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
