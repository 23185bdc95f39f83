#!/usr/bin/env python3
"""Test peers for tdxkit's quote providers and attested TLS (python3 stdlib only).

Every server binds to loopback, writes its port (or "ready") as one line to --ready FILE, appends one
line per request it receives to --log FILE, and exits by itself after --lifetime seconds.

  tsm ROOT           fake configfs-tsm report directory driven by polling (modes: ok, race, sev)
  dstack             fake dstack guest agent on a unix socket or a TCP port (modes: ok, nocert,
                     othercert, tamper, wrong-report-data, error)
  mitm               TLS 1.3 terminator that relays to --upstream over its own TLS session
  canned             TLS server answering every request with --response FILE (a replayed quote)
  tls12              TLS 1.2-only server
  oversized/slow/malformed
                     TLS 1.3 servers misbehaving on the quote request
  upstream           plain HTTP application server
"""

import argparse
import hashlib
import http.server
import json
import os
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time


def ready(args, value):
    tmp = args.ready + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{value}\n")
    os.rename(tmp, args.ready)


def log(args, line):
    if args.log:
        with open(args.log, "a") as f:
            f.write(line + "\n")


def stop_after(seconds):
    def killer():
        time.sleep(seconds)
        os._exit(0)
    threading.Thread(target=killer, daemon=True).start()


def simulated_quote(args, report_data_hex, bind_cert=None):
    cmd = [args.tdxkit, "-q", "quote", "generate", "--provider", "simulated", "--pki", args.pki,
           "--report-data", report_data_hex, "--format", "json"]
    if bind_cert:
        cmd += ["--bind-cert", bind_cert]
    out = subprocess.run(cmd, check=True, capture_output=True, timeout=30)
    return json.loads(out.stdout)


# ---- configfs-tsm -------------------------------------------------------------------------------

def write_atomically(path, data):
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.rename(path + ".tmp", path)


def run_tsm(args):
    # The reader waits for `generation` to change and then reads `outblob`, and in configfs both are
    # settled by then (the report is made as outblob is read). So every attribute appears whole
    # (written aside, then renamed), `provider` last when the entry is made, and the generation moves
    # only once the report is in place.
    root = args.root
    answered = set()
    ready(args, "ready")
    while True:
        for name in os.listdir(root):
            entry = os.path.join(root, name)
            if not os.path.isdir(entry) or name in answered:
                continue
            if not os.path.exists(os.path.join(entry, "provider")):
                for attr, value in (("inblob", b""), ("outblob", b""), ("generation", b"0\n"),
                                    ("provider", b"sev_guest\n" if args.mode == "sev" else b"tdx_guest\n")):
                    write_atomically(os.path.join(entry, attr), value)
                log(args, f"entry {name}")
                continue
            with open(os.path.join(entry, "inblob"), "rb") as f:
                inblob = f.read()
            if not inblob:
                continue
            answered.add(name)
            quote = simulated_quote(args, inblob.hex())["quote"]
            write_atomically(os.path.join(entry, "outblob"), bytes.fromhex(quote))
            # A racing writer bumps the generation once more.
            generation = 2 if args.mode == "race" else 1
            write_atomically(os.path.join(entry, "generation"), f"{generation}\n".encode())
            log(args, f"answered {name} generation {generation}")
        time.sleep(0.005)


# ---- dstack guest agent --------------------------------------------------------------------------

def send_body(handler, status, content_type, body):
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class AgentHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, doc):
        send_body(self, status, "application/json", json.dumps(doc).encode())

    def do_POST(self):
        args = self.server.args
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        log(args, f"POST {self.path} {body.decode(errors='replace')}")
        if self.path != "/GetQuote":
            return self.reply(404, {"error": "not found"})
        if args.mode == "error":
            return self.reply(500, {"error": "quote generation failed (test)"})
        if args.mode == "error-html":  # a proxy in front of the agent answers with its own page
            return send_body(self, 502, "text/html", b"<html><body>502 Bad Gateway</body></html>")
        report_data = json.loads(body)["report_data"]
        if args.mode == "wrong-report-data":
            report_data = "ff" * 64
        bind = {"ok": args.cert, "tamper": args.cert, "relabel": args.cert, "othercert": args.other_cert}.get(args.mode)
        doc = simulated_quote(args, report_data, bind)
        if args.mode == "relabel":
            # The certificate event's type changed, its V1 runtime digest kept: it still replays.
            events = json.loads(doc["event_log"])
            for e in events:
                if e["event"] == "New TLS Certificate":
                    payload = bytes.fromhex(e["event_payload"])
                    preimage = (0x08000001).to_bytes(4, "little") + b":" + e["event"].encode() + b":" + payload
                    e["digest"] = hashlib.sha384(preimage).hexdigest()
                    e["event_type"] = 1
            doc["event_log"] = json.dumps(events)
        if args.mode == "tamper":
            events = json.loads(doc["event_log"])
            for e in events:
                if e["event"] == "compose-hash":
                    e["event_payload"] = "00" * 32
                    e["digest"] = ""
            doc["event_log"] = json.dumps(events)
        self.reply(200, doc)


