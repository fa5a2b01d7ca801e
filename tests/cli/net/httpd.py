#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""httpd.py: a small HTTP server for the network tests, on the host's
loopback only. Serves files from ROOT; every request's line and headers are
appended to LOG. Prints its port on stdout once it listens, then serves
until killed.

    httpd.py ROOT LOG [ADDRESS] [--tls CERT KEY] [--keep-alive]

ADDRESS: a loopback address, default 127.0.0.1. --tls: HTTPS with that
certificate chain and key (ALPN http/1.1 offered). --keep-alive: answers in
HTTP/1.1 and keeps connections open (each response has a Content-Length).

Besides files, the ways a server can hand a secret back that the secret
masking tests need:
  /echo-headers          the request's headers as the body; gzip-compressed
                         when the request accepts gzip
  /echo-headers-gzip     the same, gzip-compressed whatever was asked
  /echo-headers-chunked  the same, chunked two bytes at a time, so that any
                         value longer than that is split across chunks
  /store                 writes the request's X-Value header (or, with
                         ?h=NAME, header NAME) to ROOT/stored.txt, for
                         another request, connection or server to serve back
  /hold                  answers once /release was asked for (60 s at most)
  /release               lets every /hold answer
POST or PUT:
  /upload                reads the body (Content-Length or chunked, after
                         answering Expect: 100-continue) and answers
                         "got N bytes SHA256"
  /git/...               git's smart HTTP protocol (git http-backend, as CGI)
                         for the repositories under ROOT; GET too
"""
import argparse
import gzip
import hashlib
import subprocess
import threading
import http.server
import os
import socketserver
import ssl
import sys
import urllib.parse

ap = argparse.ArgumentParser()
ap.add_argument("root")
ap.add_argument("log")
ap.add_argument("address", nargs="?", default="127.0.0.1")
ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
ap.add_argument("--keep-alive", action="store_true")
args = ap.parse_args()
root, log, address = args.root, args.log, args.address
if not address.startswith("127."):
    sys.exit("httpd.py: loopback addresses only")


released = threading.Event()


class Handler(http.server.SimpleHTTPRequestHandler):
    if args.keep_alive:
        protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

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

    def body(self, data, gz=False):
        if gz:
            data = gzip.compress(data)
        self.send_response(200)
        if gz:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.record()
        url = urllib.parse.urlsplit(self.path)
        echo = str(self.headers).encode()
        if url.path == "/echo-headers":
            self.body(echo, "gzip" in self.headers.get("Accept-Encoding", ""))
        elif url.path == "/echo-headers-gzip":
            self.body(echo, True)
        elif url.path == "/echo-headers-chunked":
            # Written by hand: BaseHTTPRequestHandler answers HTTP/1.0.
            out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            for i in range(0, len(echo), 2):
                out += b"%x\r\n%s\r\n" % (len(echo[i : i + 2]), echo[i : i + 2])
            self.wfile.write(out + b"0\r\n\r\n")
            self.close_connection = True
        elif url.path == "/hold":
            released.wait(60)
            self.body(b"held\n")
        elif url.path == "/release":
            released.set()
            self.body(b"released\n")
        elif url.path.startswith("/git/"):
            self.git(b"")
        elif url.path == "/store":
            name = urllib.parse.parse_qs(url.query).get("h", ["X-Value"])[0]
            tmp = os.path.join(root, ".stored.tmp")
            with open(tmp, "w") as f:
                f.write(self.headers.get(name, "") + "\n")
            os.chmod(tmp, 0o644)
            os.rename(tmp, os.path.join(root, "stored.txt"))
            self.body(b"stored\n")
        else:
            super().do_GET()

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def git(self, body):
        url = urllib.parse.urlsplit(self.path)
        env = {
            "GIT_PROJECT_ROOT": root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": url.path[len("/git") :],
            "QUERY_STRING": url.query,
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        }
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status = 200
        headers = []
        for line in head.split(b"\r\n"):
            k, _, v = line.decode().partition(":")
            if k.lower() == "status":
                status = int(v.split()[0])
            elif k:
                headers.append((k, v.strip()))
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self):
        self.record()
        url = urllib.parse.urlsplit(self.path)
        body = self.read_body()
        if url.path.startswith("/git/"):
            self.git(body)
        elif url.path == "/upload":
            self.body(b"got %d bytes %s\n" % (len(body), hashlib.sha256(body).hexdigest().encode()))
        else:
            self.send_error(404)

    do_PUT = do_POST

    def do_HEAD(self):
        self.record()
        super().do_HEAD()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


srv = Server((address, 0), Handler)
if args.tls:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.tls[0], args.tls[1])
    ctx.set_alpn_protocols(["http/1.1"])
    # The handshake in the handler's thread, not in accept(): a client that
    # stalls it holds up only its own connection.
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
print(srv.server_address[1], flush=True)
srv.serve_forever()
