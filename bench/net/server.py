#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""server.py ROOT: serves ROOT over HTTP on 127.0.0.1 (threaded), printing
its port once listening. For bench/run.sh's network figures."""
import http.server
import socketserver
import sys


class Quiet(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **kw):
        super().__init__(*a, directory=sys.argv[1], **kw)

    def log_message(self, *a):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", 0), Quiet)
print(srv.server_address[1], flush=True)
srv.serve_forever()
