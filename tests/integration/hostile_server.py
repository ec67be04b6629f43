#!/usr/bin/env python3
"""A SCEP server gone wrong, for probe_test.sh: binds 127.0.0.1 port 0,
writes its port to argv[1] and answers by the path's first segment:
/garbage (bytes that are no SCEP answer), /hang (reads the request, never
answers), /redirect-loop (302 to itself), /huge (a 100 MB body)."""
import http.server
import os
import sys
import threading
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        kind = self.path.split("/")[1].split("?")[0]
        if kind == "hang":
            time.sleep(30)
            return
        if kind == "redirect-loop":
            self.send_response(302)
            self.send_header("Location", self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if kind == "huge":
            size = 100 * 1024 * 1024
            self.send_response(200)
            self.send_header("Content-Type", "application/x-x509-ca-cert")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            chunk = b"\x30" * 65536
            try:
                for _ in range(size // len(chunk)):
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        body = os.urandom(700)
        ctype = "application/x-x509-ca-cert" if "GetCACert" in self.path else "text/plain"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
threading.Timer(300, server.shutdown).start()  # stops by itself
server.serve_forever()
