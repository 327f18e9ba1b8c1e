"""Unixctl server: ovs.unixctl.server's contract with non-blocking big I/O.

This is a fork of the logic of ovs/unixctl/server.py (ovs 4.0.0), which in
turn follows lib/unixctl.c.  What is kept: the global command registry
(ovs.unixctl.commands, so ovs.vlog's vlog/* commands work unchanged), the
callback contract callback(conn, argv, aux) with conn.reply() /
conn.reply_error() / conn.reply_json(), deferred replies, one request in
flight per connection, the exact error texts of process_command(), the
"set-options --format text|json" built-in and OVS's list-commands format.

What differs, and why:

* Input is split into JSON texts by ovsct.jsonrpc.Framer (the client's
  receive path too) and parsed with the stdlib C decoder; the library parses
  byte by byte in Python.  Anything that cannot be a JSON-RPC request
  (garbage, invalid UTF-8, a missing "params", "id":null, an unexpected
  member) closes that connection without a reply, as OVS's
  lib/unixctl.c run_connection() does when jsonrpc_recv() fails; other
  connections are not affected.

* Output is a queue of byte chunks written with non-blocking send(), a
  bounded amount per connection per loop pass.  A long text reply is encoded
  lazily, 64 KB at a time, only as the socket drains, so a 115 MB dump
  neither builds a second 115 MB copy nor blocks the loop, and a client that
  never reads only holds its own reply.  The library keeps output in one str
  that it re-encodes and slices on every send(), after serializing the reply
  with ovs.json.to_string() (0.8 s for a 115 MB string here, against about
  0.1 s for the chunked encoder below).  A body may also be an iterable of
  str pieces, consumed as the socket drains.

* Text bodies follow lib/unixctl.c, not the Python library: None becomes "",
  and a non-empty body that does not end in a newline gets one.

* Worker threads hand results back through call_from_thread(), which wakes
  the poll loop through a pipe; only the loop thread touches connections.

* Robustness (issue 12): the loop waits with poll(2) (unixctl/poller.py;
  the library's select() died at descriptor 1024); at most max_clients
  are served, the next ones get a "too many clients" error reply; accept()
  failing for want of descriptors pauses accepting (10 ms doubling to 1 s)
  and is logged at most once per 5 s (RateLimit); a streamed reply makes
  its next piece only when the previous one is written, and memory is
  given back (trim_hook) after big replies; a socket that answers is never
  taken over, and only our own socket file is removed at exit.

Neighbours: unixctl/main.py (daemon, registration of the command table),
ovsct/jsonrpc.py (framing), ovsct/client.py (the client end of the same
wire format).
"""

from __future__ import annotations

import collections
import errno
import json
import os
import socket
import stat
import threading
from typing import Any, Callable, Iterable, Iterator

import ovs.fatal_signal
import ovs.jsonrpc
import ovs.timeval
import ovs.unixctl
import ovs.util
import ovs.vlog

from ovsct import jsonrpc
from unixctl import poller as pollers
from unixctl.poller import Poller

vlog = ovs.vlog.Vlog("unixctl")

Message = ovs.jsonrpc.Message
TEXT = ovs.unixctl.UnixctlOutputFormat.TEXT
JSON = ovs.unixctl.UnixctlOutputFormat.JSON

MAX_INPUT = 4 << 20           # Bytes of one request before we give up.
# Bytes written per connection per loop pass: what one fast reader of a
# streamed dump may take before the other clients get their turn (pieces
# of a streamed reply are made inside that budget, in the loop thread).
SEND_BUDGET = 1 << 20
CHUNK = 64 << 10              # Characters encoded per lazy output chunk.
MAX_REQUESTS_PER_RUN = 10     # As lib/unixctl.c run_connection().

