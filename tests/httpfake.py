"""A real HTTP server on 127.0.0.1 for adapter tests: it records each request and answers
through a handler, which is where a test checks the request against the vendor's schema.

``echo(status)`` turns a server into a hostile one for the secrets tests: it answers every
request, before any check, with the request it got (method, path, query, every header and
the body) in each place a provider puts its error text (:func:`echo_answer`).
"""

from __future__ import annotations

import http.server
import json
import sys
import threading
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(self.body.decode(), keep_blank_values=True)


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list -> JSON, str/bytes -> as is
    headers: dict[str, str] = field(default_factory=dict)


def echo_text(request: Request) -> str:
    """The request as a proxy that quotes it would show it: request line, headers, body."""
    query = urllib.parse.urlencode(request.query, doseq=True)
    lines = [f"{request.method} {request.path}{'?' + query if query else ''} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in request.headers.items()]
    return "\n".join([*lines, "", request.body.decode(errors="replace")])


def echo_answer(request: Request, status: int) -> Response:
    """An error answer that quotes ``request`` in the error fields of every provider's shape:
    SendGrid's and Asana's ``errors[].message``, Twilio's ``message``/``more_info``, Slack's
    ``error`` and ``response_metadata.messages``, Intercom's ``errors[].message``."""
    raw = echo_text(request)
    body = {
        "ok": False,
        "error": raw,
        "message": raw,
        "code": 20003,
        "more_info": raw,
        "type": "error.list",
        "errors": [{"message": raw, "field": None, "code": "echo", "help": raw}],
        "response_metadata": {"messages": [raw]},
    }
    return Response(status, body)


Handler = Callable[[Request], Response]
V = TypeVar("V", bound="Vendor")


class FakeServer:
    """``with FakeServer(handler) as server: server.url``; requests land in ``server.requests``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self.errors: list[BaseException] = []
        self.echo_status: int | None = None
        outer = self

        class _H(http.server.BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parsed = urllib.parse.urlsplit(self.path)
                request = Request(
                    method=self.command,
                    path=parsed.path,
                    query=urllib.parse.parse_qs(parsed.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                outer.requests.append(request)
                try:
                    if outer.echo_status is not None:
                        answer = echo_answer(request, outer.echo_status)
                    else:
                        answer = outer.handler(request)
                except BaseException as exc:  # a failed check answers 599 and is kept
                    outer.errors.append(exc)
                    answer = Response(599, {"error": f"test server check failed: {exc}"})
                payload = answer.body
                headers = dict(answer.headers)
                if isinstance(payload, (dict, list)):
                    data = json.dumps(payload).encode()
                    headers.setdefault("Content-Type", "application/json")
                elif isinstance(payload, str):
                    data = payload.encode()
                elif payload is None:
                    data = b""
                else:
                    data = payload
                self.send_response(answer.status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class _Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                # A client that gave up (a timeout test) closes the socket under us.
                if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                    super().handle_error(request, client_address)

        self._server = _Server(("127.0.0.1", 0), _H)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def check(self) -> None:
        """Raise the first failed request check, so a test fails on a schema violation."""
        if self.errors:
            raise self.errors[0]


def serve(handler: Handler) -> Iterator[FakeServer]:
    """For fixtures: ``yield from serve(handler)``."""
    with FakeServer(handler) as server:
        yield server
        server.check()


class Vendor:
    """The common part of the fake providers: a :class:`FakeServer`, answers queued by the
    test, a reset between tests, and the server's life as a context manager.

    Subclasses define :meth:`_handle` (taking :meth:`next_answer` where a queued answer may
    replace a success) and may keep their own state in :meth:`clear`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answers: deque[Response] = deque()
        self.server = FakeServer(self._handle)
        self.clear()

    def clear(self) -> None:
        """Forget the provider's own state (subclasses)."""

    def reset(self) -> None:
        """Start afresh: no requests, failed checks, queued answers or state."""
        with self._lock:
            self._answers.clear()
        self.server.requests.clear()
        self.server.errors.clear()
        self.server.echo_status = None
        self.clear()

    def echo(self, status: int = 400) -> None:
        """Answer every request with ``status`` and the request itself (see :func:`echo_answer`),
        before any check: a provider or proxy that quotes what it was sent."""
        self.server.echo_status = status

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def requests(self) -> list[Request]:
        """Every request that arrived, valid or not."""
        return self.server.requests

    def queue(self, *answers: Response) -> None:
        """Answer the next requests that pass the checks with these, in order."""
        with self._lock:
            self._answers.extend(answers)

    def next_answer(self) -> Response | None:
        """The next queued answer, if any."""
        with self._lock:
            return self._answers.popleft() if self._answers else None

    def check(self) -> None:
        """Re-raise the first failed request check."""
        self.server.check()

    def take_errors(self) -> list[BaseException]:
        """The failed checks so far, forgotten (for tests that send bad requests on purpose)."""
        errors = list(self.server.errors)
        self.server.errors.clear()
        return errors

    def _handle(self, request: Request) -> Response:
        raise NotImplementedError

    def __enter__(self: V) -> V:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)
