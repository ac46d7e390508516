"""A real HTTP receiver on 127.0.0.1 for webhook tests: it records every request, verifies its Standard Webhooks
signature with the independent ``standardwebhooks`` package, and answers from a script: a status and body, or a
hang until released (``http.server`` in a thread)."""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: Any = None
    """The payload ``standardwebhooks`` verified and parsed, or the verification error."""


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    hang: threading.Event | None = None
    """Hold the request until this event is set (the client times out first)."""


@dataclass
class Receiver:
    secret: str
    requests: list[Received] = field(default_factory=list)
    script: queue.Queue[Answer] = field(default_factory=queue.Queue)
    default: Answer = field(default_factory=Answer)
    arrived: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))

    def answer(self, *answers: Answer) -> None:
        for a in answers:
            self.script.put(a)

    def start(self) -> str:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    verified: Any = Webhook(receiver.secret).verify(body, headers)
                except WebhookVerificationError as exc:
                    verified = exc
                receiver.requests.append(Received(headers, body, verified))
                receiver.arrived.release()
                try:
                    answer = receiver.script.get_nowait()
                except queue.Empty:
                    answer = receiver.default
                if answer.hang is not None:
                    answer.hang.wait(10)
                try:
                    self.send_response(answer.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:  # the client gave up (a timeout): nothing to answer
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook?source=authhooks"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def json_body(answer: dict[str, Any], status: int = 200) -> Answer:
    return Answer(status, json.dumps(answer).encode())
