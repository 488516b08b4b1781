#!/usr/bin/env python3
"""A stand-in for the customer's CRM: GET /customers?phone=+91… answers the caller's record
from data/crm.json as JSON, or 404. For trying the data-driven example; not for production."""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "data", "crm.json")) as f:
    CUSTOMERS = json.load(f)


class Crm(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        phone = parse_qs(url.query).get("phone", [""])[0]
        record = CUSTOMERS.get(phone) if url.path == "/customers" else None
        body = json.dumps(record).encode() if record else b""
        self.send_response(200 if record else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("crm-stub: " + fmt % args + "\n")


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
    HTTPServer(("127.0.0.1", port), Crm).serve_forever()
