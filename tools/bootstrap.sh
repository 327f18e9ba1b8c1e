#!/bin/sh
# Installs what `make run` and `make test` need, and nothing when it is all
# there already (a second run costs a few imports and `command -v` calls).
#
#   tools/bootstrap.sh python PYTHON   Python packages: ovsct's dependencies
#                                      (ovs, pyroute2, tabulate), and dpkt,
#                                      pytest and flake8 for the checks,
#                                      from PyPI.
#   tools/bootstrap.sh system          Debian tools the checks use: a C
#                                      compiler, clang (thread-safety
#                                      analysis), ovs-appctl (daemon tests),
#                                      tcpdump and ethtool (capture tests),
#                                      groff/man (man page tests),
#                                      setarch (TSan), nft and conntrack
#                                      (kernel datapath tests), ip, ping
#                                      and ethtool (live datapath tests).
#                                      apt-get, as root.
#
# .ci/run calls both, then `make test`; on a developer machine the Makefile
# calls them from `make build` / `make test`.
set -eu

case "${1:-}" in
python)
    PYTHON=${2:-python3}
    if "$PYTHON" -c 'import ovs, pyroute2, tabulate, dpkt, pytest, flake8' \
            2>/dev/null && "$PYTHON" -c 'import atheris' 2>/dev/null; then
        exit 0
    fi
    echo "bootstrap: installing Python dependencies"
    # Debian's own python3 is "externally managed" (PEP 668).  atheris:
    # the text-parser fuzzers (mk/fuzz.mk).
    PIP_BREAK_SYSTEM_PACKAGES=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
        "$PYTHON" -m pip install -q ovs pyroute2 tabulate dpkt pytest flake8 \
        atheris
    ;;
system)
    missing=
    for tool in cc clang ovs-appctl tcpdump groff man setarch make nft \
            conntrack ip ping ethtool; do
        command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
    done
    # clang's sanitizer and libFuzzer runtimes (mk/fuzz.mk).
    command -v clang >/dev/null 2>&1 && [ -f "$(clang \
        -print-file-name=libclang_rt.fuzzer-x86_64.a)" ] || \
        missing="$missing libclang-rt"
    [ -z "$missing" ] && exit 0
    if [ "$(id -u)" != 0 ]; then
        echo "bootstrap: missing:$missing (install them, or run as root)" >&2
        exit 1
    fi
    echo "bootstrap: installing Debian packages for:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends \
        build-essential make clang openvswitch-common tcpdump groff-base \
        man-db iproute2 util-linux ca-certificates nftables conntrack \
        iputils-ping ethtool libclang-rt-14-dev
    ;;
*)
    echo "usage: $0 python PYTHON | system" >&2
    exit 2
    ;;
esac
