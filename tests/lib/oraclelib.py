"""What the two OVS-oracle test files share: reading a golden
".ovs-states" file and running a capture through our engine the way the
oracle ran it through OVS (ct(commit), zone 0, manual clock)."""

from pathlib import Path


def golden_states(path: Path) -> list:
    """The flags column of an .ovs-states file ("<n>: <flags>" lines)."""
    return [line.split(": ", 1)[1]
            for line in path.read_text().splitlines()]


def run_capture(path: Path, batch: int):
    """(per-packet flag names, dump text) of 'path' through ovsct."""
    from ovsct.action import parse_ct_action
    from ovsct.engine import Conntrack
    from ovsct.format import ct_state_name

    with Conntrack(manual_clock=True, sweeper=False) as ct:
        states = ct.execute_pcap(str(path), parse_ct_action("ct(commit)"),
                                 batch=batch)
        return [ct_state_name(s) for s in states], ct.dump_text()
