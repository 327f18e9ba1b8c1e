"""JSON-RPC framing of the unixctl socket: THE receive path of both ends.

The wire format is JSON-RPC 1.0 over a Unix stream socket, messages back to
back with nothing between them (lib/jsonrpc.c; OVS's own clients and
servers read a stream of JSON texts).  A request is
``{"id":N,"method":M,"params":[strings]}``; a reply carries ``"result"``
or ``"error"``.

Framer splits the byte stream into top-level JSON texts without parsing
them: a text split across reads waits for its end, pipelined texts are
taken one at a time, and anything that cannot start a JSON-RPC message is
refused at once.  It scans with C-speed searches (a string body is crossed
by one find() of its closing quote), so a 115 MB reply costs one pass; the
text is then parsed by the stdlib C decoder.  The client (ovsct/client.py)
and the server (unixctl/server.py) both receive through it.

Big replies.  A reply of the shape ``{"id":N,"result":"TEXT","error":null}``
whose text has no escape but ``\\n`` is recognised without the JSON parser
(which would make several copies of 100 MB) and returned as a RawText that
unescapes piecewise when written; stream_string_result() goes further and
hands such a text to a sink while it arrives.

Pure Python; imports nothing from ovsct.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
from typing import Any, Callable

__all__ = ["Framer", "ProtocolError", "RawText", "balanced",
           "encode_request", "fast_reply", "result_text"]

_NON_WS = re.compile(rb"[^ \t\r\n]")
_STRUCT = re.compile(rb'["{}\[\]]')
_WS = b" \t\r\n"
# Framer.skim(): a whole JSON string (unrolled: no per-character
# alternation), and the tables that keep only brackets, as "{" or "}".
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_TO_BRACKETS = bytes.maketrans(b"[]", b"{}")
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"{}[]")
_NOT_QUOTES_BRACKETS = bytes(c for c in range(256) if c not in b'"{}[]')


class ProtocolError(ValueError):
    """Input that cannot be a JSON-RPC message; str() says why."""


def encode_request(req_id: int, method: str, params: list[str]) -> bytes:
    return json.dumps({"id": req_id, "method": method, "params": params},
                      separators=(",", ":")).encode("utf-8")


class Framer:
    """Received bytes and the place reached in them.  'buf' holds valid
    bytes up to 'n' (recv_into() reads straight into spare room: no
    per-read allocation, no join; growth doubles)."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.n = 0
        # For the last text next_text() returned: how many containers its
        # top level held (top_closes then), from the scan that framed it.
        self.last_top_closes = 0
        self._reset()

    def _reset(self) -> None:
        self.pos = 0             # Where scanning resumes.
        self.start = -1          # Start of the current text, -1 between.
        self.depth = 0
        self.in_string = False
        # Closers met that brought the current text back to depth 1: the
        # containers that were values of its top-level object or array.
        self.top_closes = 0

    def __len__(self) -> int:
        return self.n

    @property
    def more(self) -> bool:
        """Input not yet scanned is buffered (after a text taken, the next
        pipelined one may be complete): call next_text() again before
        waiting for the socket."""
        return bool(_NON_WS.search(self.buf, self.pos, self.n))

    def ends_object(self) -> bool:
        """The buffered input ends with "}" (and white space): the last
        read may have completed a message."""
        return bool(self.n) and _ends_object(self.buf, self.n)

    def feed(self, data: bytes) -> None:
        self._room(len(data))
        self.buf[self.n:self.n + len(data)] = data
        self.n += len(data)

    def recv_into(self, sock: socket.socket, size: int) -> int:
        """One recv() of up to about 'size' bytes into the buffer; returns
        its count (0: end of file).  Socket errors propagate."""
        self._room(size)
        k = sock.recv_into(memoryview(self.buf)[self.n:])
        self.n += k
        return k

    def _room(self, size: int) -> None:
        if len(self.buf) - self.n < size:
            self.buf += bytes(max(size, len(self.buf)))

    def _take(self, start: int, end: int) -> tuple[bytearray, int, int]:
        """Removes buf[:end] and returns the text buf[start:end] as
        (buffer, start, end): the buffer itself when nothing but white
        space follows (a big reply is not copied), else a copy."""
        buf, n = self.buf, self.n
        self.last_top_closes = self.top_closes
        self._reset()
        if not _NON_WS.search(buf, end, n):
            self.buf, self.n = bytearray(), 0
            return buf, start, end
        text = bytearray(buf[start:end])
        del buf[:end]
        self.n = n - end
        return text, 0, len(text)

    def next_text(self) -> tuple[bytearray, int, int] | None:
        """The next complete JSON text as (buffer, start, end), or None if
        more input is needed.  Raises ProtocolError if the input cannot be
        a JSON-RPC message."""
        buf, n, i = self.buf, self.n, self.pos
        if self.start < 0:
            m = _NON_WS.search(buf, i, n)
            if m is None:
                self.pos = n
                return None
            i = m.start()
            if buf[i] not in b"{[":
                raise ProtocolError("syntax error at beginning of input")
            self.start = i
        i = self._exact(i, n, False)
        return None if i < 0 else self._take(self.start, i)

    def _exact(self, i: int, n: int, skimming: bool) -> int:
        """Scans buf[i:n] token by token, keeping depth, in_string and
        top_closes.  Returns the end of the text if it ends there, else -1
        with 'pos' where to resume: the end of the input, or, when
        'skimming', the first place (outside a string) at depth 2 or more,
        or the closer that would end the text (left for next_text())."""
        buf = self.buf
        while True:
            if self.in_string:
                j = _unescaped_quote(buf, i, n)
                if j < 0:
                    self.pos = n
                    return -1
                self.in_string = False
                i = j + 1
                continue
            if skimming and self.depth >= 2:
                self.pos = i
                return -1
            m = _STRUCT.search(buf, i, n)
            if m is None:
                self.pos = n
                return -1
            c = buf[m.start()]
            if c == 0x22:                       # '"'
                self.in_string = True
            elif c in b"{[":
                self.depth += 1
            elif skimming and self.depth == 1:
                self.pos = m.start()
                return -1
            else:
                self.depth -= 1
                if self.depth == 1:
                    self.top_closes += 1
                elif self.depth == 0:
                    return m.end()
            i = m.end()

    def next_message(self, fast: bool = True) -> Any:
        """The next complete message, parsed, or None if more input is
        needed.  'fast': a big text reply may come back as a RawText (see
        fast_reply()).  Raises ProtocolError."""
        text = self.next_text()
        if text is None:
            return None
        return parse(*text, fast=fast)

    def stream_string_result(self, req_id: int, sink: Callable[[bytes], Any],
                             fill: Callable[[], None]) -> bool:
        """If the next message is {"id":req_id,"result":"...",
        "error":null}, passes the unescaped string to 'sink' piece by piece
        as it arrives (fill() reads more) and returns True.  Otherwise
        leaves what it read for next_message() and returns False."""
        head = b'{"id":%d,"result":"' % req_id
        while self.n < len(head):
            if self.n and (not head.startswith(bytes(self.buf[:self.n]))
                           or _ends_object(self.buf, self.n)):
                return False
            fill()
        if self.start >= 0 or bytes(self.buf[:len(head)]) != head:
            return False
        pos = len(head)
        tail = len(_FAST_TAIL)
        while True:
            buf, n = self.buf, self.n
            end = _unescaped_quote(buf, pos, n)
            cut = end if end >= 0 else _safe_cut(buf, pos, n)
            if cut > pos:
                sink(_unescape(buf[pos:cut]))
                pos = cut
            if end >= 0:
                while self.n - end < tail:
                    fill()
                if bytes(self.buf[end:end + tail]) != _FAST_TAIL:
                    raise ProtocolError("error parsing stream")
                rest = bytes(self.buf[end + tail:self.n])
                self.buf = bytearray(rest if rest.strip(_WS) else b"")
                self.n = len(self.buf)
                self._reset()
                return True
            del self.buf[:pos]
            self.n -= pos
            pos = 0
            fill()

    def skim(self, block: int = 1 << 16) -> None:
        """Advances the scan over buffered input at C speed, as far as no
        text can end there: call it after a read, before next_text(),
        which then scans exactly only the block where a text may end.

        Per block of 'block' bytes, _brackets() keeps the brackets outside
        strings with balanced pairs removed: the unmatched closers are how
        far the depth falls within the block.  A block is crossed so only
        while the depth stays at 2 or more (inside a value of the text's
        top level); elsewhere (the few tokens of a reply's head, a block
        where the depth may come back to 1 or end the text) the scan is
        exact.  So the framing also counts the containers of the top level
        (last_top_closes) with no second pass, and a reply of a million
        connections is framed in one pass with no per-token Python."""
        buf, n, i = self.buf, self.n, self.pos
        if self.start < 0:
            m = _NON_WS.search(buf, i, n)
            if m is None or buf[m.start()] not in b"{[":
                return                  # next_text() decides.
            self.start, self.depth, i = m.start(), 1, m.end()
            self.pos = i
        while i < n:
            if self.depth < 2 and not self.in_string:
                self._exact(i, n, True)
                if self.depth < 2 or self.in_string:
                    return              # At the end, or the text may end.
                i = self.pos
                continue
            j = min(i + block, n)
            k = i
            if self.in_string:
                q = _unescaped_quote(buf, k, j)
                if q < 0:
                    self.pos = i = j
                    continue
                k = q + 1
            brackets, in_string = _brackets(bytes(buf[k:j]))
            closers = brackets.count(b"}")
            if self.depth - closers <= 1:
                return                  # Back to the top level: exact scan.
            self.depth += len(brackets) - 2 * closers
            self.in_string = in_string
            self.pos = i = j


