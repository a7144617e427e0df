#!/usr/bin/env python3
"""What a manager feels: the time from a webhook's 200 to its message being visible in the API, classified and
linked to its ticket or task (GET /api/v1/messages shows `kind`, and `record` once linked).

Sends signed Cloud API deliveries (one text message each, the labelled development messages as people write them,
over the 150 groups of a 50-site firm) at a steady RATE from a few sender threads, while a poller reads
GET /api/v1/messages?limit=500 every POLL seconds and notes when each sent message first shows up classified. Each
text carries a unique trailing "(ref xxxxx)" tag of letters so the poller can tell the messages apart.

    visibility.py --url http://127.0.0.1:PORT --token TOKEN --secret SECRET --rate 100 --seconds 60 --out FILE.json

Prints one line:  RESULT sent=.. ok=.. seen=.. p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. unseen=..
Standard library only.
"""
import argparse
import hashlib
import hmac
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))


def corpus():
    path = os.path.join(HERE, "..", "..", "tests", "fixtures", "corpus", "messages.dev.jsonl")
    with open(path, encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


def tag(i, salt):
    letters = "bcdfghjkmnpqrstvwxz"
    n, out = i * 7919 + salt, []
    for _ in range(6):
        out.append(letters[n % len(letters)])
        n //= len(letters)
    return "".join(out)


def delivery(rng, i, salt, texts, senders, groups):
    sender = rng.choice(senders)
    text = f"{rng.choice(texts)} (ref {tag(i, salt)})"
    msg = {"from": sender[0], "id": f"wamid.vis{salt}x{i}", "timestamp": str(int(time.time())), "type": "text",
           "text": {"body": text}, "group_id": rng.choice(groups)}
    payload = {"object": "whatsapp_business_account", "entry": [{"id": "201234567890123", "changes": [{"value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "60380001234", "phone_number_id": "109876543210987"},
        "contacts": [{"profile": {"name": sender[1]}, "wa_id": sender[0]}],
        "messages": [msg]}, "field": "messages"}]}]}
    return tag(i, salt), json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--rate", type=float, default=100.0, help="messages per second, steady")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--threads", type=int, default=4, help="sender threads (each paced to rate/threads)")
    ap.add_argument("--poll", type=float, default=0.02, help="seconds between API polls")
    ap.add_argument("--settle", type=float, default=30.0, help="seconds to keep polling after the last send")
    ap.add_argument("--out", help="write every latency (ms) here as JSON")
    a = ap.parse_args()

    u = urllib.parse.urlparse(a.url)
    host, port = u.hostname, u.port
    rng = random.Random(7)
    salt = int(time.time()) % 100000
    texts = corpus()
    senders = [(f"601{rng.randint(10000000, 99999999)}", f"Worker {k}") for k in range(800)]
    groups = [f"1203634{g:09d}@g.us" for g in range(150)]
    total = int(a.rate * a.seconds)
    bodies = [delivery(rng, i, salt, texts, senders, groups) for i in range(total)]

    acked = {}      # tag -> monotonic time of the 200
    seen = {}       # tag -> monotonic time first seen classified
    statuses = {}
    lock = threading.Lock()
    done_sending = threading.Event()
    stop_polling = threading.Event()

    def sender(k):
        conn = http.client.HTTPConnection(host, port, timeout=30)
        interval = a.threads / a.rate
        start = time.monotonic()
        for j, i in enumerate(range(k, total, a.threads)):
            due = start + j * interval
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            t, body = bodies[i]
            sig = "sha256=" + hmac.new(a.secret.encode(), body, hashlib.sha256).hexdigest()
            try:
                conn.request("POST", "/webhooks/whatsapp", body=body,
                             headers={"Content-Type": "application/json", "X-Hub-Signature-256": sig})
                r = conn.getresponse()
                r.read()
                now = time.monotonic()
                with lock:
                    statuses[r.status] = statuses.get(r.status, 0) + 1
                    if r.status == 200:
                        acked[t] = now
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
                with lock:
                    statuses["error"] = statuses.get("error", 0) + 1

    def poller():
        conn = http.client.HTTPConnection(host, port, timeout=30)
        polls = 0
        while not stop_polling.is_set():
            try:
                conn.request("GET", "/api/v1/messages?limit=500", headers={"Authorization": f"Bearer {a.token}"})
                r = conn.getresponse()
                data = r.read()
                now = time.monotonic()
                polls += 1
                if r.status == 200:
                    for m in json.loads(data).get("items", []):
                        text = m.get("text") or ""
                        if m.get("kind") is None or "(ref " not in text:
                            continue
                        t = text.rsplit("(ref ", 1)[1].rstrip(")")
                        with lock:
                            if t not in seen:
                                seen[t] = now
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
            time.sleep(a.poll)
        print(f"polls={polls}", file=sys.stderr)

    p = threading.Thread(target=poller, daemon=True)
    p.start()
    threads = [threading.Thread(target=sender, args=(k,)) for k in range(a.threads)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    send_secs = time.monotonic() - t0
    done_sending.set()
    deadline = time.monotonic() + a.settle
    while time.monotonic() < deadline:
        with lock:
            if all(t in seen for t in acked):
                break
        time.sleep(0.1)
    stop_polling.set()
    p.join()

    lat = []
    for t, at in acked.items():
        if t in seen:
            lat.append(max(0.0, (seen[t] - at) * 1000.0))
    lat.sort()

    def pct(q):
        if not lat:
            return float("nan")
        return lat[min(len(lat) - 1, int(q * len(lat)))]

    unseen = len(acked) - len(lat)
    print(f"RESULT sent={total} ok={statuses.get(200, 0)} statuses={statuses} send_secs={send_secs:.1f} "
          f"offered_rate={total / send_secs:.1f}/s seen={len(lat)} p50_ms={pct(0.5):.0f} p90_ms={pct(0.9):.0f} "
          f"p99_ms={pct(0.99):.0f} max_ms={(lat[-1] if lat else float('nan')):.0f} unseen={unseen} "
          f"(poll every {a.poll * 1000:.0f} ms: latencies include up to one poll interval plus the list query)")
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"latencies_ms": lat, "statuses": {str(k): v for k, v in statuses.items()}, "unseen": unseen}, f)


if __name__ == "__main__":
    main()
