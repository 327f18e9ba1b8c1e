"""ovsct.action: the ct(...) syntax, nat(...) ranges, and the lexical
helpers shared with the command parsers.  Pure Python, no engine."""

import pytest

from ovsct.action import (
    Action, Nat, iter_key_values, parse_c_uint, parse_ct_action, parse_nat,
)

U32 = (1 << 32) - 1
U128 = (1 << 128) - 1


# ---------------------------------------------------------------------------
# iter_key_values (ofputil_parse_key_value)

@pytest.mark.parametrize("text, pairs", [
    ("", []),
    ("commit", [("commit", "")]),
    ("a=1,b:2 c(d,e(f)),g", [("a", "1"), ("b", "2"), ("c", "d,e(f)"),
                             ("g", "")]),
    ("  ,a=1,,\tb=2  ", [("a", "1"), ("b", "2")]),
    ("ct_ipv6_src=fc00::1,ct_nw_proto=17",
     [("ct_ipv6_src", "fc00::1"), ("ct_nw_proto", "17")]),
    ("ct_nw_src:10.0.0.1", [("ct_nw_src", "10.0.0.1")]),
    ("k(x)->y,z", [("k", "x)->y"), ("z", "")]),
    ("exec(set_field:1->ct_mark),nat", [("exec", "set_field:1->ct_mark"),
                                        ("nat", "")]),
    ("a=", [("a", "")]),
    ("a(unclosed", [("a", "unclosed")]),
])
def test_iter_key_values(text, pairs):
    assert list(iter_key_values(text)) == pairs


# ---------------------------------------------------------------------------
# parse_c_uint

@pytest.mark.parametrize("text, bits, value", [
    ("0", 8, 0), ("255", 8, 255), ("0xff", 8, 255), ("0XFF", 8, 255),
    ("010", 8, 8), ("65535", 16, 65535), ("4294967295", 32, U32),
    ("0x" + "f" * 32, 128, U128),
])
def test_parse_c_uint(text, bits, value):
    assert parse_c_uint(text, bits) == value


@pytest.mark.parametrize("text, bits", [
    ("256", 8), ("65536", 16), ("4294967296", 32), ("-1", 16), ("+1", 16),
    (" 1", 16), ("1 ", 16), ("1a", 16), ("0x", 16), ("08", 16), ("", 16),
    ("0x1ffffffff", 32),
])
def test_parse_c_uint_rejects(text, bits):
    with pytest.raises(ValueError):
        parse_c_uint(text, bits)


# ---------------------------------------------------------------------------
# ct(...)

@pytest.mark.parametrize("text", ["ct", "ct()", "  ct  ", "ct( )"])
def test_defaults(text):
    a = parse_ct_action(text)
    assert a == Action()
    assert (a.zone, a.commit, a.force, a.nat) == (0, False, False, None)
    assert a.mark is a.mark_mask is a.labels is a.labels_mask is None
    assert str(a) == "ct"


def test_full_action():
    a = parse_ct_action(
        "ct(commit,zone=5,force,exec(set_field:42->ct_mark,"
        "set_field:0xab->ct_label),nat(src=10.0.0.1-10.0.0.9:1000-2000,"
        "persistent,random))")
    assert (a.zone, a.commit, a.force) == (5, True, True)
    assert (a.mark, a.mark_mask) == (42, U32)
    assert (a.labels, a.labels_mask) == (0xab, U128)
    assert a.nat == Nat(kind="src", l3=4, addr_min="10.0.0.1",
                        addr_max="10.0.0.9", port_min=1000, port_max=2000,
                        flags=("persistent", "random"))
    assert a.nat.flag_bits == 1 | 4


def test_masks_and_order():
    a = parse_ct_action("ct(commit,exec(set_field:1/0xff->ct_mark))")
    assert (a.mark, a.mark_mask) == (1, 0xff)
    # A later set_field overrides the bits it covers; value kept masked.
    a = parse_ct_action("ct(commit,exec(set_field:0x1ff/0xff->ct_mark,"
                        "set_field:0x100/0x100->ct_mark))")
    assert (a.mark, a.mark_mask) == (0x1ff, 0x1ff)
    a = parse_ct_action("ct(commit,exec(set_field:0x0/0xf->ct_mark,"
                        "set_field:0x3->ct_mark))")
    assert (a.mark, a.mark_mask) == (3, U32)
    a = parse_ct_action("ct(commit,exec(set_field:0xaa00000000"
                        "/0xff00000000->ct_label))")
    assert (a.labels, a.labels_mask) == (0xaa00000000, 0xff00000000)
    a = parse_ct_action("ct(commit,exec(set_field:7->NXM_NX_CT_MARK))")
    assert (a.mark, a.mark_mask) == (7, U32)
    a = parse_ct_action("ct(commit,exec(set_field:0x" + "1" * 32
                        + "->ct_label))")
    assert a.labels == int("1" * 32, 16)


@pytest.mark.parametrize("text", [
    "ct(zone=0)", "ct(zone=65535)", "ct(zone=0x10)", "ct(commit,table=1)",
])
def test_zone_and_table(text):
    parse_ct_action(text)


def test_zone_values():
    assert parse_ct_action("ct(zone=65535)").zone == 65535
    assert parse_ct_action("ct(zone=0x10)").zone == 16


