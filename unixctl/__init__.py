"""ovsctd: the ovsct daemon, an ovs-appctl-compatible control channel.

The daemon's own top-level package (entry point ``ovsctd =
unixctl.main:main``).  It imports ovsct and is never imported by it.

    main.py     options (ovs.daemon, ovs.vlog, ours), startup, the loop,
                the adapter from the command table to unixctl callbacks
    server.py   the unixctl server (JSON-RPC over a Unix socket)
"""
