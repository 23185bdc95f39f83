#!/usr/bin/env python3
"""A local Intel PCS / PCCS v4 look-alike for tdxkit's collateral tests (loopback only, stdlib only).

Serves a collateral directory (the layout tdxkit's load_collateral reads) over HTTPS with the real
headers and encodings, and simulates the failures a client must handle.

    pcs_server.py --workdir DIR --data tdx=COLLATERAL_DIR [--data sgx=COLLATERAL_DIR]

Generates a self-signed certificate for 127.0.0.1 into DIR/cert.pem (the client's --pccs-ca), binds
an ephemeral port on 127.0.0.1 and writes it to DIR/port when ready.

URL layout: /<style>[/<fault>...]/<v4 API path>
  style  pcs   Intel PCS: v4 header names, '+' escaped, DER CRLs, no rootcacrl (root CRL at
               /IntelSGXRootCA.der, Intel's CRL distribution point, given to the client explicitly)
         pccs  an older PCCS: v3 and lower-case header names, '+' left unescaped, CRLs as hex text
               even when encoding=der is asked, /sgx/certification/v4/rootcacrl (hex)
  fault  slow      answer after 3 s
         busy503   first request of each path: 503 with Retry-After: 1, then normal
         busy429   first request of each path: 429 with Retry-After: 1, then normal
         down      always 503, no Retry-After
         truncate  Content-Length larger than the body sent, then close
         wrongchain  the TCB Info issuer-chain header holds the PCK CRL issuer chain
         switch    what DIR/switch says at the time of each request, so a test can take the service
                   down and bring it back mid-run: "down" (503 with Retry-After: 1), "slow SECONDS"
                   (then normal), "hold" (wait until the file says otherwise, then do that), or
                   normal when the file is absent or empty
  A fault may carry a tag ("busy503-a") so that tests get their own first requests.
GET /_stats returns {"requests": N, "paths": {path: count}} (not counted itself).
"""

import argparse
import json
import os
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = {"slow", "busy503", "busy429", "down", "truncate", "wrongchain", "switch"}


class State:
    def __init__(self, data):
        self.lock = threading.Lock()
        self.total = 0
        self.paths = {}
        self.seen = set()
        self.data = {}
        for tee, directory in data.items():
            files = {}
            for name in os.listdir(directory):
                if not os.path.isfile(os.path.join(directory, name)):
                    continue
                with open(os.path.join(directory, name), "rb") as f:
                    files[name] = f.read()
            fmspc = json.loads(files["tcb_info.json"])["tcbInfo"]["fmspc"].lower()
            self.data[tee] = (fmspc, files)

    def count(self, path):
        with self.lock:
            self.total += 1
            self.paths[path] = self.paths.get(path, 0) + 1

    def first(self, key):
        with self.lock:
            if key in self.seen:
                return False
            self.seen.add(key)
            return True