@pytest.mark.parametrize("text, message", [
    ("ct(zone=65536)", 'invalid zone "65536"'),
    ("ct(zone=-1)", 'invalid zone "-1"'),
    ("ct(zone=5x)", 'invalid zone "5x"'),
    ("ct(zone=NXM_NX_REG0[0..15])", 'invalid zone "NXM_NX_REG0[0..15]"'),
    ("ct(zone=)", 'invalid zone ""'),
    ("ct(force)", '"force" flag requires "commit" flag.'),
    ("ct(zone=1,force)", '"force" flag requires "commit" flag.'),
    ("ct(exec(set_field:1->ct_mark))", 'requires the "commit" flag'),
    ("ct(commit=1)", '"commit" takes no value'),
    ("ct(foo)", 'invalid argument to "ct" action: `foo\''),
    ("ct(commit,alg=sip)", 'invalid "alg" argument "sip"'),
    ("ct(commit,timeout=tp1)", "ct(timeout=...) is not supported"),
    ("ct(commit,table=255)", 'invalid table "255"'),
    ("ct(commit", "unbalanced parentheses"),
    ("ct(commit))", "unbalanced parentheses"),
    ("ct(commit)x", "unbalanced parentheses"),
    ("commit", "is not a ct action"),
    ("ct(commit,exec(output:1))", '"output" is not allowed'),
    ("ct(commit,exec(set_field:1->reg0))", "ct_mark or ct_label"),
    ("ct(commit,exec(set_field:1))", "ct_mark or ct_label"),
    ("ct(commit,exec(set_field:0x1ffffffff->ct_mark))",
     'invalid value "0x1ffffffff" for a 32-bit field'),
    ("ct(commit,exec(set_field:4294967296->ct_mark))",
     'invalid value "4294967296"'),
    ("ct(commit,exec(set_field:18446744073709551616->ct_label))",
     'invalid value "18446744073709551616" for a 128-bit field'),
    ("ct(commit,exec(set_field:1/zz->ct_mark))", 'invalid value "zz"'),
    ("ct(commit,exec(set_field:abc->ct_mark))", 'invalid value "abc"'),
])
def test_errors(text, message):
    with pytest.raises(ValueError) as e:
        parse_ct_action(text)
    assert message in str(e.value)


# ---------------------------------------------------------------------------
# nat(...)

def test_nat_forms():
    assert parse_ct_action("ct(nat)").nat == Nat()
    assert parse_ct_action("ct(nat())").nat == Nat()
    assert parse_ct_action("ct(commit,nat(src))").nat == Nat(kind="src")
    assert parse_nat("dst=10.3.0.2:8080") == Nat(
        kind="dst", l3=4, addr_min="10.3.0.2", addr_max="10.3.0.2",
        port_min=8080, port_max=8080)
    assert parse_nat("src=10.1.1.240-10.1.1.250:3000-3010") == Nat(
        kind="src", l3=4, addr_min="10.1.1.240", addr_max="10.1.1.250",
        port_min=3000, port_max=3010)
    assert parse_nat("dst=[fc00::1]-[fc00::5]:80-81,hash") == Nat(
        kind="dst", l3=6, addr_min="fc00::1", addr_max="fc00::5",
        port_min=80, port_max=81, flags=("hash",))
    # Without brackets the ':' belongs to the IPv6 address, as in OVS.
    assert parse_nat("dst=fc00::1:80").addr_min == "fc00::1:80"
    assert parse_nat("dst=fc00::1:80").port_min is None
    assert parse_nat("src=fc00::1-fc00::2").addr_max == "fc00::2"
    assert parse_nat("src=[fc00:0::1]").addr_min == "fc00::1"
    flags = parse_nat("src=1.2.3.4,random,persistent").flags
    assert flags == ("persistent", "random")


@pytest.mark.parametrize("text, message", [
    ("src=1.2.3.4,dst=1.2.3.5", 'May only specify one of "src" or "dst".'),
    ("persistent", 'Flags allowed only with "src" or "dst".'),
    ("src=1.2.3.4,hash,random", 'Both "hash" and "random" are not allowed.'),
    ("foo", 'invalid key "foo" in "nat" argument'),
    ("src=1.2.3.9-1.2.3.4", 'invalid nat range "1.2.3.9-1.2.3.4"'),
    ("src=1.2.3.4:80-70", 'invalid nat range "1.2.3.4:80-70"'),
    ("src=1.2.3.4:80-", 'invalid nat range "1.2.3.4:80-"'),
    ("src=1.2.3.4:", 'invalid nat range "1.2.3.4:"'),
    ("src=1.2.3.4:65536", 'invalid nat range "1.2.3.4:65536"'),
    ("src=1.2.3.400", 'invalid nat range "1.2.3.400"'),
    ("src=1.2.3.4-fc00::1", 'invalid nat range "1.2.3.4-fc00::1"'),
    ("src=[fc00::5]-[fc00::1]", 'invalid nat range "[fc00::5]-[fc00::1]"'),
    ("src=1.2.3.4:80x", 'garbage (x) after nat range "1.2.3.4:80x" '
                        '(pos: 10)'),
    ("src=abc", 'garbage (abc) after nat range "abc" (pos: 0)'),
])
def test_nat_errors(text, message):
    with pytest.raises(ValueError) as e:
        parse_nat(text)
    assert str(e.value) == message
    with pytest.raises(ValueError):
        parse_ct_action(f"ct(commit,nat({text}))")


@pytest.mark.parametrize("text", [
    "ct",
    "ct(commit)",
    "ct(commit,force,zone=7)",
    "ct(commit,zone=7,exec(set_field:0x2a->ct_mark,set_field:0xabcd->"
    "ct_label),nat(src=10.1.1.240-10.1.1.250:3000-3010))",
    "ct(commit,exec(set_field:0x1/0xff->ct_mark))",
    "ct(zone=7,nat)",
    "ct(commit,nat(src))",
    "ct(commit,nat(dst=[fc00::1]-[fc00::5]:80,persistent,hash))",
    "ct(commit,nat(dst=fc00::1-fc00::5))",
])
def test_str_round_trip(text):
    a = parse_ct_action(text)
    assert parse_ct_action(str(a)) == a
    assert str(a) == text
