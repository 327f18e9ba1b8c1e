"""THE command table and its handlers.

Every front end (the ovsctd unixctl daemon, the offline `ovsct` CLI, help
and the man-page check) uses COMMANDS.  A handler takes a Context and the
unixctl params (options included, command name excluded) and returns a
Result, or raises CommandError whose text is the whole error body.  Only
the unixctl adapter turns those into reply / reply_error.

dpctl/* commands reproduce ovs-vswitchd's dpctl_unixctl_handler() and the
dpctl_* handlers of lib/dpctl.c (upstream grammar, REFERENCE.md sections
1.1-1.3, 2 and 8):

* leading params starting with "-" are eaten as options (-m, -s, bundled
  -ms, --more, --statistics, --names, --no-names, --clear, --may-create);
  anything else fails with "Unrecognized option X";
* the optional [dp] is recognised only if it names our datapath,
  "ovsct@ovsct", or the alias "netdev@ovs-netdev" (so that scripts written
  for a userspace ovs-vswitchd work unchanged).  Otherwise the handler's
  internal maximum argument count decides, as in opt_dpif_open(): below it
  our single datapath is used, at it "datapath not found";
* numbers are parsed strictly (DIFFERENCES.md #5).

ct/* are our own commands: timeout policies with ovs-vsctl's texts, and a
capture replay.  version, list-commands, exit and vlog/* belong to the
daemon.

Neighbours: format.py (all text and JSON shapes), action.py (ct() syntax,
OVS's key=value splitter and C-style numbers), engine.py (Conntrack, loaded
lazily so that the table can be imported without the C extension).
"""

from __future__ import annotations

import errno
import os
import re
import sys
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import Any, Callable, NoReturn

from ovsct import format as fmt
from ovsct.action import iter_key_values, parse_c_uint, parse_ct_action
from ovsct.errors import NotFound, TableFull

__all__ = [
    "Command", "COMMANDS", "Context", "Result", "CommandError", "DATAPATH",
    "DATAPATH_ALIASES", "find_command", "dispatch",
]

DATAPATH = "ovsct@ovsct"
# Names accepted as our datapath in [dp]: ours, and the name of the
# userspace datapath of a real ovs-vswitchd.
DATAPATH_ALIASES = frozenset([DATAPATH, "netdev@ovs-netdev"])
UNBOUNDED = sys.maxsize
DEFAULT_REPLAY_ACTION = "ct(commit)"

# ---------------------------------------------------------------------------
# Error texts (REFERENCE.md 1 and 2.1, OBSERVED.md 7), in one place.  dpctl
# texts get "<program>: " and " (<strerror>)" from fmt.error_line().

ERR_UNKNOWN_COMMAND = ('"{}" is not a valid command (use "list-commands" '
                       'to see a list of valid commands)')
ERR_TOO_FEW = '"{}" command requires at least {} arguments'
ERR_TOO_MANY = '"{}" command takes at most {} arguments'
ERR_OPTION = "Unrecognized option {}"
ERR_DP_NOT_FOUND = "datapath not found"
ERR_OPEN_DPIF = "Cannot open dpif"
ERR_DUMP_START = "starting conntrack dump"
ERR_FLUSH_ZONE = "failed to parse zone"
ERR_FLUSH_MARK = "failed to parse mark"
ERR_FLUSH_LABELS = "failed to parse labels"
ERR_FIELD_MISSING = "field {} missing value"
ERR_L3_MISMATCH = "the L3 protocol does not match {}"
ERR_SET_TWICE = "{} is set multiple times"
ERR_FIELD_PARSE = "failed to parse field {}"
ERR_L4_FIELDS = "invalid L4 fields"
ERR_TUPLE_FIELD = "invalid conntrack tuple field: {}"
ERR_PORT_NO_PROTO = "port is set without protocol"
ERR_INVALID_ARGS = "invalid arguments"
ERR_FLUSH = "failed to flush conntrack"
ERR_MAXCONNS_PARSE = "maxconns missing or malformed"
ERR_MAXCONNS_SET = "ct set maxconns failed"
ERR_MAXCONNS_GET = "maxconns could not be retrieved"
ERR_NCONNS_GET = "nconns could not be retrieved"
ERR_TCP_SEQ_CHK_SET = "{} TCP sequence checking failed"
ERR_TCP_SEQ_CHK_GET = "TCP sequence checking query failed"
ERR_TOO_FEW_ARGS = "too few arguments"
ERR_DEFAULT_LIMIT = "invalid default limit"
ERR_ZONE_LIMIT_FIELD = "invalid zone limit field: {}"
ERR_ZONE_LIMIT = "failed to parse zone limit"
ERR_SET_LIMIT = "failed to set conntrack limit"
ERR_LIMIT_ARG = "invalid argument {}"
ERR_LIMIT_ZONE = "invalid zone"
ERR_DEL_LIMIT = "failed to delete conntrack limit"
ERR_GET_LIMIT = "failed to get conntrack limit {}"
ERR_SWEEP_GET = "failed to get the sweep interval"
ERR_SWEEP_PARSE = "invalid sweep value"
ERR_SWEEP_SET = "failed to set the sweep interval"
# ct/*-zone-tp: ovs-vsctl's texts where it has one.
ERR_TP_ZONE = 'invalid zone "{}": expected zone=N with N in 0..65535'
ERR_TP_EXISTS = "zone id {} already exists"
ERR_TP_MISSING = "zone id {} does not exist"
ERR_TP_KEY = "{} is not one of the allowed values ([{}])"
ERR_TP_VALUE = 'invalid value "{}" for {}: expected 0..4294967295'
ERR_TP_ARG = 'invalid timeout policy "{}": expected key=value'
ERR_TP_SET = "zone id {}: failed to set the timeout policy"
# ct/replay.
ERR_REPLAY_ACTION = "invalid action {}: {}"
ERR_REPLAY = "cannot replay {}: {}"