def encode_chain(pem, style):
    return urllib.parse.quote(pem, safe="" if style == "pcs" else "+/=")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server_version = "tdxkit-test-pcs/1"

    def log_message(self, fmt, *args):
        self.server.log.write("%s %s\n" % (self.address_string(), fmt % args))
        self.server.log.flush()

    def send(self, status, body=b"", headers=(), declared_length=None):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body) if declared_length is None else declared_length))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        try:
            self.handle_get()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the client gave up (timeout tests)

    def handle_get(self):
        state = self.server.state
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/_stats":
            with state.lock:
                body = json.dumps({"requests": state.total, "paths": state.paths}).encode()
            return self.send(200, body, [("Content-Type", "application/json")])
        state.count(url.path)
        parts = [p for p in url.path.split("/") if p]
        if not parts or parts[0] not in ("pcs", "pccs"):
            if url.path == "/IntelSGXRootCA.der":
                return self.send(200, self.any_files()["root_ca_crl.der"], [("Content-Type", "application/pkix-crl")])
            return self.send(404)
        style = parts.pop(0)
        faults = []
        while parts and parts[0].split("-")[0] in FAULTS:
            faults.append(parts.pop(0))
        api = "/" + "/".join(parts)
        kinds = {f.split("-")[0] for f in faults}
        for fault in faults:
            kind = fault.split("-")[0]
            key = (fault, api)
            if kind == "slow":
                time.sleep(3)
            elif kind in ("busy503", "busy429") and state.first(key):
                return self.send(int(kind[4:]), b"busy", [("Retry-After", "1")])
            elif kind == "down":
                return self.send(503, b"service unavailable")
            elif kind == "switch":
                mode = self.server.switch()
                while mode[:1] == ["hold"]:
                    time.sleep(0.02)
                    mode = self.server.switch()
                if mode[:1] == ["down"]:
                    return self.send(503, b"service unavailable", [("Retry-After", "1")])
                if mode[:1] == ["slow"]:
                    time.sleep(float(mode[1]))
        status, body, headers = self.api_response(style, api, query, kinds)
        if "truncate" in kinds:
            self.close_connection = True
            return self.send(status, body[: len(body) // 2], headers, declared_length=len(body))
        return self.send(status, body, headers)

    def any_files(self):
        data = self.server.state.data
        return (data.get("tdx") or next(iter(data.values())))[1]

    def api_response(self, style, api, query, faults):
        for tee in ("tdx", "sgx"):
            prefix = "/%s/certification/v4/" % tee
            if not api.startswith(prefix) or tee not in self.server.state.data:
                continue
            fmspc, files = self.server.state.data[tee]
            item = api[len(prefix):]
            if item == "tcb":
                if query.get("fmspc", "").lower() != fmspc:
                    return 404, b"", []
                chain = files["pck_crl_issuer_chain.pem" if "wrongchain" in faults else "tcb_info_issuer_chain.pem"]
                name = "TCB-Info-Issuer-Chain" if style == "pcs" else "sgx-tcb-info-issuer-chain"
                return 200, files["tcb_info.json"], [("Content-Type", "application/json"),
                                                     (name, encode_chain(chain.decode(), style))]
            if item == "qe/identity":
                name = "SGX-Enclave-Identity-Issuer-Chain" if style == "pcs" else "sgx-enclave-identity-issuer-chain"
                chain = files["qe_identity_issuer_chain.pem"].decode()
                return 200, files["qe_identity.json"], [("Content-Type", "application/json"),
                                                        (name, encode_chain(chain, style))]
        files = self.any_files()
        if api == "/sgx/certification/v4/pckcrl":
            if query.get("ca") not in ("platform", "processor"):
                return 400, b"", []
            chain = encode_chain(files["pck_crl_issuer_chain.pem"].decode(), style)
            name = "SGX-PCK-CRL-Issuer-Chain" if style == "pcs" else "sgx-pck-crl-issuer-chain"
            if style == "pcs" and query.get("encoding") == "der":
                return 200, files["pck_crl.der"], [("Content-Type", "application/pkix-crl"), (name, chain)]
            return 200, files["pck_crl.der"].hex().encode(), [("Content-Type", "text/plain"), (name, chain)]
        if api == "/sgx/certification/v4/rootcacrl" and style == "pccs":
            return 200, files["root_ca_crl.der"].hex().encode(), [("Content-Type", "text/plain")]
        return 404, b"", []


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--data", action="append", required=True, help="tee=DIR")
    args = parser.parse_args()
    data = dict(item.split("=", 1) for item in args.data)
    cert = os.path.join(args.workdir, "cert.pem")
    key = os.path.join(args.workdir, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=tdxkit test PCCS",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.state = State(data)
    server.log = open(os.path.join(args.workdir, "server.log"), "a")
    switch_file = os.path.join(args.workdir, "switch")

    def switch():
        try:
            with open(switch_file) as f:
                return f.read().split()
        except FileNotFoundError:
            return []

    server.switch = switch
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    port_file = os.path.join(args.workdir, "port")
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