def parse(buf: bytearray, start: int, end: int, fast: bool = True) -> Any:
    """One JSON text buf[start:end] (with 'fast', fast_reply() first).
    Raises ProtocolError."""
    reply = fast_reply(buf, start, end) if fast else None
    if reply is not None:
        return reply
    try:
        text = bytes(memoryview(buf)[start:end]).decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("invalid UTF-8") from None
    try:
        return json.loads(text, parse_constant=_no_constant,
                          parse_float=_finite_float)
    except (ValueError, RecursionError) as e:
        raise ProtocolError(str(e) or type(e).__name__) from None


def _no_constant(name: str) -> Any:
    """NaN, Infinity and -Infinity are not JSON (RFC 8259); Python's decoder
    takes them, OVS's (lib/json.c) does not, and echoing one back as a
    request id would send invalid JSON."""
    raise ValueError("invalid keyword '%s'" % name)


def _finite_float(text: str) -> float:
    """A number that overflows a double is refused, as lib/json.c
    json_lex_number() does ("number outside valid range")."""
    value = float(text)
    if value in (math.inf, -math.inf):
        raise ValueError("number outside valid range")
    return value


def _brackets(chunk: bytes) -> tuple[bytes, bool]:
    """The brackets of 'chunk' (which starts outside a string) that lie
    outside strings, as "{" and "}", balanced pairs removed: "}}{" means
    two unmatched closers, then an opener.  Also whether a string runs on
    past the end.  All C-speed passes: a chunk without escapes pairs its
    quotes in order (a bracket inside a string leaves a quote unpaired and
    sends it to the regular expression instead)."""
    seq = None
    if b"\\" not in chunk:
        open_end = chunk.count(b'"') % 2 == 1
        body = chunk[:chunk.rfind(b'"')] if open_end else chunk
        seq = body.translate(_TO_BRACKETS, _NOT_QUOTES_BRACKETS)
        seq = seq.replace(b'""', b"")
        if b'"' in seq:
            seq = None
    if seq is None:
        rest = _STRING.sub(b"", chunk)
        q = rest.find(b'"')
        open_end = q >= 0
        seq = (rest[:q] if open_end else rest).translate(
            _TO_BRACKETS, _NOT_BRACKETS)
    while b"{}" in seq:
        seq = seq.replace(b"{}", b"")
    return seq, open_end


