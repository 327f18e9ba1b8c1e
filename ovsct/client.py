"""Unixctl JSON-RPC client: what ovs-appctl does, with the stdlib json.

The wire format is JSON-RPC 1.0 over a Unix stream socket, messages back to
back with no framing (OBSERVED.md section 4).  A request is
``{"id":N,"method":M,"params":[strings]}``; a reply carries either
``"result"`` or ``"error"``.

Replies can be large (a dump of a million connections is a 115 MB string), so
this client never parses byte by byte in Python: it reads in big chunks,
tries the C decoder only when the buffer ends with ``}`` (every complete reply
does), and has a fast path for the common ``{"id":..,"result":"..."}`` shape
that only unescapes ``\\n``.

Target resolution follows ovs-appctl: a target starting with ``/`` is a
socket path; anything else is a program name whose pid is read from
``<rundir>/NAME.pid`` and whose socket is ``<rundir>/NAME.<pid>.ctl``.

Neighbours: ovsct/cli.py (the ``ovsct`` command) and unixctl/server.py (the
daemon end of the same socket), which also uses default_rundir().
"""

from __future__ import annotations

import errno
import json
import os
import select
import socket
import time
from typing import Any, Callable

RUNDIR_ENV = "OVS_RUNDIR"
SYSTEM_RUNDIR = "/var/run/openvswitch"
DEFAULT_TARGET = "ovsctd"

_RECV_SIZE = 1 << 20
_decoder = json.JSONDecoder()


class ClientError(Exception):
    """A failure before or while talking to the server.

    'errno' is a positive errno value (or 0), 'message' is ovs-appctl's text
    without the program prefix or the strerror suffix, and 'log' is the
    vlog-style warning ovs-appctl prints first (module, text) or None."""

    def __init__(self, err: int, message: str,
                 log: tuple[str, str] | None = None):
        super().__init__(message)
        self.errno = err
        self.message = message
        self.log = log

    def __str__(self) -> str:
        return "%s (%s)" % (self.message, strerror(self.errno))


def strerror(err: int) -> str:
    """ovs_retval_to_string(): errno text, with EOF as "End of file"."""
    if err == -1 or err == 0:
        return "End of file"
    return os.strerror(err)


# ---------------------------------------------------------------------------
# Run directory and target resolution.

def user_rundir() -> str:
    """A per-user run directory for users who cannot write the system one."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "ovsct")
    return "/tmp/ovsct-%d" % os.getuid()


def rundir_candidates() -> list[str]:
    """Run directories in the order the daemon considers them."""
    env = os.environ.get(RUNDIR_ENV)
    if env:
        return [env]
    return [SYSTEM_RUNDIR, user_rundir()]


def _usable_system_rundir() -> bool:
    if os.path.isdir(SYSTEM_RUNDIR):
        return os.access(SYSTEM_RUNDIR, os.W_OK | os.X_OK)
    parent = os.path.dirname(SYSTEM_RUNDIR)
    return os.path.isdir(parent) and os.access(parent, os.W_OK | os.X_OK)


def default_rundir() -> str:
    """The daemon's run directory: $OVS_RUNDIR, else /var/run/openvswitch
    when it is (or can be made) writable, else user_rundir().  Creates
    nothing."""
    env = os.environ.get(RUNDIR_ENV)
    if env:
        return env
    if _usable_system_rundir():
        return SYSTEM_RUNDIR
    return user_rundir()


def read_pidfile(path: str) -> int:
    """Returns the pid stored in pidfile 'path' if that process is alive.
    Raises ClientError as ovs-appctl reports it."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise ClientError(e.errno, 'cannot read pidfile "%s"' % path,
                          ("daemon_unix", "%s: open: %s"
                           % (path, os.strerror(e.errno))))
    try:
        pid = int(text.strip())
        if pid <= 0:
            raise ValueError
    except ValueError:
        raise ClientError(errno.EINVAL, 'cannot read pidfile "%s"' % path,
                          ("daemon_unix", "%s: read: parse error" % path))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        raise ClientError(errno.ESRCH, 'cannot read pidfile "%s"' % path,
                          ("daemon_unix", "%s: pid %d is not running"
                           % (path, pid)))
    except PermissionError:
        pass
    return pid


