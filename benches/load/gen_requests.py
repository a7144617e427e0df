#!/usr/bin/env python3
"""Writes N pre-signed WhatsApp Cloud API webhook requests for the ingest load test.

Each body is one compact JSON delivery (escaped like Meta's own: non-ASCII as \\uXXXX) holding one text message
with a unique wamid, signed with HMAC-SHA256(app_secret, body). With --format http (default) the files hold complete
raw HTTP/1.1 requests back to back (POST /webhooks/whatsapp with X-Hub-Signature-256 and Content-Length), which
ingest.lua slices without any per-request formatting; with --format lines each line is  <hex signature> TAB <body>. Bodies are about
--size bytes (default ~1 KB): facility-operations chatter in Malay, English, Chinese, Tamil, Bengali and Nepali,
mostly in groups, some replies (context) to earlier messages. Lines are split round-robin over --shards files
(<out>.0, <out>.1, ...), one per wrk thread, so no two threads ever send the same message.

Standard library only.  Example:
    gen_requests.py --count 900000 --secret bench-secret --out /tmp/tapak-bench/requests --shards 2
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import random
import sys
import time

MALAY = [
    "Tandas lelaki tingkat {n} dah siap cuci ✅",
    "Sabun tangan habis di pantri blok {b}, perlu top-up 🧴",
    "Lif {b}{n} rosak lagi, pintu tak tutup rapat. Sudah report kepada teknisyen.",
    "Paip bocor bawah sinki dapur unit {b}-{n}-0{n}, air bertakung atas lantai ⚠️",
    "Sampah di kawasan loading bay belum kutip sejak pagi, bau busuk.",
    "Lampu koridor tingkat {n} blok {b} tak menyala, 3 batang.",
    "Mop lantai lobi selesai pukul {h}:30 pagi, papan amaran 'lantai basah' sudah letak.",
    "Pengawal syif malam lapor pintu kecemasan tangga B terbuka, sudah kunci semula.",
    "Tolong hantar 2 tong sampah baru untuk blok {b}, yang lama pecah.",
    "Semua, pantri tingkat {n} tutup untuk cuci karpet pukul {h} ptg.",
]
ENGLISH = [
    "Aircon in meeting room {b}{n} leaking water onto the carpet, please send someone.",
    "Done: level {n} corridor vacuumed and bins emptied. Photos to follow.",
    "Visitor parking barrier stuck open again, guard is directing cars manually.",
    "Reminder: fire drill tomorrow {h}:00, all cleaners assemble at the car park.",
    "Ceiling board at lobby {b} sagging, looks like water damage from above. Cordoned off.",
    "Pest control completed for food court, next visit in two weeks.",
    "Toilet flush broken at L{n} ladies, cubicle 2. Out-of-order sign placed.",
    "Generator test run OK, fuel at 70%. Logbook updated.",
    "Who has the key for the store room on level {n}? Need more toilet rolls.",
    "Escalator {b} making grinding noise, switched off for safety until technician checks.",
]
CHINESE = [
    "{b}座{n}楼男厕已经清洁完毕 ✅",
    "停车场B{n}有漏水，地面很滑，请尽快处理。",
    "电梯{b}{n}又坏了，门关不上，已通知维修人员。",
    "垃圾房今天还没有人收，味道很重。",
    "明天上午{h}点消防演习，请所有清洁工到停车场集合。",
    "{n}楼走廊的灯不亮，共三支。",
]
TAMIL = [
    "{b} பிளாக் {n}வது மாடி கழிவறை சுத்தம் செய்யப்பட்டது ✅",
    "லிஃப்ட் {b}{n} மீண்டும் பழுதடைந்துள்ளது, கதவு மூடவில்லை.",
    "குப்பை இன்னும் எடுக்கப்படவில்லை, துர்நாற்றம் வீசுகிறது.",
    "தண்ணீர் குழாய் கசிவு, தரையில் நீர் தேங்கியுள்ளது ⚠️",
]
BENGALI = [
    "{b} ব্লকের {n} তলার টয়লেট পরিষ্কার করা হয়েছে ✅",
    "লিফট {b}{n} আবার নষ্ট, দরজা বন্ধ হচ্ছে না।",
    "ময়লা এখনও নেওয়া হয়নি, খুব গন্ধ।",
]
NEPALI = [
    "{b} ब्लक {n} तल्लाको शौचालय सफा भयो ✅",
    "पार्किङ B{n} मा पानी चुहिएको छ, भुइँ चिप्लो छ।",
    "लिफ्ट {b}{n} फेरि बिग्रियो, ढोका बन्द हुँदैन।",
]
# Plain chatter (acknowledgements, greetings, shift hand-overs) that opens no ticket: --mix chatter.
CHATTER = [
    "Ok noted, terima kasih 👍", "Baik boss", "Good morning all", "Selamat pagi semua ☀️", "On the way",
    "Shift malam sudah masuk, semua ok", "Received with thanks", "好的，收到", "சரி, நன்றி", "ঠিক আছে",
    "ठिक छ", "Noted 🙏", "Will update later", "Semua staf sudah punch in",
]
LANGS = [(MALAY, 35), (ENGLISH, 30), (CHINESE, 12), (TAMIL, 9), (BENGALI, 7), (NEPALI, 7)]
NAMES = ["Aminah Yusof", "Rajesh Kumar", "Tan Mei Ling", "Siti Nurhaliza", "Md Rahim Uddin", "Bishnu Thapa",
         "Lim Wei Jie", "Kavitha Subramaniam", "Ahmad Faiz", "Nurul Izzah", "Ganesh Pillai", "Wong Kar Wai",
         "Rina Tamang", "Hafiz Rahman", "Priya Nair", "Chong Siew Lan"]


def pick_lang(rng):
    r = rng.uniform(0, sum(w for _, w in LANGS))
    for pool, w in LANGS:
        r -= w
        if r <= 0:
            return pool
    return LANGS[0][0]


CORPUS = []  # --mix corpus: the labelled development messages (tests/fixtures/corpus), real lengths and kinds


def load_corpus():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "corpus",
                        "messages.dev.jsonl")
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                CORPUS.append(json.loads(line)["text"])


def sentence(rng, pool):
    if pool is CORPUS:
        return rng.choice(pool)
    return rng.choice(pool).format(b=rng.choice("ABCDE"), n=rng.randint(1, 12), h=rng.randint(7, 11))


def wamid(rng, sender, i):
    raw = b"\x1c\x18\x0b" + sender.encode() + b"\x15\x02\x00\x12\x18\x14" + rng.getrandbits(128).to_bytes(16, "big")
    return "wamid." + base64.b64encode(raw + i.to_bytes(4, "big") + b"\x00").decode()


def esc_len(s):
    return len(json.dumps(s, ensure_ascii=True)) - 2


def build(rng, i, t0, senders, groups, recent, size, mix="ops", per_second=50.0):
    sender = rng.choice(senders)
    msg = {"from": sender[0], "id": wamid(rng, sender[0], i), "timestamp": str(t0 + int(i / per_second)), "type": "text",
           "text": {"body": ""}}
    if rng.random() < 0.9:
        msg["group_id"] = rng.choice(groups)
    if recent and rng.random() < 0.1:
        msg["context"] = {"from": rng.choice(senders)[0], "id": rng.choice(recent)}
    payload = {"object": "whatsapp_business_account", "entry": [{"id": "201234567890123", "changes": [{"value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "60380001234", "phone_number_id": "109876543210987"},
        "contacts": [{"profile": {"name": sender[1]}, "wa_id": sender[0]}],
        "messages": [msg]}, "field": "messages"}]}]}
    length = len(json.dumps(payload, separators=(",", ":"), ensure_ascii=True))
    pool = CHATTER if mix == "chatter" else CORPUS if mix == "corpus" else pick_lang(rng)
    parts = []
    if size <= 0:
        # Realistic: one message as people type them (one sentence, sometimes two), whatever the envelope costs.
        parts.append(sentence(rng, pool))
        if pool is not CORPUS and rng.random() < 0.2:
            parts.append(sentence(rng, pool))
    while size > 0 and length < size and len(parts) < 40:
        s = sentence(rng, pool)
        length += esc_len(s) + (2 if parts else 0)
        parts.append(s)
    text = "\n".join(parts)
    # Trim an overshooting last sentence for a tighter size distribution.
    over = length - int(size * 1.1)
    if size > 0 and over > 0:
        while over > 0 and len(text) > 20:
            over -= esc_len(text[-1])
            text = text[:-1]
    msg["text"]["body"] = text.rstrip()
    return msg["id"], json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, required=True, help="number of requests")
    ap.add_argument("--secret", required=True, help="the app secret (whatsapp.cloud.app_secret)")
    ap.add_argument("--out", required=True, help="output path prefix; writes OUT.0 .. OUT.<shards-1>")
    ap.add_argument("--shards", type=int, default=2, help="files to split over (one per wrk thread)")
    ap.add_argument("--size", type=int, default=1000,
                    help="approximate body size in bytes; 0 = realistic messages (one sentence, 20%% two)")
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument("--format", choices=["http", "lines"], default="http")
    ap.add_argument("--mix", choices=["ops", "chatter", "corpus"], default="ops",
                    help="ops: issue reports and task updates (default); chatter: acknowledgements that open no "
                         "ticket; corpus: the labelled development messages as they are (use with --size 0)")
    ap.add_argument("--host", default="127.0.0.1", help="Host header for --format http")
    ap.add_argument("--layout", choices=["dense", "firm"], default="dense",
                    help="dense: 24 very busy groups (default); firm: 150 groups of a 50-site firm at ~60 messages a "
                         "group a day")
    a = ap.parse_args()
    if a.mix == "corpus":
        load_corpus()
    rng = random.Random(a.seed)
    key = a.secret.encode()
    # dense: 24 groups, 300 senders, 50 messages/s of sent time (every chat very busy: the records engine's per-chat
    # state is as large as it gets). firm: a 50-site firm, 150 groups (3 per site), 800 senders, each group ~60
    # messages a day (what such groups see), so the sent times span weeks.
    n_senders, n_groups, per_second = (300, 24, 50.0) if a.layout == "dense" else (800, 150, 150 * 60 / 86400)
    senders = [(f"601{rng.randint(10000000, 99999999)}", rng.choice(NAMES)) for _ in range(n_senders)]
    groups = [base64.b64encode(f"capi_group:60380001234:1203634{g:09d}".encode()).decode().rstrip("=") + "ZD"
              for g in range(n_groups)]
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    files = [open(f"{a.out}.{s}", "wb") for s in range(a.shards)]
    recent = []
    t0 = int(time.time()) - (86400 if a.layout == "dense" else int(a.count / per_second) + 86400)
    total = 0
    started = time.time()
    for i in range(a.count):
        mid, body = build(rng, i, t0, senders, groups, recent, a.size, a.mix, per_second)
        recent.append(mid)
        if len(recent) > 500:
            recent.pop(0)
        sig = hmac.new(key, body, hashlib.sha256).hexdigest()
        if a.format == "http":
            head = (f"POST /webhooks/whatsapp HTTP/1.1\r\nHost: {a.host}\r\nUser-Agent: facebookexternalua\r\n"
                    f"Content-Type: application/json\r\nX-Hub-Signature-256: sha256={sig}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n")
            files[i % a.shards].write(head.encode() + body)
        else:
            files[i % a.shards].write(sig.encode() + b"\t" + body + b"\n")
        total += len(body)
    for f in files:
        f.close()
    print(f"wrote {a.count} requests ({total / max(a.count, 1):.0f} bytes/body on average) to "
          f"{a.out}.0..{a.shards - 1} in {time.time() - started:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