# ---------------------------------------------------------------------------
# Table types.

@dataclass
class Context:
    """What a handler may use: the engine and the name errors start with
    (OVS's program_name).  'stream_dump': dump-conntrack's text comes in
    pieces, in hash order as OVS prints it (the daemon sends each piece as
    the next is formatted); otherwise it is one sorted string (the offline
    CLI, whose output then does not depend on the bucket layout)."""

    engine: Any
    program: str = "ovsctd"
    stream_dump: bool = False


class Result:
    """A command's success: 'text' is the unixctl body exactly as OVS's
    handler produced it (the unixctl layer adds a final newline to a
    non-empty body lacking one), 'data' the JSON-able structured result.
    Either may be given as a callable, evaluated on first use, so that a
    dump is only formatted in the form the client asked for."""

    __slots__ = ("_text", "_data")

    def __init__(self, text: str | Callable[[], str] = "",
                 data: Any = None) -> None:
        self._text = text
        self._data = data

    @property
    def text(self) -> str:
        if callable(self._text):
            self._text = self._text()
        if not isinstance(self._text, str):
            self._text = "".join(self._text)
        return self._text

    @property
    def data(self) -> Any:
        if callable(self._data):
            self._data = self._data()
        return self._data

    def value(self, as_json: bool) -> Any:
        """The one rendering a client asked for.  Front ends should call
        this (not both properties) in the thread that ran the handler: for
        dump-conntrack each property is a full walk of the table."""
        return self.data if as_json else self.text

    def stream(self, as_json: bool) -> Any:
        """Like value(), but text made in pieces stays an iterator of str
        pieces, for a front end that can send them as they come."""
        if as_json:
            return self.data
        if callable(self._text):
            self._text = self._text()
        return self._text

    def __repr__(self) -> str:
        return f"Result(text={self.text!r}, data={self.data!r})"


class CommandError(Exception):
    """A command's failure; 'text' is the whole error body (possibly
    several lines) without the final newline."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


Handler = Callable[[Context, list[str]], Result]


@dataclass(frozen=True)
class Command:
    """One entry of the table.  'min_args'/'max_args' are unixctl param
    counts, options included (UNBOUNDED: no maximum).  'deferred' marks a
    handler that may run for long (it reads a file and runs a whole
    capture): the daemon may run it off its main loop."""

    name: str
    usage: str
    min_args: int
    max_args: int
    handler: Handler
    read_only: bool
    group: str
    summary: str
    deferred: bool = False


# ---------------------------------------------------------------------------
# Shared helpers.

_DECIMAL = re.compile(r"[0-9]+")


def _scan_decimal(text: str, bits: int) -> int | None:
    """ovs_scan("%"SCNuN) made strict: decimal digits only, nothing after
    them, no wrap-around.  None if 'text' is not such a number."""
    if not _DECIMAL.fullmatch(text):
        return None
    value = int(text)
    return None if value >> bits else value


def _scan_prefixed(text: str, prefix: str, bits: int) -> int | None:
    if not text.startswith(prefix):
        return None
    return _scan_decimal(text[len(prefix):], bits)


def _errno_of(exc: BaseException) -> int:
    """The errno an engine exception stands for (see ovsct.errors)."""
    if isinstance(exc, TableFull):
        return errno.ENOSPC
    if isinstance(exc, NotFound):
        return errno.ENOENT
    if isinstance(exc, MemoryError):
        return errno.ENOMEM
    if isinstance(exc, OSError) and exc.errno:
        return exc.errno
    return errno.EINVAL


_ENGINE_ERRORS = (ValueError, MemoryError, OSError, NotFound, TableFull)


class _Dpctl:
    """One run of a dpctl command: the parsed options and the output
    buffer that dpctl_print() / dpctl_error() append to (an error reply
    carries everything printed before the failure)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.engine = ctx.engine
        self.verbosity = 0
        self.print_statistics = False
        self.names = False
        self.out: list[str] = []

    def error(self, message: str, err: int | None = None) -> None:
        self.out.append(fmt.error_line(self.ctx.program, message, err) + "\n")

    def fail(self, message: str, err: int | None = errno.EINVAL) -> NoReturn:
        self.error(message, err)
        raise CommandError("".join(self.out)[:-1])

    def eat_options(self, args: list[str]) -> list[str]:
        """dpctl_unixctl_handler()'s option loop; returns the params left."""
        set_names = False
        while args:
            arg = args[0]
            if arg.startswith("--"):
                if arg == "--statistics":
                    self.print_statistics = True
                elif arg == "--more":
                    self.verbosity += 1
                elif arg in ("--names", "--no-names"):
                    self.names = arg == "--names"
                    set_names = True
                elif arg not in ("--clear", "--may-create"):
                    raise CommandError(ERR_OPTION.format(arg))
            elif arg.startswith("-") and len(arg) > 1:
                for opt in arg[1:]:
                    if opt == "m":
                        self.verbosity += 1
                    elif opt == "s":
                        self.print_statistics = True
                    else:
                        raise CommandError(ERR_OPTION.format("-" + opt))
            else:
                break
            args = args[1:]
        if not set_names:
            self.names = self.verbosity > 0
        return args


