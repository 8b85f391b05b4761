#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A local HTTP server for the download tests (127.0.0.1 only, random port).

    http_server.py ROOT LOGFILE PORTFILE [LIFETIME_S]

Serves files under ROOT and writes the chosen port to PORTFILE once it is
listening. Every request is appended to LOGFILE as one line:
    GET <raw path> range=<Range header or ->
The server exits by itself after LIFETIME_S seconds (default 120).

Paths (after the prefix, the rest is a path under ROOT, percent-decoded):
    /<path>                 static file; honours "Range: bytes=N-" (206);
                            a directory serves its index.html
    /norange/<path>         static file, Range ignored (always 200, whole file)
    /status/<code>/<path>   always answers <code>
    /flaky/<n>/<path>       the first <n> requests of this exact URL get 500
    /slow/<path>            headers + 1000 bytes, then silence for 60 s
    /hang/<path>            reads the request, never answers (60 s)
    /chunked/<path>         the file in 64 KiB pieces, 20 ms apart (Range ok)
    /redirect/<path>        302 to /<path>
    /goto/<scheme>/<port>/<path>  302 to <scheme>://127.0.0.1:<port>/<path>
With FIC_TEST_TLS_PEM set in its environment (certificate and key in one
PEM file) the server speaks https instead of http; with FIC_TEST_TLS_CLIENT_CA
also set, it demands a client certificate signed by that CA.
A request in absolute form (GET http://host/path, as sent to a proxy) is
logged as such and then served as /path.
"""
import http.server
import os
import ssl
import sys
import threading
import time
import urllib.parse

ROOT, LOG, PORTFILE = sys.argv[1], sys.argv[2], sys.argv[3]
LIFETIME = float(sys.argv[4]) if len(sys.argv) > 4 else 120.0
_lock = threading.Lock()
_counts = {}


def log(line):
    with _lock:
        with open(LOG, "a") as f:
            f.write(line + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_body(self, code, body, ctype="text/plain", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def local(self, path):
        rel = urllib.parse.unquote(path.split("?", 1)[0]).lstrip("/")
        full = os.path.realpath(os.path.join(ROOT, rel))
        if not full.startswith(os.path.realpath(ROOT)):
            return None
        if os.path.isdir(full):
            full = os.path.join(full, "index.html")
        return full if os.path.isfile(full) else None

    def serve_file(self, path, ranges=True, pace=0.0, piece=1 << 16):
        full = self.local(path)
        if full is None:
            return self.send_body(404, b"not found\n")
        with open(full, "rb") as f:
            data = f.read()
        start = 0
        rng = self.headers.get("Range")
        if ranges and rng and rng.startswith("bytes="):
            first = rng[6:].split("-", 1)[0]
            start = int(first) if first else 0
            if start >= len(data):
                return self.send_body(416, b"", extra=[("Content-Range", "bytes */%d" % len(data))])
        ctype = "text/html" if full.endswith(".html") else "application/octet-stream"
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data) - start))
        if start:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.send_header("Accept-Ranges", "bytes" if ranges else "none")
        self.end_headers()
        body = data[start:]
        if not pace:
            self.wfile.write(body)
            return
        for i in range(0, len(body), piece):
            self.wfile.write(body[i:i + piece])
            self.wfile.flush()
            time.sleep(pace)

    def do_GET(self):
        log("GET %s range=%s" % (self.path, self.headers.get("Range", "-")))
        if self.path.startswith("http://"):  # absolute form: we are a proxy
            self.path = "/" + self.path[7:].split("/", 1)[1]
        parts = self.path.split("/")
        head = parts[1] if len(parts) > 1 else ""
        try:
            if head == "norange":
                return self.serve_file("/".join(parts[2:]), ranges=False)
            if head == "status":
                code = int(parts[2])
                return self.send_body(code, b"status %d\n" % code)
            if head == "flaky":
                n = int(parts[2])
                with _lock:
                    seen = _counts.get(self.path, 0)
                    _counts[self.path] = seen + 1
                if seen < n:
                    return self.send_body(500, b"flaky\n")
                return self.serve_file("/".join(parts[3:]))
            if head == "slow":
                full = self.local("/".join(parts[2:]))
                size = os.path.getsize(full) if full else 1 << 20
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(size))
                self.end_headers()
                self.wfile.write(b"\0" * 1000)
                self.wfile.flush()
                time.sleep(60)
                return
            if head == "hang":
                time.sleep(60)
                return
            if head == "chunked":
                return self.serve_file("/".join(parts[2:]), pace=0.02)
            if head == "goto":
                loc = "%s://127.0.0.1:%s/%s" % (parts[2], parts[3], "/".join(parts[4:]))
                return self.send_body(302, b"", extra=[("Location", loc)])
            if head == "redirect":
                loc = "/" + "/".join(parts[2:])
                return self.send_body(302, b"", extra=[("Location", loc)])
            return self.serve_file(self.path)
        except (BrokenPipeError, ConnectionResetError):
            pass


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    pem = os.environ.get("FIC_TEST_TLS_PEM")
    if pem:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pem)
        client_ca = os.environ.get("FIC_TEST_TLS_CLIENT_CA")
        if client_ca:  # demand a client certificate signed by that CA
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(client_ca)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    t = threading.Timer(LIFETIME, lambda: os._exit(0))
    t.daemon = True
    t.start()
    tmp = PORTFILE + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, PORTFILE)
    srv.serve_forever()


if __name__ == "__main__":
    main()
