"""Unixctl JSON-RPC client: what ovs-appctl does, with the stdlib json.

One connection, one request at a time: the request is written, and the
reply read through ovsct.jsonrpc's Framer (the same receive path as the
server's).  Replies can be large (a dump of a million connections is a
115 MB string), so reads go in big chunks straight into the framer's
buffer, and a text reply can be streamed to a sink while it arrives.

Target resolution (``-t``) is ovsct.rundir's; ClientError is
ovsct.errors'.  Both are re-exported here for the callers of transact().

Neighbours: ovsct/cli.py (the ``ovsct`` command), ovsct/jsonrpc.py
(framing), ovsct/rundir.py (targets), unixctl/server.py (the daemon end).
"""

from __future__ import annotations

import errno
import json
import os
import re
import select
import socket
import time
from typing import Any, Callable

from ovsct import jsonrpc
from ovsct.errors import ClientError, strerror
from ovsct.jsonrpc import RawText, result_text
from ovsct.rundir import (DEFAULT_TARGET, default_rundir, read_pidfile,
                          resolve_target)

__all__ = ["ClientError", "DEFAULT_TARGET", "RawJSON", "RawText",
           "STREAMED", "UnixctlClient", "default_rundir", "read_pidfile",
           "resolve_target", "result_text", "strerror", "transact"]

_RECV_SIZE = 1 << 20


# ---------------------------------------------------------------------------
# Connection.

class UnixctlClient:
    """One connection to a unixctl server; one request at a time."""

    def __init__(self, sock: socket.socket, path: str):
        self.sock = sock
        self.path = path
        self.name = "unix:" + path
        self._framer = jsonrpc.Framer()
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
        request = jsonrpc.encode_request(req_id, method, params)
        try:
            self._send_all(request, deadline)
            if sink is not None and self._stream(deadline, sink, req_id):
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
            try:
                # skim() crosses what cannot end the reply at C speed, so a
                # reply of 100 MB is framed once, not re-scanned per read.
                self._framer.skim()
                text = self._framer.next_text()
                msg = None if text is None else _parse(
                    *text, top_closes=self._framer.last_top_closes)
            except jsonrpc.ProtocolError:
                # As ovs-appctl: input that is bad so far is an error only
                # once a "}" may have ended it; else read on (the server
                # closing first is then "End of file").
                if self._framer.ends_object():
                    raise self._error(errno.EPROTO, "error parsing stream")
                msg = None
            if msg is not None:
                return msg
            self._recv(deadline)

    def _recv(self, deadline: float | None) -> None:
        self._wait(select.POLLIN, deadline)
        if not self._framer.recv_into(self.sock, _RECV_SIZE):
            raise self._error(-1, None)

    def _stream(self, deadline: float | None, sink: Callable[[bytes], Any],
                req_id: int) -> bool:
        try:
            return self._framer.stream_string_result(
                req_id, sink, lambda: self._recv(deadline))
        except jsonrpc.ProtocolError:
            raise self._error(errno.EPROTO, "error parsing stream")


STREAMED = object()     # transact()'s result when it went to the sink.

# A structured result this big is passed through as the server sent it.
RAW_JSON_MIN = 1 << 20
_RESULT_HEAD = re.compile(rb'\{"id":(\d+),"result":(?=[\[{])')
_RESULT_TAIL = b',"error":null}'


class RawJSON:
    """A big structured result (a dump of a million connections) kept as
    the compact JSON bytes the server sent, never parsed: printing it is
    one write.  ovsctd sends compact JSON with sorted keys, what
    ovs-appctl prints (json_to_string(JSSF_SORT)); value() parses it, for
    --pretty or a caller that wants the objects."""

    __slots__ = ("_buf", "_start", "_end")

    def __init__(self, buf: bytearray, start: int, end: int):
        self._buf, self._start, self._end = buf, start, end

    @property
    def data(self) -> memoryview:
        return memoryview(self._buf)[self._start:self._end]

    def value(self) -> Any:
        try:
            return json.loads(bytes(self.data))
        except ValueError as e:
            raise ClientError(errno.EPROTO, "transaction error",
                              ("unixctl", "error parsing reply: %s" % e))

    def write_to(self, fd: int) -> None:
        view = self.data
        while view:
            view = view[os.write(fd, view):]


def _parse(buf: bytearray, start: int, end: int,
           top_closes: int | None = None) -> Any:
    """A received text as a message: {"id":N,"result":RAW,"error":null}
    with a RawJSON for a big structured result whose strings and brackets
    check out, else what jsonrpc.parse() gives.  'top_closes': the
    containers at the text's top level, as the Framer counted them while
    it framed the text (Framer.last_top_closes); None: unknown, counted
    here by a pass over the text (jsonrpc.balanced())."""
    if end - start >= RAW_JSON_MIN:
        m = _RESULT_HEAD.match(buf, start, start + 40)
        tail = end - len(_RESULT_TAIL)
        # One container: it opens at the head, closes at the tail, and
        # what lies between pairs up (so never closes it early).  Head and
        # tail hold no bracket, so with the framing's count that is: the
        # top level held one container (the framing checked strings and
        # pairs), and the tail closes one of the head's kind.
        if (m is not None and buf.startswith(_RESULT_TAIL, tail)
                and buf[tail - 1] == buf[m.end()] + 2
                and (top_closes == 1 if top_closes is not None
                     else jsonrpc.balanced(buf, m.end() + 1, tail - 1))):
            return {"id": int(m.group(1)),
                    "result": RawJSON(buf, m.end(), tail), "error": None}
    return jsonrpc.parse(buf, start, end)


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