# Client cap (--max-clients): by default the descriptors the process may
# open, less RESERVED_FDS for everything else (engine, log, wake pipe,
# captures being replayed), at most DEFAULT_MAX_CLIENTS.
DEFAULT_MAX_CLIENTS = 1000
RESERVED_FDS = 32
# Clients over the cap are told so: each may stay REFUSE_MS to send its
# request and get the refusal as the error reply; at most MAX_REFUSING of
# them at a time, the rest are closed at once.
REFUSE_MS = 2000
MAX_REFUSING = 16
# accept() failing for want of descriptors or memory: stop accepting for
# a back-off that doubles from ACCEPT_BACKOFF_MIN to ACCEPT_BACKOFF_MAX ms
# (the pending clients wait in the listen backlog meanwhile).
ACCEPT_BACKOFF_MIN = 10
ACCEPT_BACKOFF_MAX = 1000
_RESOURCE_ERRNOS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
# Malloc arenas are given back (trim hook) this long after the last big
# reply ended or its client left.
TRIM_DELAY_MS = 200
BIG_REPLY = 1 << 20

_encode_str = json.encoder.encode_basestring_ascii


# ---------------------------------------------------------------------------
# Registration helpers (the registry itself is ovs.unixctl.commands).

def command_register(name: str, usage: str, min_args: int, max_args: int,
                     callback: Callable, aux: Any) -> None:
    """ovs.unixctl.command_register(): duplicates are ignored."""
    ovs.unixctl.command_register(name, usage, min_args, max_args, callback,
                                 aux)


def list_commands_text() -> str:
    """lib/unixctl.c unixctl_list_commands(): sorted, "  %-23s %s\\n"."""
    lines = ["The available commands are:\n"]
    for name in sorted(ovs.unixctl.commands):
        lines.append("  %-23s %s\n" % (name, ovs.unixctl.commands[name].usage))
    return "".join(lines)


def _unixctl_list_commands(conn: "UnixctlConnection", argv: list[str],
                           aux: Any) -> None:
    conn.reply(list_commands_text())


def _unixctl_version(conn: "UnixctlConnection", argv: list[str],
                     version: str) -> None:
    conn.reply(version)


def _unixctl_set_options(conn: "UnixctlConnection", argv: list[str],
                         aux: Any) -> None:
    """set-options [--format text|json], as lib/unixctl.c in OVS >= 3.4."""
    fmt = conn.fmt
    i = 0
    while i < len(argv):
        if i + 1 == len(argv):
            conn.reply_error("option requires an argument -- %s" % argv[i])
            return
        if argv[i] != "--format":
            conn.reply_error("invalid option -- %s" % argv[i])
            return
        value = argv[i + 1].lower()
        if value == "text":
            fmt = TEXT
        elif value == "json":
            fmt = JSON
        else:
            conn.reply_error("option --format has invalid value %s"
                             % argv[i + 1])
            return
        i += 2
    conn.fmt = fmt
    conn.reply(None)


# ---------------------------------------------------------------------------
# Output encoding.

# Printable ASCII that needs no escape in a JSON string, plus newline.
_PLAIN = bytes(c for c in range(0x20, 0x7f) if c not in b'"\\') + b"\n"


def _encode_chunk(text: str) -> bytes:
    """The JSON string body (no quotes) of 'text'.  Dump text is printable
    ASCII plus newlines, so the common case is encode + one replace, about
    twice as fast as the generic encoder."""
    if text.isascii():
        raw = text.encode("ascii")
        if not raw.translate(None, _PLAIN):
            return raw.replace(b"\n", b"\\n")
    return _encode_str(text)[1:-1].encode("ascii")


def _text_chunks(text: str) -> Iterator[bytes]:
    for i in range(0, len(text), CHUNK):
        yield _encode_chunk(text[i:i + CHUNK])


def _stream_chunks(pieces: Iterable[str]) -> Iterator[bytes]:
    # lib/unixctl.c's rule for a body that arrives in pieces: a newline is
    # added at the end if the text is non-empty and lacks one.
    last = ""
    for piece in pieces:
        if piece:
            last = piece
            yield from _text_chunks(piece)
    if last and not last.endswith("\n"):
        yield b"\\n"


