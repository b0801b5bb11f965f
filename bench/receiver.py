"""A back-channel logout receiver for the benchmarks: answers every POST with 200 and counts the
logout tokens it gets by session id (`sid`), so a run can tell whether any session was
announced twice or not at all. Standard library only.

    python3 bench/receiver.py PORT          # then GET /stats for {"received": n, "distinct": m}
"""

import base64
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

lock = threading.Lock()
seen: dict[str, int] = {}
received = 0


def sid_of(logout_token: str) -> str:
    payload = logout_token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    return json.loads(base64.urlsafe_b64decode(payload)).get("sid", "")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        global received
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        tokens = parse_qs(body.decode()).get("logout_token", [])
        with lock:
            for token in tokens:
                sid = sid_of(token)
                seen[sid] = seen.get(sid, 0) + 1
                received += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        with lock:
            stats = {"received": received, "distinct": len(seen), "twice": sum(1 for n in seen.values() if n > 1)}
        body = json.dumps(stats).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
