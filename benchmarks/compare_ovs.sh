#!/bin/sh
# compare_ovs.sh -- ovsct's "standard" benchmark next to Open vSwitch's own
# userspace conntrack, in the same run on the same machine, with ratios.
#
#   benchmarks/compare_ovs.sh [-n CONNS] [-b BATCH] [-t "1 2"] [-r REPEAT]
#                             [-p "standard tcp"]
#
# Optional and slow the first time; never run in CI (it refuses when CI is
# set).  First use, as root: installs Debian's openvswitch-source package
# (apt-get), unpacks its tarball into $OVSCT_OVS_CACHE (default
# ~/.cache/ovsct-ovs), configures it and builds only lib/libopenvswitch.la
# at nice 19 (about 10 minutes on 2 vCPUs; OVS_MAKE_JOBS=N to use more),
# then links benchmarks/ovs_driver.c against it.  Later runs reuse the
# cache.  Debian 12 ships OVS 3.1.
#
# Each repetition runs, for each phase (-p: "standard", the default,
# and/or "tcp", the handshake/data/close mix in ns per packet) and thread
# count, the OVS driver and then `ovsct bench PHASE --json` (this tree's
# build) with the same connections, threads and batch size; the summary gives the best and the
# median of the repetitions and the OVS/ovsct ratios of each.  Raw JSON
# lines go to $OVSCT_OVS_CACHE/last-run.jsonl.
set -eu

CONNS=1000000
BATCH=32
THREADS="1 2"
REPEAT=1
PHASES=standard
while getopts n:b:t:r:p:h opt; do
    case $opt in
    n) CONNS=$OPTARG ;;
    b) BATCH=$OPTARG ;;
    t) THREADS=$OPTARG ;;
    r) REPEAT=$OPTARG ;;
    p) PHASES=$OPTARG ;;
    *) sed -n '2,20s/^# \{0,1\}//p' "$0"; exit 2 ;;
    esac
done

if [ -n "${CI:-}" ]; then
    echo "compare_ovs.sh: not run in CI" >&2
    exit 0
fi

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
CACHE=${OVSCT_OVS_CACHE:-$HOME/.cache/ovsct-ovs}
SRC=$CACHE/openvswitch
LIB=$SRC/lib/.libs/libopenvswitch.a
DRIVER=$CACHE/ovs_driver
JOBS=${OVS_MAKE_JOBS:-1}
mkdir -p "$CACHE"

log() { echo "compare_ovs.sh: $*" >&2; }

# 1. OVS sources.
if [ ! -x "$SRC/configure" ]; then
    TARBALL=/usr/src/openvswitch/openvswitch.tar.gz
    if [ ! -f "$TARBALL" ]; then
        log "installing openvswitch-source"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            openvswitch-source >&2 \
            || { apt-get update -q >&2 &&
                 DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
                     openvswitch-source >&2; }
    fi
    log "unpacking $TARBALL into $CACHE"
    tar xzf "$TARBALL" -C "$CACHE"
fi

# 2. OVS library (generated headers first: a bare library target does not
#    build BUILT_SOURCES).
if [ ! -f "$LIB" ]; then
    log "building OVS's library in $SRC (log: $CACHE/build.log)"
    (
        cd "$SRC"
        if [ ! -f Makefile ]; then
            nice -n 19 ./configure --disable-ssl --disable-libcapng
        fi
        BUILT=$(printf 'print-built:\n\t@echo $(BUILT_SOURCES)\n' |
                make -s -f Makefile -f - print-built)
        nice -n 19 make -j"$JOBS" $BUILT
        nice -n 19 make -j"$JOBS" lib/libopenvswitch.la
    ) >"$CACHE/build.log" 2>&1 || {
        log "OVS build failed, see $CACHE/build.log"; exit 1; }
fi

# 3. The driver.
if [ ! -x "$DRIVER" ] || [ "$HERE/ovs_driver.c" -nt "$DRIVER" ] \
        || [ "$ROOT/bench/framegen.h" -nt "$DRIVER" ] \
        || [ "$ROOT/bench/probes.h" -nt "$DRIVER" ] \
        || [ "$LIB" -nt "$DRIVER" ]; then
    log "linking $DRIVER"
    gcc -O2 -std=gnu11 -include "$SRC/config.h" -I"$ROOT/bench" \
        -I"$SRC" -I"$SRC/include" \
        -I"$SRC/lib" -o "$DRIVER" "$HERE/ovs_driver.c" "$LIB" \
        -latomic -lm -lpthread -lrt