def encode_string(text: str | Iterable[str]) -> list:
    """The JSON string 'text' as output items: bytes for short strings, a
    lazy chunk iterator (between quote bytes) for long ones.  'text' may also
    be an iterable of str pieces (a body produced incrementally, e.g. a dump
    read from the engine in chunks); it is consumed only as the socket
    drains, in the loop thread, and gets the final-newline rule."""
    if hasattr(text, "json_pieces"):
        # Already escaped by its maker (ovsct.engine.TextStream); dump
        # lines always end in a newline, so the final-newline rule holds.
        return [b'"', text.json_pieces(), b'"']
    if not isinstance(text, str):
        return [b'"', _stream_chunks(text), b'"']
    if len(text) <= CHUNK:
        return [_encode_str(text).encode("ascii")]
    return [b'"', _text_chunks(text), b'"']


def _json_chunks(items: list) -> Iterator[bytes]:
    step = 1024
    for i in range(0, len(items), step):
        piece = json.dumps(items[i:i + step], separators=(",", ":"))
        if i:
            yield b","
        yield piece[1:-1].encode("ascii")


def encode_json(value: Any) -> list:
    """'value' as output items; long top-level lists (and long lists that are
    values of a top-level object) are encoded lazily in slices.  An object
    with json_chunks() (ovsct.engine.JsonStream, format.JsonText) is its
    own lazy encoder: its pieces are asked for only as the socket drains."""
    if hasattr(value, "json_chunks"):
        return [value.json_chunks()]
    if isinstance(value, str):
        return encode_string(value)
    if isinstance(value, list) and len(value) > 1024:
        return [b"[", _json_chunks(value), b"]"]
    if isinstance(value, dict) and any(
            isinstance(v, (list, str)) and len(v) > 1024
            for v in value.values()):
        items: list = [b"{"]
        for n, (k, v) in enumerate(value.items()):
            if n:
                items.append(b",")
            items.append(_encode_str(str(k)).encode("ascii") + b":")
            items.extend(encode_json(v))
        items.append(b"}")
        return items
    return [json.dumps(value, separators=(",", ":")).encode("ascii")]


# ---------------------------------------------------------------------------
# Connections.

