#!/usr/bin/env python3
"""How fast this machine is, so load-test numbers from different machines (or one VM on a busy host) can be compared.

    calibrate.py DIR

Measures, on an otherwise idle machine: one core's SHA-256 throughput (MB/s over 64 MB) and the median time of a
32 KB write + fsync in DIR (200 of them, the commit pattern of the writer). Prints one machine-readable line:
    CALIBRATE sha256_mb_s=.. fsync_ms_median=.. fsync_ms_p90=..
Standard library only.
"""
import hashlib
import os
import statistics
import sys
import time


def sha256_mb_s(total_mb=64):
    block = os.urandom(1 << 20)
    h = hashlib.sha256()
    t0 = time.perf_counter()
    for _ in range(total_mb):
        h.update(block)
    return total_mb / (time.perf_counter() - t0)


def fsync_ms(directory, n=200):
    path = os.path.join(directory, ".calibrate-fsync")
    chunk = os.urandom(32 * 1024)
    times = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            os.write(fd, chunk)
            os.fsync(fd)
            times.append((time.perf_counter() - t0) * 1000)
    finally:
        os.close(fd)
        os.unlink(path)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)]


def main():
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        sys.exit("usage: calibrate.py DIR (an existing directory on the disk the data dir is on)")
    mb_s = sha256_mb_s()
    med, p90 = fsync_ms(sys.argv[1])
    print(f"CALIBRATE sha256_mb_s={mb_s:.0f} fsync_ms_median={med:.2f} fsync_ms_p90={p90:.2f}")


if __name__ == "__main__":
    main()
