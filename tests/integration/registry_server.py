#!/usr/bin/python3
"""registry_server.py - a tiny stand-in for Confluent Schema Registry, for tests.

Serves the two calls leadscore makes:
  GET  /schemas/ids/{id}             -> {"schema": "<schema json>"} or 404
  POST /subjects/{subject}/versions  -> {"id": N} (same text = same id)
and, for tests, GET /_stats -> {"requests": N, "get": {"id": n}, "post":
{"subject": n}} counting the requests above.

Schemas come from --schema ID=FILE (repeatable), --schema-range LO-HI=FILE
(every id from LO to HI serves the same file: many distinct ids, for cache
tests) and/or --dir DIR (files named ID.avsc). It listens on 127.0.0.1 (port 0 = a free one), prints
"PORT <n>" on stdout once ready, and exits when stdin closes (so it never
outlives the test that started it) or after --max-seconds.

Like a registry deployed for production, it can also require
  --basic-auth USER:PASSWORD   HTTP basic auth on every call but /_stats
                               (401 otherwise; /_stats counts them as
                               "unauthorized")
  --tls-cert FILE --tls-key FILE   HTTPS instead of HTTP
  --client-ca FILE             and a client certificate signed by this CA
Without them it serves plain HTTP to anyone, as it always did.

This is a helper started by tests, not a test itself.
"""
import argparse
import base64
import binascii
import json
import os
import re
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Registry:
    def __init__(self):
        self.lock = threading.Lock()
        self.schemas = {}          # id -> text
        self.subjects = {}         # subject -> [ids]
        self.requests = 0
        self.gets = {}
        self.posts = {}
        self.unauthorized = 0
        self.basic_auth = None     # "USER:PASSWORD" required, or None

    def register(self, subject, text):
        with self.lock:
            for sid, t in self.schemas.items():
                if t == text:
                    break
            else:
                sid = max(self.schemas, default=0) + 1
                self.schemas[sid] = text
            versions = self.subjects.setdefault(subject, [])
            if sid not in versions:
                versions.append(sid)
            return sid


def make_handler(reg):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body are two writes: without TCP_NODELAY each
        # keep-alive reply waits for the client's delayed ACK (~40 ms).
        disable_nagle_algorithm = True

        def log_message(self, fmt, *args):  # keep test output quiet
            pass

        def reply(self, status, obj):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type",
                             "application/vnd.schemaregistry.v1+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def authorized(self):
            """True when no auth is required or the request's basic auth
            credentials are right; else answers 401 and returns False."""
            if reg.basic_auth is None:
                return True
            got = None
            h = self.headers.get("Authorization", "")
            if h.startswith("Basic "):
                try:
                    got = base64.b64decode(h[6:], validate=True).decode()
                except (binascii.Error, UnicodeDecodeError):
                    got = None
            if got == reg.basic_auth:
                return True
            with reg.lock:
                reg.unauthorized += 1
            body = json.dumps({"error_code": 401,
                               "message": "Unauthorized"}).encode()
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="registry"')
            self.send_header("Content-Type",
                             "application/vnd.schemaregistry.v1+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return False

        def do_GET(self):
            if self.path == "/_stats":
                with reg.lock:
                    return self.reply(200, {"requests": reg.requests,
                                            "get": dict(reg.gets),
                                            "post": dict(reg.posts),
                                            "unauthorized":
                                                reg.unauthorized})
            if not self.authorized():
                return None
            m = re.fullmatch(r"/schemas/ids/(-?\d+)", self.path)
            if not m:
                return self.reply(404, {"error_code": 404,
                                        "message": "HTTP 404 Not Found"})
            sid = int(m.group(1))
            with reg.lock:
                reg.requests += 1
                reg.gets[str(sid)] = reg.gets.get(str(sid), 0) + 1
                text = reg.schemas.get(sid)
            if text is None:
                return self.reply(404, {"error_code": 40403,
                                        "message": "Schema %d not found" % sid})
            return self.reply(200, {"schema": text})

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(n) if n > 0 else b""
            if not self.authorized():
                return None
            m = re.fullmatch(r"/subjects/([^/]+)/versions", self.path)
            if not m:
                return self.reply(404, {"error_code": 404,
                                        "message": "HTTP 404 Not Found"})
            subject = m.group(1)
            with reg.lock:
                reg.requests += 1
                reg.posts[subject] = reg.posts.get(subject, 0) + 1
            try:
                text = json.loads(raw)["schema"]
                json.loads(text)
            except (ValueError, KeyError, TypeError):
                return self.reply(422, {"error_code": 42201,
                                        "message": "Invalid schema"})
            return self.reply(200, {"id": reg.register(subject, text)})

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--schema", action="append", default=[],
                    metavar="ID=FILE")
    ap.add_argument("--schema-range", action="append", default=[],
                    metavar="LO-HI=FILE")
    ap.add_argument("--dir")
    ap.add_argument("--max-seconds", type=float, default=300)
    ap.add_argument("--basic-auth", metavar="USER:PASSWORD")
    ap.add_argument("--tls-cert", metavar="FILE")
    ap.add_argument("--tls-key", metavar="FILE")
    ap.add_argument("--client-ca", metavar="FILE")
    args = ap.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key) or \
            (args.client_ca and not args.tls_cert):
        ap.error("--tls-cert and --tls-key go together; --client-ca "
                 "needs them")

    reg = Registry()
    reg.basic_auth = args.basic_auth
    if args.dir:
        for name in sorted(os.listdir(args.dir)):
            m = re.fullmatch(r"(\d+)\.avsc", name)
            if m:
                with open(os.path.join(args.dir, name)) as f:
                    reg.schemas[int(m.group(1))] = f.read()
    for spec in args.schema:
        sid, _, path = spec.partition("=")
        with open(path) as f:
            reg.schemas[int(sid)] = f.read()

    for spec in args.schema_range:
        ids, _, path = spec.partition("=")
        lo, _, hi = ids.partition("-")
        with open(path) as f:
            text = f.read()
        for sid in range(int(lo), int(hi) + 1):
            reg.schemas[sid] = text

    srv = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(reg))
    srv.daemon_threads = True
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.client_ca)
        # The handshake happens in the handler's thread (first read), so
        # a client that fails it never blocks the accept loop.
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
                                     do_handshake_on_connect=False)
        # A failed handshake is what some tests want: no traceback.
        srv.handle_error = lambda request, client_address: None

    def stop_on_stdin_eof():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except OSError:
            pass
        srv.shutdown()

    threading.Thread(target=stop_on_stdin_eof, daemon=True).start()
    timer = threading.Timer(args.max_seconds, srv.shutdown)
    timer.daemon = True
    timer.start()
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()
    srv.server_close()


if __name__ == "__main__":
    main()