def resolve_target(target: str) -> str:
    """Returns the socket path for 'target' (see the module comment)."""
    if target.startswith("/"):
        return target
    candidates = rundir_candidates()
    for rundir in candidates:
        if os.path.exists(os.path.join(rundir, target + ".pid")):
            break
    else:
        rundir = candidates[0]
    pid = read_pidfile(os.path.join(rundir, target + ".pid"))
    return os.path.join(rundir, "%s.%d.ctl" % (target, pid))


# ---------------------------------------------------------------------------
# Connection.

class UnixctlClient:
    """One connection to a unixctl server; one request at a time."""

    def __init__(self, sock: socket.socket, path: str):
        self.sock = sock
        self.path = path
        self.name = "unix:" + path
        self._in = bytearray()          # Received bytes; valid up to _n.
        self._n = 0
        self._next_id = 0

    @classmethod
    def connect(cls, path: str) -> "UnixctlClient":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
        except OSError as e:
            sock.close()
            err = e.errno or errno.EINVAL
            if err == errno.ENAMETOOLONG or "too long" in str(e):
                return cls._connect_long(path)
            raise ClientError(err, 'cannot connect to "%s"' % path,
                              ("unixctl", "failed to connect to %s" % path))
        return cls(sock, path)

    @classmethod
    def _connect_long(cls, path: str) -> "UnixctlClient":
        # sun_path holds 108 bytes; go through /proc/self/fd like OVS.
        dirfd = os.open(os.path.dirname(path) or ".",
                        os.O_DIRECTORY | os.O_RDONLY)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect("/proc/self/fd/%d/%s"
                         % (dirfd, os.path.basename(path)))
        except OSError as e:
            sock.close()
            raise ClientError(e.errno or errno.EINVAL,
                              'cannot connect to "%s"' % path,
                              ("unixctl", "failed to connect to %s" % path))
        finally:
            os.close(dirfd)
        return cls(sock, path)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __enter__(self) -> "UnixctlClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def transact(self, method: str, params: list[str],
                 timeout: float | None = None,
                 sink: Callable[[bytes], Any] | None = None
                 ) -> tuple[Any, Any]:
        """Sends one request and waits for its reply.  Returns
        (error, result): exactly one is not None.  Raises ClientError for a
        transport failure, TimeoutError if 'timeout' seconds pass first.

        With 'sink', a string result is passed to sink() as UTF-8 pieces
        while it arrives (a big dump is printed as the server sends it,
        not after) and the result returned is STREAMED."""
        deadline = None if timeout is None else time.monotonic() + timeout
        req_id = self._next_id
        self._next_id += 1
        request = json.dumps({"id": req_id, "method": method,
                              "params": params}, separators=(",", ":"))
        try:
            self._send_all(request.encode("utf-8"), deadline)
            if sink is not None and self._recv_streaming(deadline, sink,
                                                         req_id):
                return None, STREAMED
            while True:
                msg = self._recv_msg(deadline)
                if not isinstance(msg, dict):
                    raise self._error(errno.EPROTO,
                                      "received bad JSON-RPC message")
                if msg.get("id") != req_id:
                    continue
                if msg.get("error") is not None:
                    return msg["error"], None
                if "result" in msg and msg["result"] is not None:
                    return None, msg["result"]
                raise self._error(errno.EPROTO, "reply has no result")
        except OSError as e:
            if isinstance(e, (TimeoutError, ClientError)):
                raise
            raise self._error(e.errno or errno.EIO, None)

    def _error(self, err: int, detail: str | None) -> ClientError:
        text = detail or strerror(err)
        return ClientError(err, "transaction error",
                           ("unixctl", "error communicating with %s: %s"
                            % (self.name, text)))

    def _wait(self, events: int, deadline: float | None) -> None:
        if deadline is None:
            return
        remaining = deadline - time.monotonic()
        poller = select.poll()
        poller.register(self.sock, events)
        if remaining <= 0 or not poller.poll(remaining * 1000):
            raise TimeoutError(errno.ETIMEDOUT, "timeout")

    def _send_all(self, data: bytes, deadline: float | None) -> None:
        view = memoryview(data)
        while view:
            self._wait(select.POLLOUT, deadline)
            n = self.sock.send(view)
            view = view[n:]

    def _recv_msg(self, deadline: float | None) -> Any:
        while True:
            if self._n and self._ends_object():
                msg = self._try_parse()
                if msg is not None:
                    return msg
            self._recv(deadline)

    def _recv(self, deadline: float | None) -> None:
        """Appends one read to the buffer, straight into it: no per-read
        allocation, no join.  Growth doubles (realloc moves big blocks by
        remapping)."""
        self._wait(select.POLLIN, deadline)
        if len(self._in) - self._n < _RECV_SIZE:
            self._in += bytes(max(_RECV_SIZE, len(self._in)))
        n = self.sock.recv_into(memoryview(self._in)[self._n:])
        if not n:
            raise self._error(-1, None)
        self._n += n

    def _recv_streaming(self, deadline: float | None,
                        sink: Callable[[bytes], Any], req_id: int) -> bool:
        """If the reply is {"id":req_id,"result":"...","error":null},
        passes the unescaped string to 'sink' piece by piece as it arrives
        and returns True.  Otherwise leaves what it read in the buffer for
        the ordinary parser and returns False."""
        head = b'{"id":%d,"result":"' % req_id
        while self._n < len(head):
            if self._n and (not head.startswith(bytes(self._in[:self._n]))
                            or self._ends_object()):
                return False
            self._recv(deadline)
        if bytes(self._in[:len(head)]) != head:
            return False
        pos = len(head)
        while True:
            buf, n = self._in, self._n
            end = _unescaped_quote(buf, pos, n)
            cut = end if end >= 0 else _safe_cut(buf, pos, n)
            if cut > pos:
                sink(_unescape(buf[pos:cut]))
                pos = cut
            if end >= 0:
                tail = len(_FAST_TAIL)
                while self._n - end < tail:
                    self._recv(deadline)
                if bytes(self._in[end:end + tail]) != _FAST_TAIL:
                    raise self._error(errno.EPROTO, "error parsing stream")
                rest = bytes(self._in[end + tail:self._n])
                self._in = bytearray(rest if rest.strip() else b"")
                self._n = len(self._in)
                return True
            del self._in[:pos]
            self._n -= pos
            pos = 0
            self._recv(deadline)

    def _ends_object(self) -> bool:
        i = self._n - 1
        while i > 0 and self._in[i] in b" \t\r\n":
            i -= 1
        return self._in[i] == 0x7d         # "}"

    def _try_parse(self) -> Any:
        """Parses the first message in the buffer, or returns None if it is
        still incomplete.  Raises ClientError on garbage."""
        fast = _fast_reply(self._in, self._n)
        if fast is not None:
            self._in, self._n = bytearray(), 0
            return fast
        data = bytes(memoryview(self._in)[:self._n])
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            if len(data) - e.start < 4:
                return None
            raise self._error(errno.EILSEQ, None)
        start = len(text) - len(text.lstrip())
        try:
            msg, end = _decoder.raw_decode(text, start)
        except json.JSONDecodeError as e:
            if _incomplete(text, e):
                return None
            raise self._error(errno.EPROTO, "error parsing stream")
        rest = text[end:].encode("utf-8")
        self._in = bytearray(rest if rest.strip() else b"")
        self._n = len(self._in)
        return msg


