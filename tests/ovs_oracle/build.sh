#!/bin/sh
# Builds the OVS oracle of every capture set: an "ovstest" holding OVS's own
# tests/test-conntrack.c (its "pcap" subcommand) and ovs-ct-oracle.c beside
# this script ("ovsct-pcap"), linked with OVS's lib/libopenvswitch.a.  Not
# needed to run the test suite: the golden files in tests/data/tcp/ and
# tests/data/other/ are committed.  Prints the binary's path (the tests find
# it there, or at $OVSCT_ORACLE).
#
#   OVS_SRC=DIR   an OVS tree already configured and with libopenvswitch.a
#                 built (default: ~/.cache/ovsct-ovs/openvswitch if it has
#                 one, else Debian's openvswitch-source unpacked and built
#                 in ~/.cache/ovsct-oracle/openvswitch; apt-get install
#                 openvswitch-source first)
#   ORACLE_DIR=D  where the binary goes (default ~/.cache/ovsct-oracle)
set -e
here=$(cd "$(dirname "$0")" && pwd)
out=${ORACLE_DIR:-$HOME/.cache/ovsct-oracle}
mkdir -p "$out"
if [ -z "$OVS_SRC" ]; then
    if [ -f "$HOME/.cache/ovsct-ovs/openvswitch/lib/.libs/libopenvswitch.a" ]
    then
        OVS_SRC=$HOME/.cache/ovsct-ovs/openvswitch
    else
        OVS_SRC=$out/openvswitch
    fi
fi
lib=$OVS_SRC/lib/.libs/libopenvswitch.a
if [ ! -f "$lib" ]; then
    if [ ! -f "$OVS_SRC/configure" ]; then
        tar -C "$(dirname "$OVS_SRC")" -xzf \
            /usr/src/openvswitch/openvswitch.tar.gz
    fi
    cd "$OVS_SRC"
    [ -f Makefile ] || ./configure --disable-ssl --disable-libcapng >/dev/null
    built=$(make -s -f Makefile -f - print-built <<'MK'
print-built:
	@echo $(BUILT_SOURCES)
MK
)
    nice -n 19 make -j2 $built >/dev/null
    nice -n 19 make -j2 lib/libopenvswitch.la >/dev/null
    cd - >/dev/null
fi
bin=$out/ovstest
if [ ! -x "$bin" ] || [ "$here/ovs-ct-oracle.c" -nt "$bin" ] \
        || [ "$lib" -nt "$bin" ]; then
    nice -n 19 gcc -g -O2 -Wall \
        -I"$OVS_SRC" -I"$OVS_SRC/include" -I"$OVS_SRC/lib" \
        -I"$OVS_SRC/tests" -o "$bin" \
        "$OVS_SRC/tests/ovstest.c" "$OVS_SRC/tests/test-conntrack.c" \
        "$here/ovs-ct-oracle.c" "$lib" -latomic -lm -lpthread
fi
echo "$bin"
