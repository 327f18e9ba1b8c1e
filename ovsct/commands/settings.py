"""dpctl/ct-set-maxconns, ct-get-maxconns, ct-get-nconns, the TCP sequence
checking switch and the sweep interval (lib/dpctl.c dpctl_ct_set_maxconns()
and the handlers after it).  Success texts are ovsct.format's; each error
text is named beside its handler, for the kernel datapath's handlers
(ovsct/kernel/commands.py) to print the same."""

from __future__ import annotations

from typing import Callable

from ovsct import format as fmt
from ovsct.commands.dpctl import Dpctl, dpctl, engine_call, require_dp
from ovsct.commands.table import LIMITS, SETTINGS, Result
from ovsct.numbers import scan_decimal


MAXCONNS_MALFORMED = "maxconns missing or malformed"
MAXCONNS_SET_FAILED = "ct set maxconns failed"


@dpctl("ct-set-maxconns", "[dp] maxconns", 1, 2, group=LIMITS,
       summary="Set the maximum number of connections.")
def ct_set_maxconns(run: Dpctl, argv: list[str]) -> Result:
    require_dp(run, argv, 3)
    value = scan_decimal(argv[-1], 32)
    if value is None:
        run.fail(MAXCONNS_MALFORMED)

    def apply() -> None:
        run.engine.maxconns = value
    engine_call(run, MAXCONNS_SET_FAILED, apply)
    return Result(fmt.MAXCONNS_SET, {"maxconns": value})


MAXCONNS_GET_FAILED = "maxconns could not be retrieved"


@dpctl("ct-get-maxconns", "[dp]", 0, 1, group=LIMITS, read_only=True,
       summary="Print the maximum number of connections.")
def ct_get_maxconns(run: Dpctl, argv: list[str]) -> Result:
    require_dp(run, argv, 2)
    value = engine_call(run, MAXCONNS_GET_FAILED,
                        lambda: run.engine.maxconns)
    return Result(f"{value}\n", {"maxconns": value})


NCONNS_GET_FAILED = "nconns could not be retrieved"


@dpctl("ct-get-nconns", "[dp]", 0, 1, group=LIMITS, read_only=True,
       summary="Print the number of connections.")
def ct_get_nconns(run: Dpctl, argv: list[str]) -> Result:
    require_dp(run, argv, 2)
    value = engine_call(run, NCONNS_GET_FAILED,
                        run.engine.nconns)
    return Result(f"{value}\n", {"nconns": value})


TCP_SEQ_CHK_SET_FAILED = "{} TCP sequence checking failed"   # verb


def _set_tcp_seq_chk(enabled: bool
                     ) -> Callable[[Dpctl, list[str]], Result]:
    """dpctl_ct_set_tcp_seq_chk__(): 'verb' is "enabling"/"disabling"."""
    verb = "enabling" if enabled else "disabling"

    def body(run: Dpctl, argv: list[str]) -> Result:
        require_dp(run, argv, 3)

        def apply() -> None:
            run.engine.tcp_seq_chk = enabled
        engine_call(run, TCP_SEQ_CHK_SET_FAILED.format(verb), apply)
        return Result(fmt.TCP_SEQ_CHK_SET.format(verb),
                      {"tcp_seq_chk": enabled})
    body.__name__ = f"ct_{verb[:-3]}e_tcp_seq_chk"
    return body


ct_enable_tcp_seq_chk = dpctl(
    "ct-enable-tcp-seq-chk", "[dp]", 0, 1, group=SETTINGS,
    summary="Enable TCP sequence number checking.")(_set_tcp_seq_chk(True))
ct_disable_tcp_seq_chk = dpctl(
    "ct-disable-tcp-seq-chk", "[dp]", 0, 1, group=SETTINGS,
    summary="Disable TCP sequence number checking.")(_set_tcp_seq_chk(False))


TCP_SEQ_CHK_GET_FAILED = "TCP sequence checking query failed"


@dpctl("ct-get-tcp-seq-chk", "[dp]", 0, 1, group=SETTINGS, read_only=True,
       summary="Tell whether TCP sequence checking is enabled.")
def ct_get_tcp_seq_chk(run: Dpctl, argv: list[str]) -> Result:
    require_dp(run, argv, 2)
    on = engine_call(run, TCP_SEQ_CHK_GET_FAILED,
                     lambda: run.engine.tcp_seq_chk)
    return Result(fmt.TCP_SEQ_CHK_STATUS.format(
        "enabled" if on else "disabled"), {"tcp_seq_chk": bool(on)})


SWEEP_GET_FAILED = "failed to get the sweep interval"


@dpctl("ct-get-sweep-interval", "[dp]", 0, 1, group=SETTINGS,
       read_only=True, summary="Print the sweeper's interval in ms.")
def ct_get_sweep_interval(run: Dpctl, argv: list[str]) -> Result:
    require_dp(run, argv, 2)
    ms = engine_call(run, SWEEP_GET_FAILED,
                     lambda: run.engine.sweep_interval)
    return Result(f"{ms}", {"sweep_interval_ms": ms})


SWEEP_SET_FAILED = "failed to set the sweep interval"


@dpctl("ct-set-sweep-interval", "[dp] ms", 1, 2, group=SETTINGS,
       summary="Set the sweeper's interval in ms.")
def ct_set_sweep_interval(run: Dpctl, argv: list[str]) -> Result:
    require_dp(run, argv, 3)
    ms = scan_decimal(argv[-1], 32)
    if not ms:
        run.fail("invalid sweep value")

    def apply() -> None:
        run.engine.sweep_interval = ms
    engine_call(run, SWEEP_SET_FAILED, apply)
    return Result(fmt.SWEEP_SET, {"sweep_interval_ms": ms})