STREAMED = object()     # transact()'s result when it went to the sink.


def _unescaped_quote(buf: bytearray, start: int, end: int) -> int:
    """Index of the first '"' in buf[start:end] not escaped by an odd run
    of backslashes, or -1."""
    i = buf.find(b'"', start, end)
    while i >= 0:
        j = i
        while j > start and buf[j - 1] == 0x5c:
            j -= 1
        if (i - j) % 2 == 0:
            return i
        i = buf.find(b'"', i + 1, end)
    return -1


def _safe_cut(buf: bytearray, start: int, end: int) -> int:
    """Where buf[start:end] may be cut without splitting an escape
    (the longest, \\uXXXX, is 6 bytes)."""
    k = buf.rfind(b"\\", max(start, end - 6), end)
    if k < 0:
        return end
    j = k
    while j > start and buf[j - 1] == 0x5c:
        j -= 1
    return k if (k - j + 1) % 2 else end


def _unescape(piece: bytearray) -> bytes:
    """A JSON string's escaped UTF-8 bytes -> the UTF-8 text.  Replies
    hold little but "\\n": handled by one replace, else the decoder."""
    out = piece.replace(b"\\n", b"\n")
    if b"\\" not in out:
        return bytes(out)
    return json.loads(b'"' + bytes(piece) + b'"').encode("utf-8")


