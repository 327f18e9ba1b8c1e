#!/bin/sh
# Builds the oracle for the non-TCP captures (tests/data/oracle/): an
# "ovstest" with OVS's tests/test-conntrack.c, ovs-ct-dump.c and
# ovs-ct-other.c ("ovsct-pcap-other": reassembly off, vlan-limit), linked
# with OVS's lib/libopenvswitch.a.  Uses the OVS tree build.sh uses (and
# builds it first through build.sh if needed).  Prints the binary's path.
#
#   OVS_SRC, ORACLE_DIR   as for build.sh; the binary is ORACLE_DIR/ovstest-other
set -e
here=$(cd "$(dirname "$0")" && pwd)
out=${ORACLE_DIR:-$HOME/.cache/ovsct-oracle}
"$here/build.sh" >/dev/null
if [ -z "$OVS_SRC" ]; then
    if [ -f "$HOME/.cache/ovsct-ovs/openvswitch/lib/.libs/libopenvswitch.a" ]
    then
        OVS_SRC=$HOME/.cache/ovsct-ovs/openvswitch
    else
        OVS_SRC=$out/openvswitch
    fi
fi
lib=$OVS_SRC/lib/.libs/libopenvswitch.a
bin=$out/ovstest-other
if [ ! -x "$bin" ] || [ "$here/ovs-ct-other.c" -nt "$bin" ] \
        || [ "$here/ovs-ct-dump.c" -nt "$bin" ] || [ "$lib" -nt "$bin" ]; then
    nice -n 19 gcc -g -O2 -Wall \
        -I"$OVS_SRC" -I"$OVS_SRC/include" -I"$OVS_SRC/lib" \
        -I"$OVS_SRC/tests" -o "$bin" \
        "$OVS_SRC/tests/ovstest.c" "$OVS_SRC/tests/test-conntrack.c" \
        "$here/ovs-ct-dump.c" "$here/ovs-ct-other.c" "$lib" \
        -latomic -lm -lpthread
fi
echo "$bin"