class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        conn, _ = super().get_request()
        return conn, ("unix", 0)


class TcpHTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def run_dstack(args):
    if args.socket:
        server = UnixHTTPServer(args.socket, AgentHandler)
        value = args.socket
    else:
        server = TcpHTTPServer(("127.0.0.1", 0), AgentHandler)
        value = server.server_address[1]
    server.args = args
    ready(args, value)
    server.serve_forever()


# ---- TLS peers -------------------------------------------------------------------------------------

def tls_context(args, maximum=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if maximum is not None:
        ctx.maximum_version = maximum
    else:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(args.cert, args.key)
    return ctx


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return None, data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(rest) < length:
        chunk = conn.recv(4096)
        if not chunk:
            break
        rest += chunk
    return head.split(b"\r\n")[0].decode(errors="replace"), rest[:length]


def respond(conn, status, body, content_length=None):
    length = len(body) if content_length is None else content_length
    conn.sendall(f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n"
                 f"Connection: keep-alive\r\n\r\n".encode() + body)


def serve_tls(args, ctx, handle):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    ready(args, listener.getsockname()[1])

    def one(raw):
        try:
            with ctx.wrap_socket(raw, server_side=True) as conn:
                while True:
                    line, body = read_request(conn)
                    if line is None:
                        return
                    log(args, line)
                    if not handle(conn, line, body):
                        return
        except (OSError, ssl.SSLError) as e:
            # Not in the request log: whether the client's close reaches a read or a write first
            # is timing, and the tests compare that log exactly.
            print(f"connection error: {e.__class__.__name__}", file=sys.stderr)

    while True:
        raw, _ = listener.accept()
        threading.Thread(target=one, args=(raw,), daemon=True).start()


def run_canned(args):
    with open(args.response, "rb") as f:
        canned = f.read()

    def handle(conn, line, body):
        respond(conn, "200 OK", canned)
        return True
    serve_tls(args, tls_context(args), handle)


def run_misbehaving(args):
    def handle(conn, line, body):
        if args.command == "oversized":
            respond(conn, "200 OK", b"{" + b" " * 65536, content_length=512 * 1024 * 1024)
            return False
        if args.command == "slow":
            head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
            for i in range(0, 600):
                conn.sendall(head if i == 0 else b" ")
                time.sleep(0.1)
            return False
        respond(conn, "200 OK", b'{"success":true,"quote":{"quote":"04000200')
        return True
    serve_tls(args, tls_context(args), handle)


def run_tls12(args):
    serve_tls(args, tls_context(args, maximum=ssl.TLSVersion.TLSv1_2),
              lambda conn, line, body: respond(conn, "200 OK", b"{}") or True)


def run_mitm(args):
    host, port = args.upstream.rsplit(":", 1)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    client_ctx.minimum_version = ssl.TLSVersion.TLSv1_3

    def handle(conn, line, body):
        # Forward the victim's request on the relay's own TLS session to the real server.
        with socket.create_connection((host, int(port))) as raw:
            with client_ctx.wrap_socket(raw) as up:
                method, path, _ = line.split(" ", 2)
                up.sendall(f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                           f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
                answer = b""
                while True:
                    chunk = up.recv(65536)
                    if not chunk:
                        break
                    answer += chunk
        conn.sendall(answer.replace(b"Connection: close", b"Connection: keep-alive"))
        return True
    serve_tls(args, tls_context(args), handle)


class UpstreamHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        log(self.server.args, f"GET {self.path}")
        send_body(self, 200, "text/plain", b"hello from upstream\n")


def run_upstream(args):
    server = TcpHTTPServer(("127.0.0.1", 0), UpstreamHandler)
    server.args = args
    ready(args, server.server_address[1])
    server.serve_forever()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["tsm", "dstack", "mitm", "canned", "tls12", "oversized", "slow",
                                       "malformed", "upstream"])
    p.add_argument("root", nargs="?")
    p.add_argument("--ready", required=True)
    p.add_argument("--log")
    p.add_argument("--lifetime", type=float, default=120)
    p.add_argument("--mode", default="ok")
    p.add_argument("--tdxkit")
    p.add_argument("--pki")
    p.add_argument("--socket")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--other-cert")
    p.add_argument("--upstream")
    p.add_argument("--response")
    args = p.parse_args()
    stop_after(args.lifetime)
    {"tsm": run_tsm, "dstack": run_dstack, "mitm": run_mitm, "canned": run_canned, "tls12": run_tls12,
     "oversized": run_misbehaving, "slow": run_misbehaving, "malformed": run_misbehaving,
     "upstream": run_upstream}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
