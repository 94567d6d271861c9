"""A stdlib OpenAI-compatible server on loopback that answers what a test tells it to (no model).

Used to test the remote backend's error handling: 500s, 429s, a server that lists models but fails
every generation, and what headers (the API key) arrive.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeServer:
    """`chat_status`: the HTTP status every POST /v1/chat/completions gets (200: a fixed answer)."""

    def __init__(self, model: str, chat_status: int = 500, models_status: int = 200,
                 answer: str = '<caption>c</caption><think>t</think><answer>{"rating": 3}</answer>'):
        self.model, self.chat_status, self.models_status, self.answer = model, chat_status, models_status, answer
        self.headers: list[dict] = []
        self.bodies: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _send(self, status: int, data: dict) -> None:
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                fake.headers.append(dict(self.headers))
                if self.path.rstrip("/").endswith("/models") and fake.models_status == 200:
                    self._send(200, {"object": "list", "data": [{"id": fake.model, "object": "model"}]})
                else:
                    self._send(fake.models_status, {"error": {"message": "models listing is broken here"}})

            def do_POST(self):
                fake.headers.append(dict(self.headers))
                length = int(self.headers.get("Content-Length") or 0)
                fake.bodies.append(json.loads(self.rfile.read(length) or b"{}"))
                if not self.path.endswith("/chat/completions"):
                    self._send(404, {"error": {"message": "not found"}})
                elif fake.chat_status == 200:
                    self._send(200, {"choices": [{"index": 0, "message": {"role": "assistant",
                                                                          "content": fake.answer}}]})
                else:
                    self._send(fake.chat_status, {"error": {"message": f"fake failure {fake.chat_status}"}})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "FakeServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
