"""A fake OpenAI-compatible chat endpoint on a loopback port, for tests of the hosted
path: it answers with as many choices as the request's ``n``, fails, or stalls."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPLIES = ("Friday at 3pm works for me.", "Sure, Friday is fine.", "Sorry, I can't do Friday.")


class Upstream:
    """``mode``: "ok" answers at once; "fail" answers 500; "trickle" sends headers and
    then a byte every 0.2 s for two minutes (a stalled upstream). With ``trickle_first``
    only that many first requests trickle and the later ones are answered at once.
    ``hung_up`` is set when the client closes a trickled connection (``hung_up_count``
    counts them)."""

    def __init__(self, mode: str = "ok", *, trickle_first: int | None = None,
                 replies: tuple[str, ...] = REPLIES):
        self.mode = mode
        self.trickle_first = trickle_first
        self.replies = replies
        self.bodies: list[dict] = []
        self.auth: list[str] = []
        self.hung_up = threading.Event()
        self.hung_up_count = 0
        self._lock = threading.Lock()
        up = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                req = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
                with up._lock:
                    up.bodies.append(req)
                    up.auth.append(self.headers.get("authorization", ""))
                    seen = len(up.bodies)
                if up.mode == "fail":
                    return self._send(500, {"error": {"message": "upstream exploded",
                                                      "type": "server_error"}})
                n = int(req.get("n") or 1)
                answer = {"id": "c1", "object": "chat.completion", "created": 1,
                          "model": req["model"], "usage": {"prompt_tokens": 1,
                                                           "completion_tokens": 2,
                                                           "total_tokens": 3},
                          "choices": [{"index": i, "finish_reason": "stop",
                                       "message": {"role": "assistant",
                                                   "content": up.replies[i % len(up.replies)]}}
                                      for i in range(n)]}
                if up.mode == "trickle" and (up.trickle_first is None
                                             or seen <= up.trickle_first):
                    return self._trickle(json.dumps(answer).encode())
                return self._send(200, answer)

            def _send(self, status: int, payload: dict):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _trickle(self, data: bytes):
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data) + 600))
                self.end_headers()
                try:
                    for _ in range(600):  # leading whitespace: still valid JSON, 2 min
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(0.2)
                except OSError:
                    with up._lock:
                        up.hung_up_count += 1
                    up.hung_up.set()
                    return
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