fi

# 4. The runs.  Always this tree's build (an `ovsct` on PATH may be an
#    editable install of another work tree): `python3 -m` from $ROOT puts
#    $ROOT first on sys.path.
ovsct_bench() {
    (cd "$ROOT" && python3 -m ovsct.cli bench "$@")
}

OUT=$CACHE/last-run.jsonl
: >"$OUT"
i=0
while [ "$i" -lt "$REPEAT" ]; do
    for p in $PHASES; do
        for t in $THREADS; do
            log "run $((i + 1))/$REPEAT: $p, $CONNS conns, $t thread(s)," \
                "batch $BATCH"
            if [ "$p" = tcp ]; then
                "$DRIVER" "$CONNS" "$t" "$BATCH" tcp >>"$OUT"
            else
                "$DRIVER" "$CONNS" "$t" "$BATCH" >>"$OUT"
            fi
            ovsct_bench "$p" --conns "$CONNS" --threads "$t" \
                --batch "$BATCH" --json >>"$OUT"
        done
    done
    i=$((i + 1))
done

# 5. Summary.
OVS_VERSION=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"/\1/p' \
              "$SRC/config.h")
python3 - "$OUT" "$OVS_VERSION" <<'EOF'
import json
import sys

runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
groups = {}
for r in runs:
    groups.setdefault((r.get("engine", "ovsct"), r["threads"],
                       r.get("phase", "standard")), []).append(r)


def pick(key, k, how):
    vals = sorted(r[k] for r in groups[key])
    if how == "median":
        return vals[(len(vals) - 1) // 2]
    return vals[-1] if k.endswith("mpps") else vals[0]


METRICS = {"standard": (("insert_ms", "ms"), ("lookup_ms", "ms"),
                        ("flush_ms", "ms"), ("bytes_per_conn_rss", "B/conn")),
           "tcp": (("ns_per_packet", "ns/pkt"),)}


reps = max(len(v) for v in groups.values())
print(f"OVS {sys.argv[2]} vs ovsct, {runs[0]['conns']:,} connections, "
      f"batch {runs[0]['batch']}, best and median of {reps}")
rows = [("metric", "threads", "OVS best", "ovsct best", "ratio best",
         "OVS median", "ovsct median", "ratio median")]
threads = sorted({k[1] for k in groups})
for ph, t in sorted({(k[2], k[1]) for k in groups},
                    key=lambda p: (p[0] != "standard", p)):
    o, c = ("ovs", t, ph), ("ovsct", t, ph)
    if o not in groups or c not in groups:
        continue
    for k, unit in METRICS.get(ph, ()):
        row = [k if ph == "standard" else ph + " " + k, str(t)]
        for how in ("best", "median"):
            ov, cv = pick(o, k, how), pick(c, k, how)
            ratio = ov / cv if cv > 0 else float("inf")
            row += [f"{ov:.1f} {unit}", f"{cv:.1f} {unit}", f"{ratio:.2f}x"]
        rows.append(tuple(row))
one_key = ("ovsct", 1, "standard")
for t in threads:
    if t != 1 and one_key in groups and ("ovsct", t, "standard") in groups:
        row = ["insert scaling", str(t)]
        for how in ("best", "median"):
            one = pick(one_key, "insert_ms", how)
            tk = ("ovsct", t, "standard")
            row += ["", "", f"{one / pick(tk, 'insert_ms', how):.2f}x"]
        rows.append(tuple(row))
# Memory is compared by resident set: OVS mallocs its connections, ovsct
# maps its own slabs, which malloc statistics do not see.
widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
for r in rows:
    print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
bad = sorted({f"{e} {ph} t={t}" for (e, t, ph), rs in groups.items()
              for r in rs if not r.get("ok", True)})
if bad:
    print("checks FAILED: " + ", ".join(bad))
    sys.exit(1)
EOF
