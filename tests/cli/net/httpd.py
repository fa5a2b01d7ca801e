#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""httpd.py: a small HTTP server for the network tests, on the host's
loopback only. Serves files from ROOT; /echo-headers answers with the
request's headers; every request's line and headers are appended to LOG.
Prints its port on stdout once it listens, then serves until killed.

    httpd.py ROOT LOG
"""
import http.server
import socketserver
import sys

root, log = sys.argv[1], sys.argv[2]


class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **kw):
        super().__init__(*a, directory=root, **kw)

    def log_message(self, fmt, *args):
        pass

    def record(self):
        with open(log, "a") as f:
            f.write(self.requestline + "\n")
            for k, v in self.headers.items():
                f.write(f"{k}: {v}\n")
            f.write("\n")

    def do_GET(self):
        self.record()
        if self.path == "/echo-headers":
            body = str(self.headers).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def do_HEAD(self):
        self.record()
        super().do_HEAD()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


srv = Server(("127.0.0.1", 0), Handler)
print(srv.server_address[1], flush=True)
srv.serve_forever()
