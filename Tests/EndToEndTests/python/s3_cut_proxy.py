"""A TCP proxy on 127.0.0.1 that breaks one download mid-body, for the S3 resume test.

usage: s3_cut_proxy.py UPSTREAM_PORT CUT_AFTER_BYTES
Forwards every connection to 127.0.0.1:UPSTREAM_PORT. The answer to the first `GET` of an object
(a request without `Range`) is cut after its head and CUT_AFTER_BYTES bytes of its body: both sides
are reset. Later requests (the resumed `Range` request) pass untouched. Prints `READY <port>` on
stdout, and `CUT` and each later request line on stderr; exits on SIGTERM.
"""
import signal
import socket
import struct
import sys
import threading

upstream_port, cut_after = int(sys.argv[1]), int(sys.argv[2])
state = {"cut": False}
lock = threading.Lock()


def reset(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # shutdown wakes the other thread blocked reading this socket; close alone would not.
        sock.shutdown(socket.SHUT_RDWR)
        sock.close()
    except OSError:
        pass


def handle(client):
    upstream = socket.create_connection(("127.0.0.1", upstream_port))
    head = b""
    while b"\r\n\r\n" not in head:
        data = client.recv(65536)
        if not data:
            break
        head += data
    request = head.split(b"\r\n\r\n")[0]
    line = request.split(b"\r\n")[0]
    cut = False
    if line.startswith(b"GET /") and b"?" not in line.split(b" ")[1] and b"\r\nrange:" not in request.lower():
        with lock:
            if not state["cut"]:
                state["cut"] = cut = True
    print("CUT" if cut else line.decode(errors="replace"), file=sys.stderr, flush=True)
    upstream.sendall(head)
    threading.Thread(target=forward, args=(client, upstream), daemon=True).start()
    budget = None
    seen = b""
    try:
        while True:
            data = upstream.recv(65536)
            if not data:
                break
            if cut and budget is None:
                seen += data
                end = seen.find(b"\r\n\r\n")
                if end < 0:
                    continue
                budget = cut_after
                data = seen
                budget += end + 4
            if cut:
                if len(data) >= budget:
                    client.sendall(data[:budget])
                    reset(client)
                    reset(upstream)
                    return
                budget -= len(data)
            client.sendall(data)
    except OSError:
        pass
    finally:
        for s in (client, upstream):
            try:
                s.close()
            except OSError:
                pass


def forward(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass


signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(64)
print("READY", listener.getsockname()[1], flush=True)
while True:
    connection, _ = listener.accept()
    threading.Thread(target=handle, args=(connection,), daemon=True).start()