def _dp_arg_exists(argv: list[str]) -> bool:
    return len(argv) > 1 and argv[1] in DATAPATH_ALIASES


def _open_dp(run: _Dpctl, argv: list[str], max_args: int) -> bool:
    """opt_dpif_open(): 'argv' is the command word plus the arguments left
    after options and recognised trailing words.  With argv at 'max_args'
    and argv[1] not our datapath, prints "datapath not found" and returns
    False (flush-conntrack adds a second line); else returns True."""
    if _dp_arg_exists(argv) or len(argv) != max_args:
        return True
    run.error(ERR_DP_NOT_FOUND, errno.EINVAL)
    return False


def _require_dp(run: _Dpctl, argv: list[str], max_args: int) -> None:
    """_open_dp() for the handlers that stop at its error."""
    if not _open_dp(run, argv, max_args):
        raise CommandError("".join(run.out)[:-1])


def _dpctl(name: str, body: Callable[[_Dpctl, list[str]], Result]
           ) -> Handler:
    """Wraps a dpctl handler body (which sees C-style argv: the command
    name, then the params left after the options) in the option loop."""
    def handler(ctx: Context, args: list[str]) -> Result:
        run = _Dpctl(ctx)
        rest = run.eat_options(list(args))
        return body(run, [name] + rest)
    handler.__name__ = handler.__qualname__ = body.__name__
    return handler


