#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""server.py ROOT [CERT KEY]: serves ROOT over HTTP on 127.0.0.1 (threaded),
printing its port once listening. With CERT and KEY: HTTPS, HTTP/1.1 with
kept-alive connections. For bench/run.sh's network figures."""
import http.server
import socketserver
import ssl
import sys


class Quiet(http.server.SimpleHTTPRequestHandler):
    if len(sys.argv) > 3:
        protocol_version = "HTTP/1.1"
    # A response is written as a head, then a body: without this, the body
    # waits for the client's delayed ACK of the head (40 ms on Linux).
    disable_nagle_algorithm = True

    def __init__(self, *a, **kw):
        super().__init__(*a, directory=sys.argv[1], **kw)

    def log_message(self, *a):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", 0), Quiet)
if len(sys.argv) > 3:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    ctx.set_alpn_protocols(["http/1.1"])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
print(srv.server_address[1], flush=True)
srv.serve_forever()