class UnixctlConnection:
    """One client connection.  Commands see it as 'conn'."""

    def __init__(self, server: "UnixctlServer", sock: socket.socket,
                 name: str):
        self.server = server
        self.sock = sock
        self.name = name
        self.fmt = TEXT
        self.closed = False
        self._pending = False            # A request awaits its reply.
        self._request_id: Any = None
        self._framer = jsonrpc.Framer()
        self._out: collections.deque = collections.deque()
        self._error = 0
        self._reply_bytes = 0            # Written of the current reply.
        # Over the client cap: the error text every request gets, and the
        # time (ovs.timeval.msec()) this connection is closed regardless.
        self.refusal: str | None = None
        self.deadline = 0
        self.done = False                # Close once the output is out.

    def refuse(self, text: str, deadline: int) -> None:
        """Answers the first request with 'text' as an error, then closes;
        closes at 'deadline' if no request came."""
        self.refusal = text
        self.deadline = deadline

    # -- Replies (the ovs library's API). --------------------------------

    def reply(self, body: str | Iterable[str] | None) -> None:
        """Success with text 'body' (a str, or an iterable of str pieces,
        see encode_string()).  In JSON mode, commands without a JSON
        rendering answer {"reply-format": "plain", "reply": body}."""
        if body is None or isinstance(body, str):
            body = _normalize(body)
        items = encode_string(body)
        if self.fmt == JSON:
            items = [b'{"reply-format":"plain","reply":'] + items + [b"}"]
        self._reply_items(True, items)

    def reply_json(self, body: Any) -> None:
        """Success with the JSON value 'body'."""
        self._reply_items(True, encode_json(body))

    def reply_error(self, body: str | None) -> None:
        self._reply_items(False, encode_string(_normalize(body)))

    def reply_result(self, text: str | None, data: Any) -> None:
        """Success for a command that has both renderings: 'data' in JSON
        mode, 'text' otherwise."""
        if self.fmt == JSON:
            self.reply_json(data)
        else:
            self.reply(text)

    @property
    def pending(self) -> bool:
        return self._pending

    def _reply_items(self, success: bool, body: list) -> None:
        if self.closed:
            return              # The client went away meanwhile.
        assert self._pending, "reply without a request"
        head = '{"id":%s,' % json.dumps(self._request_id)
        head += '"result":' if success else '"error":'
        self._out.append(head.encode("utf-8"))
        self._out.extend(body)
        self._out.append(b',"error":null}' if success else b"}")
        self._pending = False
        self._request_id = None
        self.server.poke(self)

    # -- I/O. -------------------------------------------------------------

    def backlog(self) -> bool:
        return bool(self._out)

    def run(self) -> int:
        """Writes pending output, then reads and processes requests.
        Returns 0, errno.EAGAIN, or an error that should close us."""
        error = self._flush()
        if error or self._out:
            return error
        if self.done:
            return ovs.jsonrpc.EOF
        for _ in range(MAX_REQUESTS_PER_RUN):
            if self._pending or self.closed:
                break
            error = self._recv_one()
            if error:
                return error
        return self._flush()

    def _flush(self) -> int:
        """Writes queued output until the socket would block or this pass's
        budget is spent.  A lazy item (an iterator of bytes) is asked for
        its next piece only when everything before it has been written, so
        a client that does not read holds at most one piece."""
        sent = 0
        out = self._out
        while out and sent < SEND_BUDGET:
            head = out[0]
            if not isinstance(head, (bytes, memoryview)):
                try:
                    chunk = next(head, None)
                except Exception:
                    # The reply cannot be finished (an engine error in the
                    # middle of a dump): the client sees the connection
                    # close, as for any truncated reply; others go on.
                    vlog.exception("%s: reply failed" % self.name)
                    return errno.EIO
                if chunk is None:
                    out.popleft()
                else:
                    out.appendleft(chunk)
                continue
            try:
                n = self.sock.send(head)
            except (BlockingIOError, InterruptedError):
                return 0
            except OSError as e:
                return e.errno or errno.EIO
            sent += n
            self._reply_bytes += n
            if n == len(head):
                out.popleft()
            else:
                out[0] = memoryview(head)[n:]
                return 0
        if not out and self._reply_bytes:
            if self._reply_bytes >= BIG_REPLY:
                self.server.schedule_trim()
            self._reply_bytes = 0
        return 0

    def _recv_one(self) -> int:
        """Processes one request if a complete one is buffered or arrives.
        Returns 0 if nothing more can be done now, else an error."""
        while True:
            try:
                obj = self._framer.next_message(fast=False)
            except jsonrpc.ProtocolError as e:
                return self._protocol_error(str(e))
            if obj is not None:
                return self._handle_message(obj)
            if len(self._framer) > MAX_INPUT:
                return self._protocol_error("request too long")
            try:
                n = self._framer.recv_into(self.sock, 65536)
            except (BlockingIOError, InterruptedError):
                return errno.EAGAIN
            except OSError as e:
                return e.errno or errno.EIO
            if not n:
                return ovs.jsonrpc.EOF

    def _protocol_error(self, why: str) -> int:
        vlog.warn("%s: error parsing stream: %s" % (self.name, why))
        return errno.EPROTO

    def _handle_message(self, obj: Any) -> int:
        msg = Message.from_json(obj)
        if not isinstance(msg, Message):
            vlog.warn("%s: received bad JSON-RPC message: %s"
                      % (self.name, msg))
            return errno.EPROTO
        if msg.type != Message.T_REQUEST:
            vlog.warn("%s: received unexpected %s message"
                      % (self.name, Message.type_to_string(msg.type)))
            return errno.EINVAL
        self._process_command(msg)
        return 0

    def _process_command(self, request: Message) -> None:
        """lib/unixctl.c process_command(), texts included."""
        self._pending = True
        self._request_id = request.id
        method, params = request.method, request.params
        if self.refusal is not None:
            self.done = True
            self.reply_error(self.refusal)
            return
        if vlog.dbg_is_enabled():
            vlog.dbg("received request %s%s, id=%s"
                     % (method, json.dumps(params), json.dumps(request.id)))
        command = ovs.unixctl.commands.get(method)
        if command is None:
            error = ('"%s" is not a valid command (use "list-commands" to '
                     'see a list of valid commands)' % method)
        elif len(params) < command.min_args:
            error = ('"%s" command requires at least %d arguments'
                     % (method, command.min_args))
        elif len(params) > command.max_args:
            error = ('"%s" command takes at most %d arguments'
                     % (method, command.max_args))
        elif not all(isinstance(p, str) for p in params):
            error = '"%s" command has non-string argument' % method
        else:
            try:
                command.callback(self, list(params), command.aux)
            except Exception:
                vlog.exception("%s: command %s failed" % (self.name, method))
                if self._pending:
                    self.reply_error("%s: internal error" % method)
            return
        self.reply_error(error)

    def wait(self, poller: Poller) -> None:
        if self.closed:
            return
        events = 0
        if self._out:
            events |= pollers.POLLOUT
        elif not self._pending and not self.done:
            events |= pollers.POLLIN
        if events:
            poller.fd_wait(self.sock, events)
        if not self._pending and not self._out and self._framer.more:
            poller.immediate_wake()     # Pipelined requests are buffered.

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self._out:
                self.server.schedule_trim()     # A reply left unread.
            self._out.clear()
            self.sock.close()


