#!/usr/bin/env python3
"""UDP relay that gives the testbed's radio profile its one-way delay.

Runs in the testbed's hub namespace. Each node N advertises a relay address
(10.77.1.N:PORT) instead of its own (10.77.0.N:PORT). A datagram from node S
to relay address N is forwarded to node N from a per-flow socket bound to
10.77.1.S, so node N sees each peer at its own relay address and its replies
come back through the same flow. Every datagram, in both directions, is held
for DELAY +/- JITTER milliseconds before it is forwarded; an optional loss
percentage drops datagrams at random.

tacnode only speaks UDP (QUIC), so this is the whole path between nodes.
"""

import argparse
import heapq
import ipaddress
import random
import selectors
import socket
import sys
import time

MAX_DATAGRAM = 65535
FLOW_IDLE_SECS = 600


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, required=True)
    ap.add_argument("--port", type=int, default=4500)
    ap.add_argument("--host-net", default="10.77.0.")
    ap.add_argument("--relay-net", default="10.77.1.")
    ap.add_argument("--delay-ms", type=float, default=150.0)
    ap.add_argument("--jitter-ms", type=float, default=30.0)
    ap.add_argument("--loss", type=float, default=0.0, help="percent")
    args = ap.parse_args()

    sel = selectors.DefaultSelector()
    queue = []  # (release_time, seq, sock, payload, dest)
    seq = 0
    # relay listening socket per node: index -> socket
    listeners = {}
    # (src_addr, node index) -> flow socket
    flows = {}
    flow_info = {}  # flow socket -> (listener, src_addr, last_used)

    for n in range(1, args.hosts + 1):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind((f"{args.relay_net}{n}", args.port))
        s.setblocking(False)
        listeners[n] = s
        sel.register(s, selectors.EVENT_READ, ("listen", n))

    def relay_ip_of(src_ip):
        # 10.77.0.S -> 10.77.1.S; anything else (should not happen) keeps its own net.
        if src_ip.startswith(args.host_net):
            return args.relay_net + src_ip[len(args.host_net):]
        return None

    def schedule(sock, payload, dest):
        nonlocal seq
        if args.loss > 0 and random.random() * 100.0 < args.loss:
            return
        jitter = random.uniform(-args.jitter_ms, args.jitter_ms)
        release = time.monotonic() + max(0.0, args.delay_ms + jitter) / 1000.0
        seq += 1
        heapq.heappush(queue, (release, seq, sock, payload, dest))

    print(f"udp-relay: {args.hosts} hosts, delay {args.delay_ms}±{args.jitter_ms} ms, "
          f"loss {args.loss}%", file=sys.stderr, flush=True)
    last_sweep = time.monotonic()
    while True:
        now = time.monotonic()
        timeout = None
        if queue:
            timeout = max(0.0, queue[0][0] - now)
        timeout = 1.0 if timeout is None else min(timeout, 1.0)
        for key, _ in sel.select(timeout):
            kind, ref = key.data
            sock = key.fileobj
            while True:
                try:
                    payload, src = sock.recvfrom(MAX_DATAGRAM)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                if kind == "listen":
                    n = ref
                    fk = (src, n)
                    fs = flows.get(fk)
                    if fs is None:
                        bind_ip = relay_ip_of(src[0])
                        if bind_ip is None:
                            continue
                        fs = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                        fs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
                        fs.bind((bind_ip, 0))
                        fs.setblocking(False)
                        flows[fk] = fs
                        sel.register(fs, selectors.EVENT_READ, ("flow", fk))
                    flow_info[fs] = (sock, src, time.monotonic())
                    schedule(fs, payload, (f"{args.host_net}{n}", args.port))
                else:
                    listener, client, _ = flow_info[sock]
                    flow_info[sock] = (listener, client, time.monotonic())
                    schedule(listener, payload, client)
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, sock, payload, dest = heapq.heappop(queue)
            try:
                sock.sendto(payload, dest)
            except OSError:
                pass  # unreachable, buffer full: the datagram is lost, as on a radio
        if now - last_sweep > 30:
            last_sweep = now
            for fk, fs in list(flows.items()):
                if now - flow_info[fs][2] > FLOW_IDLE_SECS:
                    sel.unregister(fs)
                    fs.close()
                    del flow_info[fs]
                    del flows[fk]


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
