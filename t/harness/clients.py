"""Clients run side by side, for the benchmarks."""
import threading
import time


def run_clients(client, n):
    """client(k) for k in 0 .. n-1, each in a thread of its own, all at
    once: the wall-clock seconds until the last one returned."""
    threads = [threading.Thread(target=client, args=(k,)) for k in range(n)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.monotonic() - t0
