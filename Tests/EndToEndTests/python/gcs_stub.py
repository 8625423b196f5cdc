"""In-memory fake of the Google Cloud Storage JSON API and OAuth token endpoints, for end-to-end tests.

It serves what rexstore (over libcurl) needs: the bucket GET, object metadata/media GET, list,
delete and the media/multipart/resumable uploads, plus `POST /token` (JWT-bearer and refresh_token
grants) and the GCE metadata token endpoint. A control API under /_stub/ injects faults (error
statuses, connection resets, stalls, corrupted bodies) and shows the request log and stored objects.

usage: gcs_stub.py [--port 0] [--bucket NAME ...] [--require-auth] [--verify-key PEM_FILE]
                   [--token-lifetime SECONDS] [--accept-google-aud]
Listens on 127.0.0.1 only, prints one line `READY <port>` to stdout, exits on SIGTERM/SIGINT.
`POST /storage/v1/b` with {"name": ...} adds an empty bucket.
Control API (never needs auth, never logged, never faulted):
  POST   /_stub/faults   JSON rule or list of rules, appended    DELETE /_stub/faults   clear
  GET    /_stub/faults   active rules                            GET    /_stub/log      request log
  DELETE /_stub/log      clear the log                           GET    /_stub/objects  stored objects
  GET    /_stub/sessions resumable sessions                      POST   /_stub/reset    clear all but tokens
Rule: {"method": "PUT"|null, "path_contains": "...", "query_contains": "...", "range_contains": "..." (in the
  Range header), "times": 1, "action": {...}}
Actions (may combine): {"status": 503, "retry_after": S, "persist_bytes": K, "message": "..."},
  {"reset_after_request_bytes": K} (with "persist_received": true a resumable session keeps what
  arrived, in whole 256 KiB units), {"reset_after_response_bytes": K}, {"stall_seconds": S},
  {"corrupt_response_body": true}, {"corrupt_request_body": true} (the first byte received is flipped), {"trickle_bytes_per_second": N} (the answer's body is sent N bytes a
  second), {"status": 400, "body": {...} or "text"} (the error answered with exactly this body).
"""
import argparse
import base64
import hashlib
import http.server
import json
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, unquote

import google_crc32c

FIRST_GENERATION = 1700000000000000
REASONS = {400: "invalid", 401: "required", 403: "forbidden", 404: "notFound", 408: "requestTimeout",
           409: "conflict", 412: "conditionNotMet", 416: "requestedRangeNotSatisfiable",
           429: "rateLimitExceeded", 499: "clientClosedRequest", 500: "backendError", 502: "backendError",
           503: "backendError", 504: "backendError"}
PHRASES = {308: "Resume Incomplete", 499: "Client Closed Request"}
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
CONTENT_RANGE = re.compile(r"^bytes (?:\*|(\d+)-(\d+))/(\*|\d+)$")


def now_rfc3339():
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def checksums(data):
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    crc = base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()
    return md5, crc


def b64url_decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class StubError(Exception):
    """An HTTP error answered as a GCS JSON error body."""

    def __init__(self, status, message, reason=None, headers=()):
        super().__init__(message)
        self.status, self.message, self.reason = status, message, reason or REASONS.get(status, "error")
        self.headers = list(headers)


@dataclass
class StoredObject:
    bucket: str
    name: str
    data: bytes
    generation: int
    content_type: str
    metadata: dict
    created: str
    md5: str = ""
    crc32c: str = ""

    def __post_init__(self):
        self.md5, self.crc32c = checksums(self.data)

    def resource(self, base):
        quoted = quote(self.name, safe="")
        res = {"kind": "storage#object", "id": f"{self.bucket}/{self.name}/{self.generation}",
               "selfLink": f"{base}/storage/v1/b/{self.bucket}/o/{quoted}",
               "mediaLink": f"{base}/download/storage/v1/b/{self.bucket}/o/{quoted}"
                            f"?generation={self.generation}&alt=media",
               "name": self.name, "bucket": self.bucket, "generation": str(self.generation),
               "metageneration": "1", "contentType": self.content_type, "storageClass": "STANDARD",
               "size": str(len(self.data)), "md5Hash": self.md5, "crc32c": self.crc32c,
               "etag": f"CL{self.generation}EAE=", "timeCreated": self.created, "updated": self.created,
               "timeStorageClassUpdated": self.created}
        if self.metadata:
            res["metadata"] = self.metadata
        return res


