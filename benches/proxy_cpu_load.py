"""Closed-loop load for benches/proxy_cpu.sh: N non-streamed chat completions, every prompt distinct
(so no cache answers), over C keep-alive connections (one thread each), loopback only.

    python3 benches/proxy_cpu_load.py PORT N [C=1] [FIRST=0]

Prints "N ok" (or fails with the first bad status). The count of requests, not the time, is what
matters here: the proxy runs under callgrind, which counts its instructions whatever the pace.
"""

import http.client
import json
import sys
import threading


def run(port: int, first: int, count: int, errors: list) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Content-Type": "application/json", "Authorization": "Bearer sk-bench"}
    for i in range(first, first + count):
        body = json.dumps(
            {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"prompt {i}"}]}
        )
        conn.request("POST", "/v1/chat/completions", body, headers)
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            errors.append(f"request {i}: {resp.status} {data[:200]!r}")
            return
    conn.close()


def main() -> None:
    port, n = int(sys.argv[1]), int(sys.argv[2])
    conns = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    errors: list = []
    per = n // conns
    threads = [
        threading.Thread(target=run, args=(port, first + k * per, per, errors)) for k in range(conns)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sys.exit(errors[0])
    print(f"{per * conns} ok")


if __name__ == "__main__":
    main()