def _normalize(body: str | None) -> str:
    if not body:
        return ""
    return body if body.endswith("\n") else body + "\n"


# ---------------------------------------------------------------------------
# Server.

class SocketInUse(OSError):
    """Another process answers on the socket path we were to bind."""


class RateLimit:
    """At most one message per 'interval' seconds, like OVS's
    VLOG_RATE_LIMIT_INIT(): the first message after a quiet spell is
    logged, later ones are counted, and the next one logged says how many
    were dropped (lib/vlog.c vlog_should_drop() / vlog_rate_limit())."""

    def __init__(self, interval: float = 5.0) -> None:
        self.interval_ms = int(interval * 1000)
        self._next = 0
        self._dropped = 0
        self._first_dropped = 0
        self._last_dropped = 0

    def log(self, fn: Callable[[str], None], message: str) -> None:
        now = ovs.timeval.msec()
        if now < self._next:
            if not self._dropped:
                self._first_dropped = now
            self._dropped += 1
            self._last_dropped = now
            return
        if self._dropped:
            fn("Dropped %d log messages in last %d seconds (most recently, "
               "%d seconds ago) due to excessive rate"
               % (self._dropped, (now - self._first_dropped) // 1000 + 1,
                  (now - self._last_dropped) // 1000))
            self._dropped = 0
        fn(message)
        self._next = now + self.interval_ms


def default_max_clients() -> int:
    """DEFAULT_MAX_CLIENTS, or fewer if RLIMIT_NOFILE leaves less room."""
    import resource
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return DEFAULT_MAX_CLIENTS
    return max(1, min(DEFAULT_MAX_CLIENTS, soft - RESERVED_FDS))


class UnixctlServer:
    """Listens on a Unix socket and serves ovs.unixctl.commands."""

    def __init__(self, sock: socket.socket, path: str,
                 owner: tuple[int, int] | None = None,
                 max_clients: int | None = None):
        self._listener = sock
        self.path = path
        self._owner = owner                 # (st_dev, st_ino) we bound.
        self.max_clients = max_clients or default_max_clients()
        self._conns: list[UnixctlConnection] = []
        self._n_refusing = 0
        self._poked: set = set()
        self._calls: collections.deque = collections.deque()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._accept_resume = 0             # msec; accept paused before.
        self._accept_backoff = 0
        self._accept_log = RateLimit()
        self._refuse_log = RateLimit()
        # Called (in the loop thread) to give memory back after big
        # replies; unixctl/main.py sets it to the engine's trim().
        self.trim_hook: Callable[[], None] | None = None
        self._trim_at = 0
        if owner is not None:
            ovs.fatal_signal.add_hook(self.unlink_own, None, True)

    @staticmethod
    def create(path: str, version: str,
               max_clients: int | None = None) -> "UnixctlServer":
        """Binds 'path' (mode 0600), registers list-commands, version and
        set-options.  A socket already at 'path' is replaced only if nobody
        answers on it (a leftover of a process that died); if a process
        does, raises SocketInUse.  Raises OSError."""
        _check_not_live(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            _bind(sock, path)
            st = os.stat(path)
            os.chmod(path, 0o600)
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        finally:
            os.umask(old_umask)
        sock.setblocking(False)
        # ovs.unixctl registers a "help" command at import; OVS has none.
        ovs.unixctl.commands.pop("help", None)
        command_register("list-commands", "", 0, 0, _unixctl_list_commands,
                         None)
        command_register("version", "", 0, 0, _unixctl_version, version)
        command_register("set-options", "[--format text|json]", 1, 2,
                         _unixctl_set_options, None)
        return UnixctlServer(sock, path, (st.st_dev, st.st_ino), max_clients)

    def unlink_own(self) -> None:
        """Removes the socket file if it is still the one we bound: a
        process that replaced it (after we stopped answering) keeps its
        own."""
        if self._owner is None:
            return
        try:
            st = os.stat(self.path)
            if (st.st_dev, st.st_ino) == self._owner:
                os.unlink(self.path)
        except OSError:
            pass
        self._owner = None

    # -- Cross-thread. -----------------------------------------------------

    def call_from_thread(self, fn: Callable, *args: Any) -> None:
        """Runs fn(*args) in the loop thread soon.  Any thread."""
        with self._lock:
            self._calls.append((fn, args))
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass                # Already awake.

    def poke(self, conn: UnixctlConnection) -> None:
        """'conn' has new output: run it on this pass of the loop."""
        self._poked.add(conn)

    def schedule_trim(self) -> None:
        """A big reply ended or was abandoned: give memory back soon (once
        for a burst of them)."""
        if self.trim_hook is not None and not self._trim_at:
            self._trim_at = ovs.timeval.msec() + TRIM_DELAY_MS

    @property
    def n_clients(self) -> int:
        """Clients being served (not those being refused)."""
        return len(self._conns) - self._n_refusing

    # -- Loop. --------------------------------------------------------------

    def run(self) -> None:
        self._run_calls()
        now = ovs.timeval.msec()
        # Connections first: clients that left free their slots before
        # new ones are counted against the cap.
        for conn in list(self._conns):
            self._run_conn(conn, now)
        if now >= self._accept_resume:
            self._accept(now)
        self._run_poked()
        if self._trim_at and now >= self._trim_at:
            self._trim_at = 0
            try:
                self.trim_hook()
            except Exception:
                vlog.exception("trim failed")

    def _accept(self, now: int) -> None:
        for _ in range(10):
            try:
                sock, _addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                break
            except OSError as e:
                self._accept_failed(e, now)
                break
            self._accept_backoff = 0
            sock.setblocking(False)
            conn = UnixctlConnection(self, sock, "unix#%d" % sock.fileno())
            if self.n_clients >= self.max_clients:
                if not self._refuse(conn, now):
                    continue
            self._conns.append(conn)

    def _accept_failed(self, e: OSError, now: int) -> None:
        if e.errno in _RESOURCE_ERRNOS:
            # The client stays in the backlog and the listener stays
            # readable: without a pause this would spin.
            self._accept_backoff = min(
                max(self._accept_backoff * 2, ACCEPT_BACKOFF_MIN),
                ACCEPT_BACKOFF_MAX)
            self._accept_resume = now + self._accept_backoff
        self._accept_log.log(vlog.warn, "%s: accept failed: %s (%d clients)"
                             % (self.path, os.strerror(e.errno),
                                self.n_clients))

    def _refuse(self, conn: UnixctlConnection, now: int) -> bool:
        """Over the cap: 'conn' will get a clear error.  Returns False if
        it was closed at once instead (too many refusals pending)."""
        text = ("%s: too many clients (%d connected, the maximum is %d, "
                "see --max-clients); try again later"
                % (ovs.util.PROGRAM_NAME, self.n_clients, self.max_clients))
        self._refuse_log.log(vlog.warn, "%s: refused: too many clients (%d)"
                             % (conn.name, self.n_clients))
        if self._n_refusing >= MAX_REFUSING:
            conn.close()
            return False
        conn.refuse(text, now + REFUSE_MS)
        self._n_refusing += 1
        return True

    def _run_calls(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        while True:
            with self._lock:
                if not self._calls:
                    break
                fn, args = self._calls.popleft()
            try:
                fn(*args)
            except Exception:
                vlog.exception("deferred call failed")

    def _run_poked(self) -> None:
        # A reply made during this pass (deferred or inline) is written now
        # rather than after the next poll.  Only written: new requests wait
        # for the next pass, so one busy client cannot starve the others.
        poked, self._poked = self._poked, set()
        for conn in poked:
            if not conn.closed and conn in self._conns:
                error = conn._flush()
                if error or (conn.done and not conn.backlog()):
                    self._drop(conn)

    def _run_conn(self, conn: UnixctlConnection, now: int) -> None:
        self._poked.discard(conn)
        if conn.refusal is not None and now >= conn.deadline:
            self._drop(conn)
            return
        try:
            error = conn.run()
        except Exception:
            # A bug must cost one connection, not the daemon.
            vlog.exception("%s: connection failed" % conn.name)
            error = errno.EIO
        if error and error != errno.EAGAIN:
            self._drop(conn)

    def _drop(self, conn: UnixctlConnection) -> None:
        conn.close()
        self._conns.remove(conn)
        if conn.refusal is not None:
            self._n_refusing -= 1

    def wait(self, poller: Poller) -> None:
        now = ovs.timeval.msec()
        if now >= self._accept_resume:
            poller.fd_wait(self._listener, pollers.POLLIN)
        else:
            poller.timer_wait_until(self._accept_resume)
        poller.fd_wait(self._wake_r, pollers.POLLIN)
        if self._poked or self._calls:
            poller.immediate_wake()
        if self._trim_at:
            poller.timer_wait_until(self._trim_at)
        for conn in self._conns:
            conn.wait(poller)
            if conn.refusal is not None:
                poller.timer_wait_until(conn.deadline)

    def flush(self, timeout_ms: int = 1000) -> None:
        """Blocks up to 'timeout_ms' for queued replies to be written."""
        deadline = ovs.timeval.msec() + timeout_ms
        while any(c.backlog() for c in self._conns):
            if ovs.timeval.msec() >= deadline:
                break
            for conn in list(self._conns):
                # Only write: requests that arrive now stay unanswered.
                if conn.backlog() and conn._flush():
                    self._drop(conn)
            poller = Poller()
            for conn in self._conns:
                if conn.backlog():
                    poller.fd_wait(conn.sock, pollers.POLLOUT)
            poller.timer_wait_until(deadline)
            poller.block()

    def close(self) -> None:
        """Closes every connection and removes the socket file (if it is
        still ours)."""
        for conn in self._conns:
            conn.close()
        self._conns = []
        self._n_refusing = 0
        if self._listener is not None:
            self._listener.close()
            self._listener = None
            self.unlink_own()
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)
        self._wake_r = self._wake_w = -1


def _check_not_live(path: str) -> None:
    """Raises SocketInUse if a process accepts connections on 'path';
    removes a socket file nobody listens on (left by a process that was
    killed)."""
    try:
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            return              # bind() will say EADDRINUSE.
    except FileNotFoundError:
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.setblocking(False)
    try:
        _at_path(probe.connect, path)
    except (BlockingIOError, InterruptedError):
        pass                    # A full backlog: a live, busy listener.
    except ConnectionRefusedError:
        try:
            os.unlink(path)     # Stale.
        except FileNotFoundError:
            pass
        return
    except OSError:
        return                  # Let bind() report the problem.
    finally:
        probe.close()
    raise SocketInUse(errno.EADDRINUSE, "another process is listening on "
                      "this socket", path)


def _bind(sock: socket.socket, path: str) -> None:
    _at_path(sock.bind, path)


def _at_path(call: Callable[[str], None], path: str) -> None:
    """sock.bind(path) or sock.connect(path); sun_path holds 108 bytes,
    so a longer path goes through /proc/self/fd like OVS
    (lib/socket-util-unix.c make_sockaddr_un())."""
    try:
        call(path)
    except OSError as e:
        if "too long" not in str(e) and e.errno != errno.ENAMETOOLONG:
            raise
        dirfd = os.open(os.path.dirname(path), os.O_DIRECTORY | os.O_RDONLY)
        try:
            call("/proc/self/fd/%d/%s" % (dirfd, os.path.basename(path)))
        finally:
            os.close(dirfd)