def _engine_call(run: _Dpctl, message: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except _ENGINE_ERRORS as exc:
        run.fail(message, _errno_of(exc))


# ---------------------------------------------------------------------------
# dump-conntrack, ct-stats-show, ct-bkts

def _dump_conntrack(run: _Dpctl, argv: list[str]) -> Result:
    zone = None
    if len(argv) > 1:
        zone = _scan_prefixed(argv[-1], "zone=", 16)
        if zone is not None:
            argv = argv[:-1]
    _require_dp(run, argv, 2)
    engine = run.engine
    verbose = run.verbosity > 0
    stats = run.print_statistics
    if run.ctx.stream_dump:
        text = (lambda: engine.dump_text_chunks(zone, verbose=verbose,
                                                stats=stats))
    else:
        text = (lambda: engine.dump_text(zone, verbose=verbose,
                                         stats=stats))
    return Result(text, lambda: fmt.entries_json(engine.dump(zone)))


def _ct_stats_show(run: _Dpctl, argv: list[str]) -> Result:
    verbose = run.verbosity > 0
    zone = None
    while len(argv) > 1:
        last = argv[-1]
        value = _scan_prefixed(last, "zone=", 16)
        if last.startswith("verbose"):
            verbose = True
        elif value is not None:
            zone = value
        else:
            break
        argv = argv[:-1]
    _require_dp(run, argv, 2)
    stats = _engine_call(run, ERR_DUMP_START, lambda: run.engine.stats(zone))
    return Result(fmt.stats_text(stats, verbose), fmt.stats_json(stats, zone))


def _ct_bkts(run: _Dpctl, argv: list[str]) -> Result:
    gt = 0
    if len(argv) > 1:
        value = _scan_prefixed(argv[-1], "gt=", 16)
        if value is not None:
            gt = value
            argv = argv[:-1]
    _require_dp(run, argv, 2)
    counts = _engine_call(run, ERR_DUMP_START, run.engine.bucket_counts)
    return Result(fmt.bkts_text(counts, gt), fmt.bkts_json(counts, gt))


# ---------------------------------------------------------------------------
# flush-conntrack (ofp_ct_match_parse() and ct_dpif_flush())

class _TupleSpec:
    """One parsed ct-orig-tuple / ct-reply-tuple (ofp_ct_tuple)."""

    def __init__(self) -> None:
        self.src: IPv4Address | IPv6Address | None = None
        self.dst: IPv4Address | IPv6Address | None = None
        self.sport = 0
        self.dport = 0
        self.icmp_id = 0
        self.icmp_type = 0
        self.icmp_code = 0

    def _addrs_zero(self) -> bool:
        return not (self.src and int(self.src)) and not (
            self.dst and int(self.dst))

    def is_zero(self, proto: int) -> bool:
        if proto in (1, 58):
            return self._addrs_zero()
        return self._addrs_zero() and not self.sport and not self.dport

    def is_five_tuple(self, proto: int) -> bool:
        if not (self.src and int(self.src) and self.dst and int(self.dst)):
            return False
        return proto in (1, 58) or bool(self.sport and self.dport)


class _Match:
    """ofp_ct_match: the two tuples share 'l3' and 'proto'."""

    def __init__(self) -> None:
        self.l3 = 0
        self.proto = 0
        self.orig = _TupleSpec()
        self.reply = _TupleSpec()
        self.mark = self.mark_mask = 0
        self.labels = self.labels_mask = 0

    def is_zero(self) -> bool:
        return (not self.proto and not self.l3 and not self.mark_mask
                and not self.labels_mask and self.orig.is_zero(self.proto)
                and self.reply.is_zero(self.proto))

    def is_five_tuple(self) -> bool:
        return (self.orig.is_five_tuple(self.proto) and not self.mark_mask
                and not self.labels_mask and self.reply.is_zero(self.proto))


class _ParseError(Exception):
    pass


def _parse_masked(text: str, bits: int, decimal_bits: int) -> tuple[int, int]:
    """V[/M] for mark= and labels=: V and M in C notation (hex up to 'bits',
    decimal or octal up to 'decimal_bits'); no mask means all ones."""
    def number(s: str) -> int:
        is_hex = s[:2] in ("0x", "0X")
        return parse_c_uint(s, bits if is_hex else decimal_bits)
    value, slash, mask = text.partition("/")
    full = (1 << bits) - 1
    return number(value), number(mask) if slash else full


def _parse_tuple(spec: _TupleSpec, text: str, match: _Match,
                 ds: list[str]) -> None:
    """ofp_ct_tuple_parse(); messages go to 'ds' like OVS's struct ds (the
    "set multiple times" note for ct_nw_proto does not fail by itself)."""
    for key, value in iter_key_values(text):
        if not value:
            ds.append(ERR_FIELD_MISSING.format(key))
            raise _ParseError
        if key in ("ct_nw_src", "ct_nw_dst", "ct_ipv6_src", "ct_ipv6_dst"):
            l3 = 4 if key.startswith("ct_nw") else 6
            attr = "src" if key.endswith("src") else "dst"
            if match.l3 and match.l3 != l3:
                ds.append(ERR_L3_MISMATCH.format(value))
                raise _ParseError
            old = getattr(spec, attr)
            if old is not None and int(old):
                ds.append(ERR_SET_TWICE.format(key))
                raise _ParseError
            try:
                if "%" in value:        # inet_pton() takes no scope id.
                    raise ValueError(value)
                addr = (IPv4Address if l3 == 4 else IPv6Address)(value)
            except ValueError:
                ds.append(ERR_FIELD_PARSE.format(key))
                raise _ParseError from None
            match.l3 = l3
            setattr(spec, attr, addr)
            continue
        if key == "ct_nw_proto":
            if match.proto:
                ds.append(ERR_SET_TWICE.format(key))
            bits, attr = 8, None
        elif key in ("ct_tp_src", "ct_tp_dst"):
            bits, attr = 16, "sport" if key == "ct_tp_src" else "dport"
        elif key in ("icmp_type", "icmp_code", "icmp_id"):
            if match.proto not in (1, 58):
                ds.append(ERR_L4_FIELDS)
                raise _ParseError
            bits, attr = (16, key) if key == "icmp_id" else (8, key)
        else:
            ds.append(ERR_TUPLE_FIELD.format(key))
            raise _ParseError
        try:
            number = parse_c_uint(value, bits)
        except ValueError:
            ds.append(ERR_FIELD_PARSE.format(key))
            raise _ParseError from None
        if attr is None:
            match.proto = number
        else:
            setattr(spec, attr, number)
    if not match.proto and (spec.sport or spec.dport):
        ds.append(ERR_PORT_NO_PROTO)
        raise _ParseError


def _parse_flush_args(args: list[str], ds: list[str]
                      ) -> tuple[int | None, _Match]:
    """ofp_ct_match_parse(): [zone=N] [mark=V[/M]] [labels=V[/M]]
    [ct-orig-tuple [ct-reply-tuple]], each only in its position."""
    zone = None
    match = _Match()
    i = 0
    if i < len(args) and args[i].startswith("zone="):
        zone = _scan_prefixed(args[i], "zone=", 16)
        if zone is None:
            ds.append(ERR_FLUSH_ZONE)
            raise _ParseError
        i += 1
    for prefix, bits, error in (("mark=", 32, ERR_FLUSH_MARK),
                                ("labels=", 128, ERR_FLUSH_LABELS)):
        if i < len(args) and args[i].startswith(prefix):
            try:
                value, mask = _parse_masked(args[i][len(prefix):], bits,
                                            min(bits, 64))
            except ValueError:
                ds.append(error)
                raise _ParseError from None
            # A zero mask makes the field no part of the match (OVS).
            if prefix == "mark=":
                match.mark, match.mark_mask = value & mask, mask
            else:
                match.labels, match.labels_mask = value & mask, mask
            i += 1
    for spec in (match.orig, match.reply):
        if i < len(args):
            if args[i]:
                _parse_tuple(spec, args[i], match, ds)
            i += 1
    if i < len(args):
        ds.append(ERR_INVALID_ARGS)
        raise _ParseError
    return zone, match


def _flush_conntrack(run: _Dpctl, argv: list[str]) -> Result:
    if not _open_dp(run, argv, 5):
        run.fail(ERR_OPEN_DPIF)
    args = argv[2:] if _dp_arg_exists(argv) else argv[1:]
    ds: list[str] = []
    try:
        zone, match = _parse_flush_args(args, ds)
    except _ParseError:
        run.fail("".join(ds))
    from ovsct.engine import FlushFilter, Tuple, TupleMatch

    engine = run.engine
    try:
        if match.is_zero():
            flushed = engine.flush(zone)
        elif match.is_five_tuple():
            o = match.orig
            icmp = match.proto in (1, 58)
            engine.flush_tuple(zone or 0, Tuple(
                l3=match.l3, proto=match.proto, src=str(o.src),
                dst=str(o.dst),
                sport=o.icmp_id if icmp else o.sport,
                dport=o.icmp_id if icmp else o.dport,
                icmp_id=o.icmp_id, icmp_type=o.icmp_type,
                icmp_code=o.icmp_code))
            flushed = 1
        else:
            def tm(spec: _TupleSpec) -> Any:
                return TupleMatch(
                    l3=match.l3, proto=match.proto or None,
                    src=str(spec.src) if spec.src else None,
                    dst=str(spec.dst) if spec.dst else None,
                    sport=spec.sport, dport=spec.dport,
                    icmp_id=spec.icmp_id, icmp_type=spec.icmp_type,
                    icmp_code=spec.icmp_code)
            # Both tuples take part whenever the match has any tuple field
            # (ct_dpif_entry_cmp(): ICMP id/type/code compare even if 0).
            tuples = bool(match.l3 or match.proto
                          or not match.orig.is_zero(match.proto)
                          or not match.reply.is_zero(match.proto))
            flushed = engine.flush_filter(FlushFilter(
                zone=zone, mark=match.mark, mark_mask=match.mark_mask,
                labels=match.labels, labels_mask=match.labels_mask,
                orig=tm(match.orig) if tuples else None,
                reply=tm(match.reply) if tuples else None))
    except _ENGINE_ERRORS as exc:
        run.fail("".join(ds) + ERR_FLUSH, _errno_of(exc))
    return Result("", {"zone": zone, "flushed": flushed})


# ---------------------------------------------------------------------------
# maxconns, nconns, tcp-seq-chk, sweep interval

def _ct_set_maxconns(run: _Dpctl, argv: list[str]) -> Result:
    _require_dp(run, argv, 3)
    value = _scan_decimal(argv[-1], 32)
    if value is None:
        run.fail(ERR_MAXCONNS_PARSE)

    def apply() -> None:
        run.engine.maxconns = value
    _engine_call(run, ERR_MAXCONNS_SET, apply)
    return Result(fmt.MAXCONNS_SET, {"maxconns": value})


def _ct_get_maxconns(run: _Dpctl, argv: list[str]) -> Result:
    _require_dp(run, argv, 2)
    value = _engine_call(run, ERR_MAXCONNS_GET, lambda: run.engine.maxconns)
    return Result(f"{value}\n", {"maxconns": value})


def _ct_get_nconns(run: _Dpctl, argv: list[str]) -> Result:
    _require_dp(run, argv, 2)
    value = _engine_call(run, ERR_NCONNS_GET, run.engine.nconns)
    return Result(f"{value}\n", {"nconns": value})


def _set_tcp_seq_chk(enabled: bool) -> Callable[[_Dpctl, list[str]], Result]:
    verb = "enabling" if enabled else "disabling"

    def body(run: _Dpctl, argv: list[str]) -> Result:
        _require_dp(run, argv, 3)

        def apply() -> None:
            run.engine.tcp_seq_chk = enabled
        _engine_call(run, ERR_TCP_SEQ_CHK_SET.format(verb), apply)
        return Result(fmt.TCP_SEQ_CHK_SET.format(verb),
                      {"tcp_seq_chk": enabled})
    body.__name__ = f"_ct_{verb[:-3]}e_tcp_seq_chk"
    return body


def _ct_get_tcp_seq_chk(run: _Dpctl, argv: list[str]) -> Result:
    _require_dp(run, argv, 2)
    on = _engine_call(run, ERR_TCP_SEQ_CHK_GET,
                      lambda: run.engine.tcp_seq_chk)
    return Result(fmt.TCP_SEQ_CHK_STATUS.format(
        "enabled" if on else "disabled"), {"tcp_seq_chk": bool(on)})


def _ct_get_sweep_interval(run: _Dpctl, argv: list[str]) -> Result:
    _require_dp(run, argv, 2)
    ms = _engine_call(run, ERR_SWEEP_GET, lambda: run.engine.sweep_interval)
    return Result(f"{ms}", {"sweep_interval_ms": ms})


def _ct_set_sweep_interval(run: _Dpctl, argv: list[str]) -> Result:
    _require_dp(run, argv, 3)
    ms = _scan_decimal(argv[-1], 32)
    if not ms:
        run.fail(ERR_SWEEP_PARSE)

    def apply() -> None:
        run.engine.sweep_interval = ms
    _engine_call(run, ERR_SWEEP_SET, apply)
    return Result(fmt.SWEEP_SET, {"sweep_interval_ms": ms})


# ---------------------------------------------------------------------------
# Zone limits

def _parse_zone_limit(text: str, run: _Dpctl) -> tuple[int, int]:
    """ct_dpif_parse_zone_limit_tuple(): "zone=N,limit=L"."""
    zone = limit = None
    for key, value in iter_key_values(text):
        if not value:
            run.fail(ERR_FIELD_MISSING.format(key))
        if key not in ("zone", "limit"):
            run.fail(ERR_ZONE_LIMIT_FIELD.format(key))
        try:
            number = parse_c_uint(value, 16 if key == "zone" else 32)
        except ValueError:
            run.fail(ERR_FIELD_PARSE.format(key))
        if key == "zone":
            zone = number
        else:
            limit = number
    if zone is None or limit is None:
        run.fail(ERR_ZONE_LIMIT)
    return zone, limit


def _parse_limit_zones(arg: str, run: _Dpctl) -> list[int]:
    """parse_ct_limit_zones(): "zone=N1[,N2]..." (empty items skipped)."""
    if not arg.startswith("zone="):
        run.fail(ERR_LIMIT_ARG.format(arg))
    zones = []
    for item in arg[5:].split(","):
        if item:
            zone = _scan_decimal(item, 16)
            if zone is None:
                run.fail(ERR_LIMIT_ZONE)
            zones.append(zone)
    return zones


def _ct_set_limits(run: _Dpctl, argv: list[str]) -> Result:
    i = 2 if _dp_arg_exists(argv) else 1
    if len(argv) <= i:
        run.fail(ERR_TOO_FEW_ARGS)
    default = None
    if argv[i].startswith("default="):
        default = _scan_prefixed(argv[i], "default=", 32)
        if default is None:
            run.fail(ERR_DEFAULT_LIMIT)
        i += 1
    limits = [_parse_zone_limit(arg, run) for arg in argv[i:]]

    def apply() -> None:
        if default is not None:
            run.engine.set_zone_limit(None, default)
        for zone, limit in limits:
            run.engine.set_zone_limit(zone, limit)
    _engine_call(run, ERR_SET_LIMIT, apply)
    return Result("", {"default": default,
                       "zones": [{"zone": z, "limit": lim}
                                 for z, lim in limits]})


def _ct_del_limits(run: _Dpctl, argv: list[str]) -> Result:
    i = 2 if _dp_arg_exists(argv) else 1
    _require_dp(run, argv, 4)
    if len(argv) <= i:
        run.fail(ERR_TOO_FEW_ARGS)
    default = argv[i] == "default"
    if default:
        i += 1
    zones = _parse_limit_zones(argv[i], run) if len(argv) > i else []

    def apply() -> None:
        for zone in ([None] if default else []) + zones:
            try:
                run.engine.del_zone_limit(zone)
            except NotFound:
                pass        # OVS: deleting a missing limit is a success.
    _engine_call(run, ERR_DEL_LIMIT, apply)
    return Result("", {"default": default, "zones": zones})


def _ct_get_limits(run: _Dpctl, argv: list[str]) -> Result:
    i = 2 if _dp_arg_exists(argv) else 1
    _require_dp(run, argv, 3)
    query = _parse_limit_zones(argv[i], run) if len(argv) > i else None

    def get() -> tuple[int, list[tuple[int, int, int]]]:
        engine = run.engine
        default = engine.get_zone_limit(None)[0]
        zones = engine.list_zone_limits() if query is None else query
        rows = []
        for zone in zones:
            limit, count, _ = engine.get_zone_limit(zone)
            rows.append((zone, limit, count))
        return default, rows
    try:
        default, rows = get()
    except _ENGINE_ERRORS as exc:
        err = _errno_of(exc)
        run.fail(ERR_GET_LIMIT.format(os.strerror(err)), err)
    return Result(fmt.limits_text(default, rows),
                  fmt.limits_json(default, rows))


# ---------------------------------------------------------------------------
# dpctl/list-commands

def _list_commands(run: _Dpctl, argv: list[str]) -> Result:
    dpctl = [c for c in COMMANDS if c.name.startswith("dpctl/")]
    return Result(fmt.list_commands_text((c.name, c.usage) for c in dpctl),
                  [{"name": c.name, "usage": c.usage} for c in dpctl])


# ---------------------------------------------------------------------------
# ct/*: timeout policies (ovs-vsctl add-zone-tp / del-zone-tp /
# list-zone-tp), capture replay.

def _fail(ctx: Context, message: str, err: int | None = None) -> NoReturn:
    raise CommandError(fmt.error_line(ctx.program, message, err))


def _ct_options(ctx: Context, args: list[str], allowed: tuple[str, ...]
                ) -> tuple[set[str], list[str]]:
    options = set()
    while args and args[0].startswith("--"):
        if args[0] not in allowed:
            raise CommandError(ERR_OPTION.format(args[0]))
        options.add(args[0])
        args = args[1:]
    return options, args


def _tp_zone(ctx: Context, arg: str) -> int:
    zone = _scan_prefixed(arg, "zone=", 16)
    if zone is None:
        _fail(ctx, ERR_TP_ZONE.format(arg))
    return zone


def _tp_names() -> tuple[str, ...]:
    from ovsct.engine import TP_NAMES
    return TP_NAMES


def _add_zone_tp(ctx: Context, args: list[str]) -> Result:
    options, args = _ct_options(ctx, args, ("--may-exist",))
    if not args:
        _fail(ctx, ERR_TP_ZONE.format(""))
    zone = _tp_zone(ctx, args[0])
    names = _tp_names()
    policy = {}
    for arg in args[1:]:
        key, sep, value = arg.partition("=")
        if not sep or not key:
            _fail(ctx, ERR_TP_ARG.format(arg))
        if key not in names:
            _fail(ctx, ERR_TP_KEY.format(key, ", ".join(sorted(names))))
        seconds = _scan_decimal(value, 32)
        if seconds is None:
            _fail(ctx, ERR_TP_VALUE.format(value, key))
        policy[key] = seconds
    engine = ctx.engine
    if "--may-exist" not in options and engine.get_zone_tp(zone) is not None:
        _fail(ctx, ERR_TP_EXISTS.format(zone))
    try:
        engine.set_zone_tp(zone, policy)
    except _ENGINE_ERRORS as exc:
        _fail(ctx, ERR_TP_SET.format(zone), _errno_of(exc))
    return Result("", {"zone": zone, "policies": dict(sorted(policy.items()))})


def _del_zone_tp(ctx: Context, args: list[str]) -> Result:
    options, args = _ct_options(ctx, args, ("--if-exists",))
    if len(args) != 1:
        _fail(ctx, ERR_TP_ZONE.format(" ".join(args)))
    zone = _tp_zone(ctx, args[0])
    try:
        ctx.engine.del_zone_tp(zone)
        deleted = True
    except NotFound:
        if "--if-exists" not in options:
            _fail(ctx, ERR_TP_MISSING.format(zone))
        deleted = False
    return Result("", {"zone": zone, "deleted": deleted})


def _list_zone_tp(ctx: Context, args: list[str]) -> Result:
    policies = ctx.engine.list_zone_tps()
    return Result(fmt.zone_tps_text(policies), fmt.zone_tps_json(policies))


def _replay(ctx: Context, args: list[str]) -> Result:
    path = args[0]
    text = args[1] if len(args) > 1 else DEFAULT_REPLAY_ACTION
    try:
        action = parse_ct_action(text)
    except ValueError as exc:
        _fail(ctx, ERR_REPLAY_ACTION.format(text, exc))
    try:
        states = ctx.engine.execute_pcap(path, action)
    except _ENGINE_ERRORS as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        if reason.startswith(f"{path}: "):
            reason = reason[len(path) + 2:]
        _fail(ctx, ERR_REPLAY.format(path, reason))
    return Result(fmt.replay_text(path, str(action), states),
                  fmt.replay_json(path, str(action), states))


# ---------------------------------------------------------------------------
# The table.  dpctl/* in OVS's all_commands order, with its usage strings
# and unixctl param counts (upstream; 3.1 differs for flush-conntrack and
# ct-del-limits, see the man page).

_CONN = "Connections"
_LIMITS = "Limits"
_SETTINGS = "Settings"
_TP = "Timeout policies"
_TOOLS = "Tools"

COMMANDS: list[Command] = [
    Command("dpctl/dump-conntrack", "[-m] [-s] [dp] [zone=N]", 0, 4,
            _dpctl("dump-conntrack", _dump_conntrack), True, _CONN,
            "Print the connections, one line each (-m verbose, "
            "-s timeouts)."),
    Command("dpctl/flush-conntrack",
            "[dp] [zone=N] [mark=X[/M]] [labels=Y[/N]] "
            "[ct-orig-tuple [ct-reply-tuple]]", 0, 6,
            _dpctl("flush-conntrack", _flush_conntrack), False, _CONN,
            "Delete all connections, those of a zone, or those matching "
            "mark, labels and tuples."),
    Command("dpctl/ct-stats-show", "[dp] [zone=N]", 0, 3,
            _dpctl("ct-stats-show", _ct_stats_show), True, _CONN,
            "Count the connections per protocol (-m: per TCP state)."),
    Command("dpctl/ct-bkts", "[dp] [gt=N]", 0, 2,
            _dpctl("ct-bkts", _ct_bkts), True, _CONN,
            "Show how the connections spread over the table's buckets."),
    Command("dpctl/ct-set-maxconns", "[dp] maxconns", 1, 2,
            _dpctl("ct-set-maxconns", _ct_set_maxconns), False, _LIMITS,
            "Set the maximum number of connections."),
    Command("dpctl/ct-get-maxconns", "[dp]", 0, 1,
            _dpctl("ct-get-maxconns", _ct_get_maxconns), True, _LIMITS,
            "Print the maximum number of connections."),
    Command("dpctl/ct-get-nconns", "[dp]", 0, 1,
            _dpctl("ct-get-nconns", _ct_get_nconns), True, _LIMITS,
            "Print the number of connections."),
    Command("dpctl/ct-enable-tcp-seq-chk", "[dp]", 0, 1,
            _dpctl("ct-enable-tcp-seq-chk", _set_tcp_seq_chk(True)), False,
            _SETTINGS, "Enable TCP sequence number checking."),
    Command("dpctl/ct-disable-tcp-seq-chk", "[dp]", 0, 1,
            _dpctl("ct-disable-tcp-seq-chk", _set_tcp_seq_chk(False)),
            False, _SETTINGS, "Disable TCP sequence number checking."),
    Command("dpctl/ct-get-tcp-seq-chk", "[dp]", 0, 1,
            _dpctl("ct-get-tcp-seq-chk", _ct_get_tcp_seq_chk), True,
            _SETTINGS, "Tell whether TCP sequence checking is enabled."),
    Command("dpctl/ct-set-limits", "[dp] [default=L] [zone=N,limit=L]...",
            1, UNBOUNDED, _dpctl("ct-set-limits", _ct_set_limits), False,
            _LIMITS, "Set the default and per-zone connection limits."),
    Command("dpctl/ct-del-limits", "[dp] [default] [zone=N1[,N2]...]", 1, 3,
            _dpctl("ct-del-limits", _ct_del_limits), False, _LIMITS,
            "Delete the default or per-zone connection limits."),
    Command("dpctl/ct-get-limits", "[dp] [zone=N1[,N2]...]", 0, 2,
            _dpctl("ct-get-limits", _ct_get_limits), True, _LIMITS,
            "Print the connection limits and counts."),
    Command("dpctl/ct-get-sweep-interval", "[dp]", 0, 1,
            _dpctl("ct-get-sweep-interval", _ct_get_sweep_interval), True,
            _SETTINGS, "Print the sweeper's interval in ms."),
    Command("dpctl/ct-set-sweep-interval", "[dp] ms", 1, 2,
            _dpctl("ct-set-sweep-interval", _ct_set_sweep_interval), False,
            _SETTINGS, "Set the sweeper's interval in ms."),
    Command("dpctl/list-commands", "", 0, UNBOUNDED,
            _dpctl("list-commands", _list_commands), True, _TOOLS,
            "List the dpctl/ commands."),
    Command("ct/add-zone-tp", "[--may-exist] zone=N [key=value]...", 1,
            UNBOUNDED, _add_zone_tp, False, _TP,
            "Set the timeout policy of a zone (keys as in "
            "ovs-vsctl add-zone-tp)."),
    Command("ct/del-zone-tp", "[--if-exists] zone=N", 1, 2, _del_zone_tp,
            False, _TP, "Delete the timeout policy of a zone."),
    Command("ct/list-zone-tp", "", 0, 0, _list_zone_tp, True, _TP,
            "List the zones' timeout policies."),
    Command("ct/replay", "FILE [ACTION]", 1, 2, _replay, False, _TOOLS,
            "Run a pcap or pcapng capture through ACTION "
            f"(default {DEFAULT_REPLAY_ACTION}) and count the ct_states.",
            deferred=True),
]

# Hook: the live datapath's rows (ovsct/live.py, issue 10).
from ovsct import live as _live  # noqa: E402
COMMANDS += _live.commands()

_BY_NAME = {c.name: c for c in COMMANDS}


def find_command(name: str) -> Command | None:
    return _BY_NAME.get(name)


def dispatch(ctx: Context, name: str, args: list[str]) -> Result:
    """Runs 'name' with unixctl's own checks first (unknown command, param
    counts; the C texts of lib/unixctl.c), for front ends without a unixctl
    server such as the offline CLI."""
    command = _BY_NAME.get(name)
    if command is None:
        raise CommandError(ERR_UNKNOWN_COMMAND.format(name))
    if len(args) < command.min_args:
        raise CommandError(ERR_TOO_FEW.format(name, command.min_args))
    if len(args) > command.max_args:
        raise CommandError(ERR_TOO_MANY.format(name, command.max_args))
    return command.handler(ctx, list(args))