_FAST_HEAD = b'{"id":'
_FAST_RESULT = b',"result":"'
_FAST_TAIL = b'","error":null}'


def _fast_reply(buf: bytearray, n: int) -> dict | None:
    """Recognises {"id":N,"result":"TEXT","error":null} in buf[:n] where
    TEXT's only escape is \\n, and returns it without running the JSON
    parser, which would make several 100 MB copies.  Returns None for any
    other shape; the caller then uses the real parser."""
    if (not buf.startswith(_FAST_HEAD)
            or buf.find(_FAST_TAIL, n - len(_FAST_TAIL), n) < 0):
        return None
    i = buf.find(_FAST_RESULT, 0, 40)
    if i < 0:
        return None
    try:
        msg_id = int(buf[len(_FAST_HEAD):i])
    except ValueError:
        return None
    start, end = i + len(_FAST_RESULT), n - len(_FAST_TAIL)
    if buf.find(b'"', start, end) >= 0:
        return None
    n_escapes = buf.count(b"\\", start, end)
    if n_escapes and n_escapes != buf.count(b"\\n", start, end):
        return None
    # Raw control characters are not valid JSON: let the parser say so.
    for c in (b"\n", b"\r", b"\t", b"\x00"):
        if buf.find(c, start, end) >= 0:
            return None
    return {"id": msg_id, "result": RawText(buf, start, end), "error": None}


class RawText:
    """A result string still as escaped UTF-8 in the receive buffer (fast
    path).  write_to() unescapes piecewise while writing, so printing a
    100 MB reply makes no 100 MB copy; str() decodes."""

    __slots__ = ("_buf", "_start", "_end")

    def __init__(self, buf: bytearray, start: int, end: int):
        self._buf = buf
        self._start = start
        self._end = end

    def pieces(self, size: int = 1 << 20):
        """Yields the unescaped text as bytes pieces of about 'size'."""
        buf, i, end = self._buf, self._start, self._end
        while i < end:
            j = min(i + size, end)
            if buf[j - 1] == 0x5c:          # Do not split "\\n".
                j += 1
            yield buf[i:j].replace(b"\\n", b"\n")
            i = j

    @property
    def data(self) -> bytes:
        return b"".join(self.pieces())

    def write_to(self, fd: int) -> None:
        for piece in self.pieces():
            view = memoryview(piece)
            while view:
                view = view[os.write(fd, view):]

    def __str__(self) -> str:
        return self.data.decode("utf-8")

    def __len__(self) -> int:
        return len(str(self))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RawText):
            return self.data == other.data
        return isinstance(other, str) and str(self) == other

    __hash__ = None  # type: ignore[assignment]


def _incomplete(text: str, e: json.JSONDecodeError) -> bool:
    """True if parsing failed only because the input ended too soon."""
    if e.pos >= len(text.rstrip()):
        return True
    return e.msg.startswith("Unterminated string")


def result_text(result: Any) -> str:
    """A result as text (decoding a fast-path RawText)."""
    if isinstance(result, RawText):
        return str(result)
    return result


def transact(target: str, method: str, params: list[str],
             fmt: str = "text", timeout: float | None = None
             ) -> tuple[Any, Any]:
    """Resolves 'target', connects, optionally switches the connection to
    JSON output (set-options --format json), runs one command and closes.
    Returns (error, result) as UnixctlClient.transact()."""
    path = resolve_target(target)
    with UnixctlClient.connect(path) as client:
        if fmt != "text":
            error, _ = client.transact("set-options", ["--format", fmt],
                                       timeout)
            if error is not None:
                return error, None
        return client.transact(method, params, timeout)
