#!/usr/bin/env python3
"""Generates a realistic, reproducible lead input stream as JSON lines.

Many leads with a skewed (Zipf-like) activity distribution, every event kind
of examples/model.yaml, profile updates for ~1 in 20 inputs, event times that
advance over the period with small out-of-order jitter (within the default 1 h
lateness), some duplicate deliveries and some bot clicks.

    bench/gen_events.py --events 1000000 --leads 100000 --seed 1 > events.jsonl
"""
import argparse
import json
import random
import sys

PAGES = [
    ("https://www.example.com/pricing", 12), ("https://www.example.com/demo", 4),
    ("https://www.example.com/docs/install", 10), ("https://www.example.com/blog/tips", 25),
    ("https://www.example.com/careers", 3), ("https://www.example.com/about", 15),
    ("https://www.example.com/phones/desk-pricing", 5),
    ("https://shop.example.com/configure?model=x2", 3),
]
EVENTS = [
    ("page_view", 45), ("email_open", 20), ("email_click", 8), ("email_unsubscribe", 1),
    ("form_submit", 4), ("download", 3), ("webinar_register", 2), ("webinar_attend", 1),
    ("demo_request", 1), ("demo_cancelled", 0.3), ("trial_started", 0.5), ("signed_up", 0.5),
]
INDUSTRIES = ["software", "saas", "finance", "retail", "manufacturing", "education", "internet"]
TITLES = ["VP Engineering", "Head of IT", "IT Manager", "Student", "Procurement Lead",
          "Director of Sales", "Developer", "Retired", "Office Manager", "CTO"]
DOMAINS = ["acme.io", "gmail.com", "initech.com", "mailinator.com", "globex.com", "yahoo.com"]


def weighted(rng, items):
    total = sum(w for _, w in items)
    x = rng.random() * total
    for v, w in items:
        x -= w
        if x <= 0:
            return v
    return items[-1][0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1000000, help="inputs to write")
    ap.add_argument("--leads", type=int, default=100000, help="distinct leads")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", type=int, default=1767225600000, help="first time, ms")
    ap.add_argument("--days", type=int, default=120, help="period covered")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    out = sys.stdout
    step = args.days * 86400000 // max(1, args.events)
    t = args.start
    last = None
    write = out.write
    for i in range(args.events):
        t += step
        # Zipf-like: a few leads are very active
        lead = "lead-%d" % int(args.leads * (rng.random() ** 3))
        jitter = -int(rng.random() * 1800000) if rng.random() < 0.05 else 0
        when = t + jitter
        product = rng.choice(("office", "office", "suite", "phone", None))
        if rng.random() < 0.05:
            rec = {"kind": "profile", "lead_id": lead, "updated_at": when,
                   "attributes": {
                       "industry": rng.choice(INDUSTRIES),
                       "employees": str(rng.choice([5, 40, 120, 800, 5000])),
                       "title": rng.choice(TITLES),
                       "email": "x@" + rng.choice(DOMAINS),
                       "country": rng.choice(["us", "de", "br", "gb", "in"])}}
        elif last is not None and rng.random() < 0.01:
            rec = last  # a duplicate delivery
        else:
            etype = weighted(rng, EVENTS)
            props = {}
            if etype == "page_view":
                props["url"] = weighted(rng, PAGES)
            elif etype == "email_click":
                props["seconds_since_delivery"] = str(rng.choice([1, 30, 600, 86400]))
            elif etype == "form_submit":
                props["form_id"] = rng.choice(["contact", "newsletter", "quote"])
            elif etype == "download":
                props["asset_type"] = rng.choice(["whitepaper", "ebook"])
            if rng.random() < 0.01:
                props["user_agent"] = "ScannerBot/2.1"
            rec = {"kind": "event", "lead_id": lead, "event_id": "e%d" % i,
                   "event_type": etype, "occurred_at": when, "properties": props}
            if product:
                rec["product"] = product
            last = rec
        write(json.dumps(rec, separators=(",", ":")))
        write("\n")


if __name__ == "__main__":
    main()
