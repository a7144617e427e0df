#!/usr/bin/env python3
"""Cold start of `tapak serve`: time from exec to the base-URL line on stdout, and to the first 200 from /healthz.

    coldstart.py --bin target/release/tapak --config FILE --data DIR [--runs 20] [--fresh]

--fresh gives every run a new, empty data directory (creating and migrating the database is part of the start);
without it every run opens DIR as it is (e.g. the database the load test just filled). Each run ends with SIGTERM
and waits for the exit (not timed). Prints one line per run and a summary; the last line is machine-readable:
    COLDSTART runs=N url_ms_median=.. url_ms_min=.. url_ms_max=.. healthz_ms_median=.. healthz_ms_min=.. healthz_ms_max=..
Standard library only.
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.request


def one(binary, config, data):
    t0 = time.perf_counter()
    p = subprocess.Popen([binary, "--config", config, "--data", data, "serve", "--listen", "127.0.0.1:0"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        line = p.stdout.readline().decode().strip()
        t_url = time.perf_counter() - t0
        if not line.startswith("http"):
            raise RuntimeError(f"first stdout line is not a URL: {line!r} (exit {p.poll()})")
        while True:
            try:
                with urllib.request.urlopen(line.rstrip("/") + "/healthz", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.perf_counter() - t0 > 30:
                    raise
                time.sleep(0.001)
        t_health = time.perf_counter() - t0
        return t_url * 1000, t_health * 1000
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--fresh", action="store_true")
    a = ap.parse_args()
    urls, healths = [], []
    for i in range(a.runs):
        data = a.data
        if a.fresh:
            data = tempfile.mkdtemp(prefix="tapak-cold-", dir=a.data)
        try:
            u, h = one(a.bin, a.config, data)
        finally:
            if a.fresh:
                shutil.rmtree(data, ignore_errors=True)
        urls.append(u)
        healths.append(h)
        print(f"run {i + 1}: url {u:.1f} ms, healthz {h:.1f} ms", flush=True)
    print(f"COLDSTART runs={a.runs} url_ms_median={statistics.median(urls):.1f} url_ms_min={min(urls):.1f} "
          f"url_ms_max={max(urls):.1f} healthz_ms_median={statistics.median(healths):.1f} "
          f"healthz_ms_min={min(healths):.1f} healthz_ms_max={max(healths):.1f}")


if __name__ == "__main__":
    main()
