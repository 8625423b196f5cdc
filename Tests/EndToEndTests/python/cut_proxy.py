"""A TCP proxy on 127.0.0.1 that breaks one upload mid-body, for resume tests against a real emulator.

usage: cut_proxy.py UPSTREAM_PORT CUT_AFTER_BYTES [any|media]
Forwards every connection to 127.0.0.1:UPSTREAM_PORT. The first request whose head contains
`upload_id` and a `Content-Range: bytes N-` with N > 0 (a resumable chunk after the first; with
`any` or `media`, any PUT that carries bytes, the first included) is cut:
after CUT_AFTER_BYTES bytes of it, both sides are reset. With `media`, the first media upload
(`POST ...uploadType=media`) is cut the same way first (logged `CUT MEDIA`); every media upload is
logged `POST media`. A `Location` header naming the upstream
(gcp-storage-emulator's session URI) is rewritten to name the proxy, so chunks come through it too.
Prints `READY <port>` (and `CUT <range>` on stderr when it cuts); logs on stderr `PUT <range>` for every
session PUT and `ANSWER <status> <Range header or ->` for every answer; exits on SIGTERM.
"""
import signal
import socket
import struct
import sys
import threading

upstream_port, cut_after = int(sys.argv[1]), int(sys.argv[2])
cut_any = len(sys.argv) > 3 and sys.argv[3] in ("any", "media")
cut_media = len(sys.argv) > 3 and sys.argv[3] == "media"
state = {"cut": False, "cut_media": False}
lock = threading.Lock()


def reset(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


def pipe(src, dst, watch):
    budget = None
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if not watch and data.startswith(b"HTTP/1."):
                head = data.split(b"\r\n\r\n")[0].split(b"\r\n")
                got = [line[7:] for line in head if line.lower().startswith(b"range: ")]
                print("ANSWER", head[0].split(b" ")[1].decode(), got[0].decode() if got else "-", file=sys.stderr, flush=True)
            if not watch and b"\r\nLocation: " in data:
                head, sep, body = data.partition(b"\r\n\r\n")
                head = head.replace(b"127.0.0.1:%d" % upstream_port, b"127.0.0.1:%d" % proxy_port)
                data = head + sep + body
            if watch and budget is None:
                # curl writes a request's head in one piece: look for it in this read.
                start = data.find(b"POST /")
                if start >= 0 and b"uploadType=media" in data[start:].split(b"\r\n")[0]:
                    print("POST media", file=sys.stderr, flush=True)
                    with lock:
                        if cut_media and not state["cut_media"]:
                            state["cut_media"] = True
                            budget = cut_after
                            print("CUT MEDIA", file=sys.stderr, flush=True)
                    if budget is not None:
                        dst.sendall(data[:start])
                        data = data[start:]
                start = -1 if budget is not None else data.find(b"PUT /")
                if start >= 0:
                    head = data[start:].split(b"\r\n\r\n")[0]
                    ranges = [line for line in head.split(b"\r\n") if line.lower().startswith(b"content-range: bytes ")]
                    later_chunk = ranges and not ranges[0][21:].startswith((b"0-", b"*"))
                    if cut_any:
                        later_chunk = ranges and not ranges[0][21:].startswith(b"*")
                    if b"upload_id" in head and ranges:
                        print("PUT", ranges[0][15:].decode(), file=sys.stderr, flush=True)
                    if b"upload_id" in head and later_chunk:
                        with lock:
                            if not state["cut"]:
                                state["cut"] = True
                                budget = cut_after
                                print("CUT", ranges[0].decode(), file=sys.stderr, flush=True)
                        if budget is not None:
                            dst.sendall(data[:start])
                            data = data[start:]
            if budget is not None:
                if len(data) >= budget:
                    dst.sendall(data[:budget])
                    # The client sees a reset; the emulator sees the body end early (a reset would
                    # leave gcp-storage-emulator waiting on the half-read request).
                    reset(src)
                    dst.shutdown(socket.SHUT_WR)
                    return
                budget -= len(data)
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(client):
    upstream = socket.create_connection(("127.0.0.1", upstream_port))
    threading.Thread(target=pipe, args=(client, upstream, True), daemon=True).start()
    threading.Thread(target=pipe, args=(upstream, client, False), daemon=True).start()


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(64)
proxy_port = listener.getsockname()[1]
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print(f"READY {listener.getsockname()[1]}", flush=True)
while True:
    conn, _ = listener.accept()
    serve(conn)