@dataclass
class Session:
    bucket: str
    name: str
    content_type: str
    metadata: dict
    preconditions: dict
    md5: str | None = None
    crc32c: str | None = None
    total: int | None = None
    data: bytearray = field(default_factory=bytearray)
    result: dict | None = None  # object resource once finalized


class State:
    def __init__(self, port, buckets, require_auth, verify_key, token_lifetime, accept_google_aud):
        self.lock = threading.RLock()
        self.buckets = {b: now_rfc3339() for b in buckets}
        self.objects = {b: {} for b in buckets}
        self.sessions = {}
        self.faults = []
        self.log = []
        self.tokens = {}  # token -> expiry (epoch seconds)
        self.token_counter = 0
        self.generation = FIRST_GENERATION
        self.require_auth = require_auth
        self.verify_key = verify_key
        self.token_lifetime = token_lifetime
        self.accept_google_aud = accept_google_aud
        self.port = port

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def issue_token(self):
        with self.lock:
            self.token_counter += 1
            token = f"stub-token-{self.token_counter}"
            self.tokens[token] = time.time() + self.token_lifetime
        return {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}

    def match_fault(self, method, raw_path, query, range_header=""):
        path = unquote(raw_path)
        with self.lock:
            for rule in self.faults:
                if rule.get("times", 1) <= 0:
                    continue
                if rule.get("method") and rule["method"].upper() != method:
                    continue
                pc = rule.get("path_contains")
                if pc and pc not in raw_path and pc not in path:
                    continue
                if rule.get("query_contains") and rule["query_contains"] not in query:
                    continue
                if rule.get("range_contains") and rule["range_contains"] not in range_header:
                    continue
                rule["times"] = rule.get("times", 1) - 1
                return rule["action"]
        return None


def check_preconditions(obj, q, is_read=False):
    """Raise StubError when the ifGeneration*/ifMetageneration* query parameters are not met."""
    def num(key):
        try:
            return int(q[key])
        except ValueError:
            raise StubError(400, f"Invalid value for {key}: {q[key]!r}") from None

    generation = obj.generation if obj else 0
    if "ifGenerationMatch" in q and num("ifGenerationMatch") != generation:
        raise StubError(412, "At least one of the pre-conditions you specified did not hold.")
    if "ifGenerationNotMatch" in q and obj and num("ifGenerationNotMatch") == generation:
        if is_read:
            raise StubError(304, "Not Modified")
        raise StubError(412, "At least one of the pre-conditions you specified did not hold.")
    if "ifMetagenerationMatch" in q and (not obj or num("ifMetagenerationMatch") != 1):
        raise StubError(412, "At least one of the pre-conditions you specified did not hold.")
    if "ifMetagenerationNotMatch" in q and obj and num("ifMetagenerationNotMatch") == 1:
        raise StubError(304 if is_read else 412, "At least one of the pre-conditions you specified did not hold.")


def check_hashes(data, md5, crc):
    actual_md5, actual_crc = checksums(data)
    if md5 and md5 != actual_md5:
        raise StubError(400, f'Provided MD5 hash "{md5}" doesn\'t match calculated MD5 hash "{actual_md5}".')
    if crc and crc != actual_crc:
        raise StubError(400, f'Provided CRC32C "{crc}" doesn\'t match calculated CRC32C "{actual_crc}".')