def balanced(buf: bytearray, start: int, end: int) -> bool:
    """Whether buf[start:end] (outside a string at 'start') ends outside a
    string and its brackets pair up, checked at C speed as Framer.skim()
    does (not a validation of the JSON grammar).  A second pass: for a
    text the Framer framed, its last_top_closes says the same for free."""
    brackets, open_end = _brackets(bytes(buf[start:end]))
    return not brackets and not open_end


def _ends_object(buf: bytearray, n: int) -> bool:
    i = n - 1
    while i > 0 and buf[i] in _WS:
        i -= 1
    return buf[i] == 0x7d         # "}"


def _unescaped_quote(buf: bytearray, start: int, end: int) -> int:
    """Index of the first '"' in buf[start:end] not escaped by an odd run
    of backslashes, or -1.  The run may begin before 'start' (a string is
    opened by a quote, so counting back always stops)."""
    i = buf.find(b'"', start, end)
    while i >= 0:
        j = i
        while j > 0 and buf[j - 1] == 0x5c:
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


def fast_reply(buf: bytearray, start: int, end: int) -> dict | None:
    """Recognises {"id":N,"result":"TEXT","error":null} in buf[start:end]
    where TEXT's only escape is \\n, and returns it without running the
    JSON parser.  Returns None for any other shape; the caller then uses
    the real parser."""
    if (not buf.startswith(_FAST_HEAD, start)
            or buf.find(_FAST_TAIL, end - len(_FAST_TAIL), end) < 0):
        return None
    i = buf.find(_FAST_RESULT, start, start + 40)
    if i < 0:
        return None
    try:
        msg_id = int(buf[start + len(_FAST_HEAD):i])
    except ValueError:
        return None
    first, last = i + len(_FAST_RESULT), end - len(_FAST_TAIL)
    if buf.find(b'"', first, last) >= 0:
        return None
    n_escapes = buf.count(b"\\", first, last)
    if n_escapes and n_escapes != buf.count(b"\\n", first, last):
        return None
    # Raw control characters are not valid JSON: let the parser say so.
    for c in (b"\n", b"\r", b"\t", b"\x00"):
        if buf.find(c, first, last) >= 0:
            return None
    return {"id": msg_id, "result": RawText(buf, first, last), "error": None}


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


def result_text(result: Any) -> str:
    """A result as text (decoding a fast-path RawText)."""
    if isinstance(result, RawText):
        return str(result)
    return result
