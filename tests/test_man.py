"""Man pages: generated from the command table, complete both ways, and
rendered without warnings."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ovsct.commands import COMMANDS, DATAPATH

ROOT = Path(__file__).resolve().parents[1]
MAN = ROOT / "man"
PAGES = {"ovsct": MAN / "ovsct.8", "ovsctd": MAN / "ovsctd.8"}
FRAGMENT = MAN / "ovsct-commands.man"
PREFIX = {"\\*(DX": "dpctl/", "\\*(CX": "ct/"}
ENTRY = re.compile(r'^\.IP "\\fB(\\\*\((?:DX|CX))?(\S+?)\\fR')


def fragment_commands(text):
    names = []
    for line in text.splitlines():
        m = ENTRY.match(line)
        if m:
            names.append(PREFIX.get(m.group(1), "")
                         + m.group(2).replace("\\-", "-"))
    return names


def render(page, tool):
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    if tool == "man":
        cmd = ["man", "--warnings", "-l", str(page)]
    else:
        cmd = ["groff", "-man", "-Tutf8", "-ww", str(page)]
    r = subprocess.run(cmd, capture_output=True, env=env, timeout=60)
    out = re.sub(".\b", "", r.stdout.decode())       # Overstrike bold.
    return r.returncode, out, r.stderr.decode()


def test_pages_are_up_to_date_with_the_table():
    r = subprocess.run([sys.executable, str(MAN / "gen.py"), "--check"],
                       capture_output=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr.decode()


def test_fragment_lists_exactly_the_table():
    listed = fragment_commands(FRAGMENT.read_text())
    assert sorted(listed) == sorted(c.name for c in COMMANDS)
    assert len(listed) == len(set(listed))
    # Same usage strings as the table (and so as list-commands).
    text = FRAGMENT.read_text().replace("\\-", "-").replace("\\e", "\\")
    for c in COMMANDS:
        assert c.usage in text
        assert c.summary in text


@pytest.mark.parametrize("name", PAGES)
def test_page_inlines_the_fragment(name):
    assert FRAGMENT.read_text() in PAGES[name].read_text()


@pytest.mark.parametrize("tool", ["groff", "man"])
@pytest.mark.parametrize("name", PAGES)
def test_page_renders_without_warnings(name, tool):
    if shutil.which(tool) is None:
        pytest.skip("%s not installed" % tool)
    rc, out, err = render(PAGES[name], tool)
    assert rc == 0 and err == ""
    assert "ovsct" in out


@pytest.mark.parametrize("name", PAGES)
def test_rendered_page_lists_every_command(name):
    if shutil.which("man") is None:
        pytest.skip("man not installed")
    out = render(PAGES[name], "man")[1]
    heads = {line.strip().split(" ")[0] for line in out.splitlines()
             if line.startswith("       ") and not line.startswith("        ")}
    for c in COMMANDS:
        short = c.name.split("/", 1)[1]
        wanted = c.name if name == "ovsctd" else short
        assert wanted in heads, wanted
    # ovsctd lists the full names only, ovsct the short ones only.
    if name == "ovsct":
        assert "dpctl/dump-conntrack [-m] [-s] [dp] [zone=N]" not in out
        assert "\n       dump-conntrack [-m] [-s] [dp] [zone=N]\n" in out
    else:
        assert "dpctl/dump-conntrack [-m] [-s] [dp] [zone=N]" in out


@pytest.mark.parametrize("name", PAGES)
def test_sections_in_ovs_order(name):
    out = render(PAGES[name], "groff")[1] if shutil.which("groff") else ""
    text = PAGES[name].read_text()
    sections = re.findall(r'^\.SH "?([A-Z ]+)"?$', text, re.M)
    assert sections == ["NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS",
                        "OPTIONS", "EXAMPLES", "EXIT STATUS", "SEE ALSO"]
    see_also = text[text.index('.SH "SEE ALSO"'):]
    for ref in ("ovs\\-appctl", "ovs\\-dpctl"):
        assert ".BR %s (8)" % ref in see_also
    if out:
        assert "ovs-appctl(8)" in out and "ovs-dpctl(8)" in out


@pytest.mark.parametrize("name", PAGES)
def test_differences_json_and_datapath_are_documented(name):
    if shutil.which("man") is None:
        pytest.skip("man not installed")
    out = " ".join(render(PAGES[name], "man")[1].split())
    assert "Differences from Open vSwitch" in out
    for phrase in ("Counts are exact at all times",
                   "ct-stats-show prints ICMPv6",
                   "ct-bkts shows the table's real buckets",
                   "A zone limit counts the connections already in the zone",
                   "Numbers are parsed strictly",
                   "JSON output", "set-options --format json",
                   DATAPATH, "netdev@ovs-netdev"):
        assert phrase in out, phrase