def parse_goog_hash(headers):
    """x-goog-hash: crc32c=...,md5=... (possibly repeated) -> (md5, crc32c)."""
    found = {}
    for value in headers.get_all("x-goog-hash") or []:
        for item in value.split(","):
            key, _, val = item.strip().partition("=")
            if val:
                found[key.strip().lower()] = val.strip()
    return found.get("md5"), found.get("crc32c")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def version_string(self):
        return "gcs-stub"

    def log_message(self, *args):
        pass

    @property
    def state(self) -> State:
        return self.server.state

    # ---------------------------------------------------------------- plumbing
    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def read_body(self, limit=None):
        """Read the request body (Content-Length or chunked), at most `limit` bytes when given."""
        chunks, got = [], 0
        self.body_short = False  # set when the body ended before its framing said it would
        try:
            got = self._read_body_into(chunks, limit)
        except ValueError:
            self.close_connection = True
            raise StubError(400, "Malformed request body framing (Content-Length or chunk size)") from None
        if self.entry is not None:
            self.entry["request_body_bytes"] = got
        return b"".join(chunks)

    def _read_body_into(self, chunks, limit):
        got = 0
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while limit is None or got < limit:
                size = int(self.rfile.readline(65537).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                want = size if limit is None else min(size, limit - got)
                data = self.rfile.read(want)
                chunks.append(data)
                got += len(data)
                if want < size or len(data) < want:
                    self.body_short = len(data) < want
                    break  # stopped early: the connection will be reset
                self.rfile.readline(65537)  # CRLF after the chunk
        else:
            length = int(self.headers.get("Content-Length") or 0)
            want = length if limit is None else min(length, limit)
            while got < want:
                data = self.rfile.read(min(want - got, 1 << 20))
                if not data:
                    self.body_short = True
                    break
                chunks.append(data)
                got += len(data)
        return got

    def abort(self):
        """Close the connection abruptly (RST), without answering."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            os.close(self.connection.detach())
        except OSError:
            pass

    def respond(self, status, body=b"", content_type="application/json; charset=UTF-8", headers=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        fault = self.response_fault or {}
        if self.entry is not None:
            self.entry["status"] = status
        self.send_response(status, PHRASES.get(status))
        for key, value in headers:
            self.send_header(key, value)
        has_body = status not in (204, 304)
        if has_body:
            if body:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if fault.get("corrupt_response_body") and body:
                body = bytearray(body)
                body[len(body) // 2] ^= 0x01
                body = bytes(body)
        self.end_headers()
        cut = fault.get("reset_after_response_bytes")
        if cut is not None and has_body:
            self.wfile.write(body[:cut])
            time.sleep(0.1)  # let the partial body reach the client before the reset
            self.abort()
            return
        rate = fault.get("trickle_bytes_per_second")
        if rate and has_body:
            # A server that never stalls long enough for a low-speed limit, but never finishes either.
            self.wfile.flush()
            for i in range(0, len(body), int(rate)):
                self.wfile.write(body[i:i + int(rate)])
                self.wfile.flush()
                time.sleep(1)
            return
        if has_body:
            self.wfile.write(body)

    def respond_error(self, status, message, reason=None, headers=()):
        if status == 304:
            return self.respond(304, headers=headers)
        reason = reason or REASONS.get(status, "error")
        body = {"error": {"code": status, "message": message,
                          "errors": [{"domain": "global", "reason": reason, "message": message}]}}
        self.respond(status, body, headers=headers)

    def dispatch(self):
        self.entry, self.response_fault, self.body = None, None, b""
        raw_path, _, query = self.path.partition("?")
        self.q = dict(parse_qsl(query, keep_blank_values=True))
        try:
            try:
                self.handle_request(raw_path, query)
            except StubError as e:
                self.respond_error(e.status, e.message, e.reason, e.headers)
            except (ConnectionError, TimeoutError):
                raise
            except Exception as e:  # a stub bug: answer rather than drop the connection
                self.close_connection = True
                self.respond_error(500, f"gcs_stub internal error: {e!r}")
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # the client went away (e.g. after a stall): stay quiet

    def handle_request(self, raw_path, query):
        if raw_path.startswith("/_stub/"):
            self.body = self.read_body()
            return self.control(raw_path)
        self.entry = {"method": self.command, "path": raw_path, "query": query, "status": None,
                      "content_range": self.headers.get("Content-Range"), "range": self.headers.get("Range"),
                      "request_body_bytes": 0,
                      "authorization": self.headers.get("Authorization"), "fault": None}
        with self.state.lock:
            self.state.log.append(self.entry)
        action = self.state.match_fault(self.command, raw_path, query, self.headers.get("Range") or "")
        if action is not None:
            self.entry["fault"] = action
            if self.apply_request_fault(action):
                return
        self.body = self.read_body()
        if action is not None and action.get("corrupt_request_body") and self.body:
            self.body = bytes([self.body[0] ^ 0xFF]) + self.body[1:]  # damaged on the way in
        self.route(raw_path)

    def apply_request_fault(self, action):
        """Apply a fault rule's request-side action; True when the request has been dealt with."""
        if action.get("stall_seconds"):
            time.sleep(float(action["stall_seconds"]))
        if action.get("reset_after_request_bytes") is not None:
            self.body = self.read_body(limit=int(action["reset_after_request_bytes"]))
            if action.get("persist_received") and self.q.get("upload_id"):
                # As GCS does: what arrived before the break is kept, in whole 256 KiB units.
                self.persist_partial(len(self.body) // 262144 * 262144)
            self.abort()
            return True
        if action.get("status"):
            self.body = self.read_body()
            if action.get("persist_bytes") and self.q.get("upload_id"):
                self.persist_partial(int(action["persist_bytes"]))
            status = int(action["status"])
            headers = [("Retry-After", str(action["retry_after"]))] if "retry_after" in action else []
            if "body" in action:
                body = action["body"]
                return self.respond(status, body if isinstance(body, (dict, list)) else str(body).encode(),
                                    headers=headers) or True
            self.respond_error(status, action.get("message", f"Injected fault: HTTP {status}"), headers=headers)
            return True
        self.response_fault = action
        return False

    # ---------------------------------------------------------------- control API
    def control(self, path):
        with self.state.lock:  # build the answer under the lock, send it outside
            answer = self.control_answer(path, self.state, self.command)
            body = json.dumps(answer).encode() if answer is not None else None
        if body is None:
            raise StubError(404, f"No control endpoint {self.command} {path}")
        self.respond(200, body)

    def control_answer(self, path, st, method):
        if path == "/_stub/faults" and method == "POST":
            try:
                rules = json.loads(self.body or b"[]")
            except ValueError:
                raise StubError(400, "fault rules must be JSON") from None
            rules = [rules] if isinstance(rules, dict) else rules
            if not isinstance(rules, list) or not all(
                    isinstance(r, dict) and isinstance(r.get("action"), dict) for r in rules):
                raise StubError(400, "expected a rule or a list of rules, each with an 'action' object")
            for r in rules:
                r.setdefault("times", 1)
            st.faults.extend(rules)
            return {"rules": len(st.faults)}
        if path == "/_stub/faults" and method == "DELETE":
            st.faults.clear()
            return {"rules": 0}
        if path == "/_stub/faults" and method == "GET":
            return st.faults
        if path == "/_stub/log" and method == "GET":
            return st.log
        if path == "/_stub/log" and method == "DELETE":
            st.log.clear()
            return {"log": 0}
        if path == "/_stub/objects" and method == "GET":
            return [{"bucket": o.bucket, "name": o.name, "size": len(o.data), "md5Hash": o.md5,
                     "crc32c": o.crc32c, "generation": o.generation, "contentType": o.content_type}
                    for b in sorted(st.objects) for _, o in sorted(st.objects[b].items())]
        if path == "/_stub/sessions" and method == "GET":
            return [{"upload_id": k, "bucket": s.bucket, "name": s.name, "persisted": len(s.data),
                     "total": s.total, "finalized": s.result is not None} for k, s in st.sessions.items()]
        if path == "/_stub/reset" and method == "POST":
            st.objects = {b: {} for b in st.buckets}
            st.sessions.clear(), st.faults.clear(), st.log.clear()
            return {"reset": True}
        return None

    # ---------------------------------------------------------------- routing
    def route(self, path):
        method = self.command
        if path == "/token" and method == "POST":
            return self.token()
        if path == "/" or path.startswith("/computeMetadata/"):
            return self.metadata_server(path)
        if not path.startswith(("/storage/", "/upload/", "/download/")):
            raise StubError(404, f"Not Found: {path}")
        self.check_auth()
        if path == "/storage/v1/b" and method == "POST":
            return self.create_bucket()
        m = re.match(r"^/(?:download/|upload/)?storage/v1/b/([^/]+)(/o(?:/(.*))?)?$", path)
        if not m:
            raise StubError(404, f"Not Found: {path}")
        bucket, has_o, raw_name = unquote(m.group(1)), m.group(2), m.group(3)
        if bucket not in self.state.buckets:
            raise StubError(404, f"The specified bucket does not exist: {bucket}")
        if path.startswith("/upload/"):
            if has_o and raw_name is None:
                return self.upload(bucket)
        elif not has_o and not path.startswith("/download/"):
            if method == "GET":
                return self.respond(200, {"kind": "storage#bucket", "id": bucket, "name": bucket,
                                          "location": "US", "storageClass": "STANDARD",
                                          "timeCreated": self.state.buckets[bucket],
                                          "updated": self.state.buckets[bucket], "metageneration": "1"})
        elif raw_name is None and not path.startswith("/download/"):
            if method == "GET":
                return self.list_objects(bucket)
        elif raw_name:
            name = unquote(raw_name)
            if method == "GET" and (self.q.get("alt") == "media" or path.startswith("/download/")):
                return self.download(bucket, name)
            if method == "GET":
                return self.respond(200, self.lookup(bucket, name, is_read=True).resource(self.state.base))
            if method == "DELETE" and not path.startswith("/download/"):
                with self.state.lock:
                    self.lookup(bucket, name)
                    del self.state.objects[bucket][name]
                return self.respond(204)
        raise StubError(405, f"Method {method} not allowed on {path}", "methodNotAllowed")

    def check_auth(self):
        st = self.state
        if not st.require_auth:
            return
        header = self.headers.get("Authorization", "")
        www = [("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/"')]
        if not header.startswith("Bearer "):
            raise StubError(401, "Anonymous caller does not have storage access.", "required", www)
        expiry = st.tokens.get(header[7:].strip())
        if expiry is None or expiry < time.time():
            raise StubError(401, "Invalid Credentials", "authError", www)

    def create_bucket(self):
        """buckets.insert: a new, empty bucket (the conformance suite makes one per test)."""
        try:
            name = json.loads(self.body or b"{}")["name"]
        except (ValueError, KeyError, TypeError):
            raise StubError(400, "a bucket needs a name") from None
        with self.state.lock:
            if name in self.state.buckets:
                raise StubError(409, f"bucket {name} already exists")
            self.state.buckets[name] = now_rfc3339()
            self.state.objects[name] = {}
        return self.respond(200, {"kind": "storage#bucket", "id": name, "name": name,
                                  "timeCreated": self.state.buckets[name], "metageneration": "1"})

    def lookup(self, bucket, name, is_read=False):
        obj = self.state.objects[bucket].get(name)
        if obj is None or ("generation" in self.q and self.q["generation"] != str(obj.generation)):
            raise StubError(404, f"No such object: {bucket}/{name}")
        check_preconditions(obj, self.q, is_read)
        return obj

    def store(self, bucket, name, data, content_type, metadata, preconditions):
        """Atomically check preconditions and store a new generation; returns the resource."""
        st = self.state
        with st.lock:
            check_preconditions(st.objects[bucket].get(name), preconditions)
            st.generation += 1
            obj = StoredObject(bucket, name, bytes(data), st.generation,
                               content_type or "application/octet-stream", dict(metadata or {}), now_rfc3339())
            st.objects[bucket][name] = obj
        return obj.resource(st.base)

    # ---------------------------------------------------------------- storage operations
    def list_objects(self, bucket):
        q = self.q
        prefix, delim = q.get("prefix", ""), q.get("delimiter", "")
        start, end = q.get("startOffset", ""), q.get("endOffset", "")
        try:
            max_results = min(int(q.get("maxResults") or 1000), 1000)
            last = b64url_decode(q["pageToken"]).decode() if q.get("pageToken") else None
        except (ValueError, UnicodeDecodeError):
            raise StubError(400, "Invalid maxResults or pageToken") from None
        if max_results <= 0:
            raise StubError(400, "maxResults must be positive")
        with self.state.lock:
            objs = dict(self.state.objects[bucket])
        entries, seen = [], set()
        for name in sorted(objs):
            if not name.startswith(prefix) or name < start or (end and name >= end):
                continue
            cut = name.find(delim, len(prefix)) if delim else -1
            if cut >= 0:
                p = name[:cut + len(delim)]
                if p not in seen:
                    seen.add(p)
                    entries.append((p, None))
            else:
                entries.append((name, objs[name]))
        entries.sort(key=lambda e: e[0])
        if last is not None:
            entries = [e for e in entries if e[0] > last]
        page = entries[:max_results]
        result = {"kind": "storage#objects"}
        if len(entries) > max_results:
            result["nextPageToken"] = base64.urlsafe_b64encode(page[-1][0].encode()).decode().rstrip("=")
        items = [o.resource(self.state.base) for _, o in page if o is not None]
        prefixes = [k for k, o in page if o is None]
        if items:
            result["items"] = items
        if prefixes:
            result["prefixes"] = prefixes
        self.respond(200, result)

    def download(self, bucket, name):
        with self.state.lock:
            obj = self.lookup(bucket, name, is_read=True)
        data, size = obj.data, len(obj.data)
        headers = [("x-goog-hash", f"crc32c={obj.crc32c},md5={obj.md5}"),
                   ("x-goog-generation", str(obj.generation)), ("x-goog-metageneration", "1"),
                   ("x-goog-stored-content-length", str(size)), ("x-goog-stored-content-encoding", "identity"),
                   ("Accept-Ranges", "bytes"), ("ETag", f'"{obj.md5}"')]
        m = re.match(r"^bytes=(\d*)-(\d*)$", self.headers.get("Range", "").strip())
        if m and size > 0 and (m.group(1) or m.group(2)):
            if m.group(1):
                first = int(m.group(1))
                last_byte = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            else:  # suffix range: the last N bytes
                first, last_byte = max(size - int(m.group(2)), 0), size - 1
            if first >= size or last_byte < first:
                raise StubError(416, "The requested range cannot be satisfied.",
                                headers=[("Content-Range", f"bytes */{size}")])
            headers.append(("Content-Range", f"bytes {first}-{last_byte}/{size}"))
            return self.respond(206, data[first:last_byte + 1], obj.content_type, headers)
        self.respond(200, data, obj.content_type, headers)

    def upload(self, bucket):
        if self.q.get("upload_id"):
            return self.resumable_chunk()
        if self.command != "POST":
            raise StubError(405, f"Method {self.command} not allowed for uploads", "methodNotAllowed")
        kind = self.q.get("uploadType")
        if getattr(self, "body_short", False):
            # As GCS does: a media or multipart upload whose body ends early stores nothing (only a
            # resumable session keeps what arrived).
            self.close_connection = True
            raise StubError(400, "Request body ended before its Content-Length")
        hdr_md5, hdr_crc = parse_goog_hash(self.headers)
        if kind == "media":
            if not self.q.get("name"):
                raise StubError(400, "Required parameter: name", "required")
            check_hashes(self.body, hdr_md5, hdr_crc)
            return self.respond(200, self.store(bucket, self.q["name"], self.body,
                                                self.headers.get("Content-Type"), {}, self.q))
        if kind == "multipart":
            meta, media, media_type = self.parse_multipart()
            name = meta.get("name") or self.q.get("name")
            if not name:
                raise StubError(400, "Required parameter: name", "required")
            check_hashes(media, meta.get("md5Hash") or hdr_md5, meta.get("crc32c") or hdr_crc)
            return self.respond(200, self.store(bucket, name, media, meta.get("contentType") or media_type,
                                                meta.get("metadata"), self.q))
        if kind == "resumable":
            try:
                meta = json.loads(self.body) if self.body.strip() else {}
            except ValueError:
                raise StubError(400, "Invalid JSON in the request body") from None
            name = meta.get("name") or self.q.get("name")
            if not name:
                raise StubError(400, "Required parameter: name", "required")
            total = self.headers.get("X-Upload-Content-Length")
            preconditions = {k: v for k, v in self.q.items() if k.startswith("if")}
            sess = Session(bucket, name, meta.get("contentType") or self.headers.get("X-Upload-Content-Type"),
                           meta.get("metadata") or {}, preconditions, meta.get("md5Hash"), meta.get("crc32c"),
                           int(total) if total else None)
            upload_id = uuid.uuid4().hex
            with self.state.lock:
                self.state.sessions[upload_id] = sess
            location = f"{self.state.base}/upload/storage/v1/b/{bucket}/o?uploadType=resumable&upload_id={upload_id}"
            return self.respond(200, headers=[("Location", location), ("X-GUploader-UploadID", upload_id)])
        raise StubError(400, f"Invalid uploadType: {kind!r}")

    def parse_multipart(self):
        m = re.search(r'boundary="?([^";]+)"?', self.headers.get("Content-Type", ""))
        if not m or "multipart/related" not in self.headers.get("Content-Type", ""):
            raise StubError(400, "multipart upload needs Content-Type: multipart/related; boundary=...")
        parts = []
        for raw in self.body.split(b"--" + m.group(1).encode())[1:]:
            if raw.startswith(b"--"):
                break
            head, sep, content = raw.removeprefix(b"\r\n").partition(b"\r\n\r\n")
            if not sep:
                raise StubError(400, "Malformed multipart body")
            headers = dict(line.decode("latin-1").split(":", 1) for line in head.split(b"\r\n") if b":" in line)
            headers = {k.strip().lower(): v.strip() for k, v in headers.items()}
            parts.append((headers, content.removesuffix(b"\r\n")))
        if len(parts) != 2:
            raise StubError(400, f"multipart upload needs 2 parts, got {len(parts)}")
        try:
            meta = json.loads(parts[0][1] or b"{}")
        except ValueError:
            raise StubError(400, "Invalid JSON metadata part") from None
        return meta, parts[1][1], parts[1][0].get("content-type")

    def session(self):
        sess = self.state.sessions.get(self.q["upload_id"])
        if sess is None:
            raise StubError(404, "No such upload session", "notFound")
        return sess

    def apply_chunk(self, sess, body):
        """Append a chunk per its Content-Range; returns whether the session can now be finalized."""
        crange = self.headers.get("Content-Range", "").strip()
        if not crange:  # whole-object PUT without Content-Range
            start, total = 0, len(body)
        else:
            m = CONTENT_RANGE.match(crange)
            if not m:
                raise StubError(400, f"Invalid Content-Range: {crange}")
            total = None if m.group(3) == "*" else int(m.group(3))
            start = None
            if m.group(1) is not None:
                start, end = int(m.group(1)), int(m.group(2))
                if end - start + 1 != len(body):
                    raise StubError(400, f"Content-Range {crange} does not match the {len(body)} bytes sent")
        if total is not None:
            if sess.total is not None and sess.total != total:
                raise StubError(400, f"Total size changed from {sess.total} to {total}")
            sess.total = total
        if start is not None:
            persisted = len(sess.data)
            if start > persisted:
                raise StubError(400, f"Chunk starts at {start} but only {persisted} bytes are persisted")
            sess.data.extend(body[persisted - start:])
        if sess.total is not None and len(sess.data) > sess.total:
            raise StubError(400, f"Received {len(sess.data)} bytes, more than the declared {sess.total}")
        return sess.total is not None and len(sess.data) == sess.total

    def persist_partial(self, count):
        """For a faulted chunk PUT: persist the first `count` bytes of the chunk, never finalize."""
        with self.state.lock:
            sess = self.state.sessions.get(self.q["upload_id"])
            crange = CONTENT_RANGE.match(self.headers.get("Content-Range", "").strip())
            if sess is None or sess.result is not None or not crange or crange.group(1) is None:
                return
            start, persisted = int(crange.group(1)), len(sess.data)
            if crange.group(3) != "*":
                sess.total = int(crange.group(3))
            if start <= persisted:  # a later status query finalizes if this completed the upload
                sess.data.extend(self.body[persisted - start:count])

    def resumable_chunk(self):
        if self.command == "DELETE":
            with self.state.lock:
                self.session()
                del self.state.sessions[self.q["upload_id"]]
            return self.respond_error(499, "Upload cancelled by the client", "clientClosedRequest")
        if self.command not in ("PUT", "POST"):
            raise StubError(405, f"Method {self.command} not allowed on an upload session", "methodNotAllowed")
        hdr_md5, hdr_crc = parse_goog_hash(self.headers)
        with self.state.lock:  # an RLock: store() takes it again
            sess = self.session()
            if sess.result is not None:  # already finalized: answer the object again
                return self.respond(200, sess.result)
            ready = self.apply_chunk(sess, self.body)
            if hdr_md5 or hdr_crc:
                sess.md5, sess.crc32c = hdr_md5 or sess.md5, hdr_crc or sess.crc32c
            persisted = len(sess.data)
            if ready:
                try:
                    check_hashes(bytes(sess.data), sess.md5, sess.crc32c)
                    sess.result = self.store(sess.bucket, sess.name, sess.data, sess.content_type,
                                             sess.metadata, sess.preconditions)
                except StubError:
                    del self.state.sessions[self.q["upload_id"]]
                    raise
                sess.data = bytearray()
        if not ready:
            headers = [("Range", f"bytes=0-{persisted - 1}")] if persisted else []
            return self.respond(308, headers=headers)
        self.respond(200, sess.result)

    # ---------------------------------------------------------------- auth endpoints
    def token(self):
        form = dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))
        grant = form.get("grant_type")
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            problem = self.check_jwt(form.get("assertion", ""))
            if problem:
                return self.respond(400, {"error": "invalid_grant", "error_description": problem})
        elif grant == "refresh_token":
            missing = [k for k in ("client_id", "client_secret", "refresh_token") if not form.get(k)]
            if missing:
                return self.respond(400, {"error": "invalid_request",
                                          "error_description": f"Missing {', '.join(missing)}"})
        else:
            return self.respond(400, {"error": "unsupported_grant_type",
                                      "error_description": f"Unsupported grant_type {grant!r}"})
        self.respond(200, self.state.issue_token())

    def check_jwt(self, assertion):
        """Return a problem description, or None when the JWT assertion is acceptable."""
        parts = assertion.split(".")
        if len(parts) != 3:
            return "assertion is not a JWT (expected 3 parts)"
        try:
            header, claims = json.loads(b64url_decode(parts[0])), json.loads(b64url_decode(parts[1]))
            signature = b64url_decode(parts[2])
        except ValueError:
            return "assertion is not valid base64url JSON"
        if not isinstance(header, dict) or header.get("alg") != "RS256":
            return f"unsupported JWT alg {header.get('alg') if isinstance(header, dict) else None!r}"
        if not isinstance(claims, dict):
            return "JWT claims are not an object"
        for claim in ("iss", "scope", "aud"):
            if not isinstance(claims.get(claim), str) or not claims[claim]:
                return f"JWT claim {claim!r} missing"
        audiences = {f"{self.state.base}/token", f"http://{self.headers.get('Host', '')}/token"}
        if self.state.accept_google_aud:
            audiences.add(GOOGLE_TOKEN_URI)
        if claims["aud"] not in audiences:
            return f"JWT aud {claims['aud']!r} is not {self.state.base}/token"
        iat, exp, now = claims.get("iat"), claims.get("exp"), time.time()
        if not isinstance(iat, int) or not isinstance(exp, int):
            return "JWT iat/exp missing or not integers"
        if exp - iat > 3600 or exp <= iat:
            return "Invalid JWT: token lifetime must be at most 3600 seconds"
        if exp <= now:
            return "Invalid JWT: token has expired"
        if iat > now + 300:
            return "Invalid JWT: iat is in the future"
        if self.state.verify_key is not None:
            from cryptography.exceptions import InvalidSignature
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric import padding
            try:
                self.state.verify_key.verify(signature, f"{parts[0]}.{parts[1]}".encode(),
                                             padding.PKCS1v15(), hashes.SHA256())
            except InvalidSignature:
                return "Invalid JWT Signature."
        return None

    def metadata_server(self, path):
        flavor = [("Metadata-Flavor", "Google")]
        if path in ("/", "/computeMetadata/v1/", "/computeMetadata/v1"):
            return self.respond(200, b"computeMetadata/\n", "application/text", flavor)
        if self.headers.get("Metadata-Flavor") != "Google":
            return self.respond(403, b"Missing Metadata-Flavor:Google header.\n", "text/html", flavor)
        account = "/computeMetadata/v1/instance/service-accounts/default"
        if path == f"{account}/token":
            return self.respond(200, self.state.issue_token(), headers=flavor)
        if path == f"{account}/email":
            return self.respond(200, b"stub@rexstore-test.iam.gserviceaccount.com", "application/text", flavor)
        if path == f"{account}/":
            return self.respond(200, {"aliases": ["default"], "email": "stub@rexstore-test.iam.gserviceaccount.com",
                                      "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}, headers=flavor)
        if path == "/computeMetadata/v1/project/project-id":
            return self.respond(200, b"rexstore-test", "application/text", flavor)
        self.respond(404, b"Not Found\n", "text/html", flavor)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):  # stay quiet about clients leaving
            super().handle_error(request, client_address)


def load_public_key(path):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    pem = open(path, "rb").read()
    for loader in (lambda: serialization.load_pem_public_key(pem),
                   lambda: x509.load_pem_x509_certificate(pem).public_key(),
                   lambda: serialization.load_pem_private_key(pem, None).public_key()):
        try:
            return loader()
        except ValueError:
            continue
    sys.exit(f"gcs_stub: cannot read a public key from {path}")


def main():
    ap = argparse.ArgumentParser(description="In-memory fake GCS JSON API + OAuth endpoints")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: pick a free one)")
    ap.add_argument("--bucket", action="append", help="bucket to serve (repeatable; default rex-bucket)")
    ap.add_argument("--require-auth", action="store_true", help="storage requests need a stub-issued token")
    ap.add_argument("--verify-key", help="PEM public key (or certificate) checking JWT signatures")
    ap.add_argument("--token-lifetime", type=int,
                    default=int(os.environ.get("GCS_STUB_TOKEN_LIFETIME", "3600")), help="expires_in of tokens")
    ap.add_argument("--accept-google-aud", action="store_true",
                    help=f"also accept JWT aud {GOOGLE_TOKEN_URI} (what google-auth's service accounts send)")
    args = ap.parse_args()
    key = load_public_key(args.verify_key) if args.verify_key else None
    server = Server(("127.0.0.1", args.port), Handler)
    server.state = State(server.server_address[1], args.bucket or ["rex-bucket"], args.require_auth, key,
                         args.token_lifetime, args.accept_google_aud)

    def stop(*_):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"READY {server.state.port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
