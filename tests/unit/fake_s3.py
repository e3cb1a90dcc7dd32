#!/usr/bin/python3
"""A stand-in for an S3 service that misbehaves, for test_s3_client.

    fake_s3.py LOG

Listens on 127.0.0.1 (a free port, printed on the first line of stdout) and
appends one line per request to LOG ("METHOD PATH?QUERY").  Answers:
  - ListObjectsV2 (GET ?list-type=2): truncated pages whose continuation
    tokens lead in a cycle: no token -> "A", "A" -> "B", "B" -> "A", ...;
  - ListMultipartUploads (GET ?uploads): the same with key markers;
  - GET .../stall: nothing at all for 120 s (a service that stopped);
  - anything else: 200 with an empty body.
Response format: https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
and https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html
"""
import http.server
import sys
import time
import urllib.parse

LOG = sys.argv[1]
NS = "http://s3.amazonaws.com/doc/2006-03-01/"
NEXT = {None: "A", "A": "B", "B": "A"}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def note(self):
        with open(LOG, "a") as f:
            f.write(f"{self.command} {self.path}\n")

    def answer(self, body=b"", status=200):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", '"d41d8cd98f00b204e9800998ecf8427e"')
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        self.note()
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        prefix = q.get("prefix", [""])[0]
        if url.path.endswith("/stall"):
            time.sleep(120)
            return
        if "list-type" in q:
            token = q.get("continuation-token", [None])[0]
            body = (f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="{NS}">'
                    f"<Contents><Key>{prefix}k-{token or '0'}</Key><Size>1</Size></Contents>"
                    f"<IsTruncated>true</IsTruncated>"
                    f"<NextContinuationToken>{NEXT[token]}</NextContinuationToken>"
                    f"</ListBucketResult>")
            return self.answer(body.encode())
        if "uploads" in q:
            marker = q.get("key-marker", [None])[0]
            nxt = NEXT[marker[len(prefix):] if marker else None]
            body = (f'<?xml version="1.0" encoding="UTF-8"?>'
                    f'<ListMultipartUploadsResult xmlns="{NS}">'
                    f"<Upload><Key>{prefix}u-{nxt}</Key><UploadId>id-{nxt}</UploadId></Upload>"
                    f"<IsTruncated>true</IsTruncated>"
                    f"<NextKeyMarker>{prefix}{nxt}</NextKeyMarker>"
                    f"<NextUploadIdMarker>id-{nxt}</NextUploadIdMarker>"
                    f"</ListMultipartUploadsResult>")
            return self.answer(body.encode())
        self.answer()

    def do_HEAD(self):
        self.note()
        self.answer()

    def do_PUT(self):
        self.note()
        n = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(n)
        self.answer()

    do_DELETE = do_HEAD


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
