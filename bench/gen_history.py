#!/usr/bin/env python3
"""Generates seeded lead history with a known ground truth, for `leadscore calibrate`.

Writes three files into --out (a directory):

  history.jsonl   events and profiles, one JSON object per line, in event-time
                  order (the input format of `leadscore score`, docs/SCHEMAS.md)
  outcomes.jsonl  one line per closed lead: {"lead_id", "time", "won"}
                  (docs/CALIBRATE.md, "Outcomes"); a few leads stay open
  truth.json      the true conversion model: intercept, coefficients per
                  feature, each coefficient times its feature's standard
                  deviation, the drivers ranked by that, and every closed
                  lead's true probability

Each lead has a profile (industry, employees, country, title, seniority,
e-mail) and a life of 7 to 60 days of actions (page views of pricing, docs,
blog and careers pages, e-mail opens, clicks and unsubscribes, form submits,
webinar registrations and attendance, demo requests), more of them for a
lead with a higher activity level (which good-fit leads tend to have, as in
real life). Its outcome comes 1 to 20 days after its last action, won with
probability sigmoid(intercept + sum(coefficient * feature)), over the
features that calibrate reads from bench/history_model.yaml:

  fit:<rule>    1 when the profile matches the fit rule, else 0
  rule:<rule>   log(1 + number of the lead's actions that fire the rule)
  freshness_days  90 less the days from the last action to the outcome (0
                without any, or when it was 90 days or more before)

    bench/gen_history.py --leads 8000 --seed 7 --out /tmp/hist
    leadscore calibrate --model bench/history_model.yaml \\
        --input /tmp/hist/history.jsonl --outcomes /tmp/hist/outcomes.jsonl
"""
import argparse
import json
import math
import os
import random
import re

DAY = 86400000
WINDOW_DAYS = 90  # calibrate's default window for history_model.yaml

INDUSTRIES = [("software", 20), ("saas", 10), ("finance", 12), ("retail", 14),
              ("manufacturing", 16), ("education", 10), ("healthcare", 10),
              ("government", 8)]
COUNTRIES = [("us", 30), ("gb", 10), ("de", 10), ("fr", 6), ("nl", 4),
             ("br", 10), ("in", 15), ("jp", 7), ("es", 8)]
# (title, seniority, weight)
TITLES = [("CEO", "c-level", 3), ("CTO", "c-level", 3), ("CIO", "c-level", 2),
          ("VP Engineering", "vp", 4), ("VP Sales", "vp", 3),
          ("Director of IT", "director", 6), ("Director of Marketing", "director", 4),
          ("Head of Operations", "director", 4), ("IT Manager", "manager", 10),
          ("Marketing Manager", "manager", 8), ("Office Manager", "manager", 5),
          ("Developer", "individual", 14), ("Analyst", "individual", 10),
          ("Consultant", "individual", 8), ("Student", "student", 6),
          ("Intern", "student", 3), ("Retired", "none", 2)]
COMPANY_DOMAINS = ["acme.io", "initech.com", "globex.com", "umbrella.co",
                   "hooli.com", "stark.io", "wayne.com", "tyrell.net"]
FREEMAIL = ["gmail.com", "yahoo.com", "hotmail.com"]

# Actions: (rule id, event type, properties maker, base rate per lead life)
ACTIONS = [
    ("pricing_page", "page_view", lambda r: {"url": "https://www.example.com/pricing" +
                                              r.choice(["", "/enterprise", "/teams"])}, 0.9),
    ("docs_page", "page_view", lambda r: {"url": "https://www.example.com/docs/" +
                                           r.choice(["install", "api", "faq"])}, 1.4),
    ("blog_page", "page_view", lambda r: {"url": "https://www.example.com/blog/" +
                                           r.choice(["tips", "news", "guide"])}, 2.0),
    ("careers_page", "page_view", lambda r: {"url": "https://www.example.com/careers"}, 0.25),
    ("email_open", "email_open", lambda r: {"campaign": r.choice(["spring", "summer"])}, 3.0),
    ("email_click", "email_click", lambda r: {"campaign": r.choice(["spring", "summer"])}, 0.8),
    ("email_unsubscribe", "email_unsubscribe", lambda r: {}, 0.08),
    ("form_submit", "form_submit", lambda r: {"form_id": r.choice(["contact", "newsletter"])}, 0.5),
    ("webinar_register", "webinar_register", lambda r: {"webinar": "w1"}, 0.3),
    ("webinar_attend", "webinar_attend", lambda r: {"webinar": "w1"}, 0.18),
    ("demo_request", "demo_request", lambda r: {}, 0.14),
]

# The true model. Rule features enter as log(1 + count).
INTERCEPT = -8.9  # -3.5 - 0.06 x 90: a lead without actions is as likely as before
COEF = {
    "fit:industry_software": 0.45,
    "fit:industry_finance": 0.2,
    "fit:size_mid": 0.55,
    "fit:size_large": 0.3,
    "fit:country_core": 0.15,
    "fit:seniority_exec": 1.0,
    "fit:title_student": -1.0,
    "fit:email_freemail": -0.35,
    "rule:pricing_page": 1.5,
    "rule:docs_page": 0.3,
    "rule:blog_page": 0.0,
    "rule:careers_page": -0.6,
    "rule:email_open": 0.1,
    "rule:email_click": 0.3,
    "rule:email_unsubscribe": -0.9,
    "rule:form_submit": 0.35,
    "rule:webinar_register": 0.25,
    "rule:webinar_attend": 0.45,
    "rule:demo_request": 2.8,
    "freshness_days": 0.06,
}


def weighted(rng, items):
    total = sum(w for *_, w in items)
    x = rng.random() * total
    for item in items:
        x -= item[-1]
        if x <= 0:
            return item
    return items[-1]


def poisson(rng, lam):
    # Knuth; rates here are small
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def fit_features(profile):
    """The fit rules of bench/history_model.yaml, evaluated in Python."""
    emp = int(profile["employees"])
    return {
        "fit:industry_software": profile["industry"] in ("software", "saas"),
        "fit:industry_finance": profile["industry"] == "finance",
        "fit:size_mid": 50 <= emp <= 1000,
        "fit:size_large": emp >= 1001,
        "fit:country_core": profile["country"] in ("us", "gb", "de", "fr", "nl"),
        "fit:seniority_exec": profile["seniority"] in ("c-level", "vp", "director"),
        "fit:title_student": re.search("student|intern", profile["title"], re.I) is not None,
        "fit:email_freemail": re.search(r"@(gmail|yahoo|hotmail)\.com$",
                                        profile["email"], re.I) is not None,
    }


def make_profile(rng, i):
    title, seniority, _ = weighted(rng, TITLES)
    free = rng.random() < (0.45 if seniority in ("student", "none") else 0.2)
    domain = rng.choice(FREEMAIL) if free else rng.choice(COMPANY_DOMAINS)
    employees = max(1, min(200000, int(math.exp(rng.gauss(4.2, 1.7)))))
    return {"industry": weighted(rng, INDUSTRIES)[0], "employees": str(employees),
            "country": weighted(rng, COUNTRIES)[0], "title": title,
            "seniority": seniority, "email": "lead%d@%s" % (i, domain)}


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--leads", type=int, default=8000, help="leads to generate")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", type=int, default=1767225600000,
                    help="first lead's creation time, ms (default 2026-01-01)")
    ap.add_argument("--days", type=int, default=240, help="period over which leads arrive")
    ap.add_argument("--open", type=float, default=0.05,
                    help="share of leads still open (no outcome line)")
    ap.add_argument("--out", default=".", help="directory for the three files")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    records = []   # (time, order, json line)
    outcomes = []  # (time, lead, won)
    feats = {}     # closed lead -> feature dict
    probs = {}
    seq = 0
    for i in range(args.leads):
        lead = "lead-%05d" % i
        t0 = args.start + int(rng.random() * args.days * DAY)
        profile = make_profile(rng, i)
        fit = fit_features(profile)
        records.append((t0, seq, {"kind": "profile", "lead_id": lead, "updated_at": t0,
                                  "attributes": profile}))
        seq += 1
        # good fit engages more; the activity level varies a lot per lead
        level = rng.gammavariate(1.5, 1.0 / 1.5)
        level *= 1.5 if fit["fit:seniority_exec"] else 1.0
        level *= 1.3 if fit["fit:industry_software"] else 1.0
        level *= 0.6 if fit["fit:title_student"] else 1.0
        life = (7 + rng.random() * 53) * DAY
        counts = {}
        last = None
        for rule, etype, props, rate in ACTIONS:
            n = poisson(rng, rate * level)
            counts[rule] = n
            for _ in range(n):
                t = t0 + 60000 + int(rng.random() * life)
                records.append((t, seq, {"kind": "event", "lead_id": lead,
                                         "event_id": "e%d" % seq, "event_type": etype,
                                         "occurred_at": t, "properties": props(rng)}))
                seq += 1
                last = t if last is None or t > last else last
        gap_days = 1 + rng.random() * 19
        close = (last if last is not None else t0) + int(gap_days * DAY)
        x = {k: (1.0 if v else 0.0) for k, v in fit.items()}
        for rule, *_ in ACTIONS:
            x["rule:" + rule] = math.log1p(counts[rule])
        x["freshness_days"] = WINDOW_DAYS - (min((close - last) / DAY, WINDOW_DAYS) if last else WINDOW_DAYS)
        p = sigmoid(INTERCEPT + sum(COEF[k] * v for k, v in x.items()))
        won = rng.random() < p
        if rng.random() < args.open:
            continue  # still open: no outcome yet
        outcomes.append((close, lead, won))
        feats[lead] = x
        probs[lead] = p

    records.sort(key=lambda r: (r[0], r[1]))
    with open(os.path.join(args.out, "history.jsonl"), "w") as f:
        for _, _, rec in records:
            f.write(json.dumps(rec, separators=(",", ":")) + "\n")
    outcomes.sort()
    with open(os.path.join(args.out, "outcomes.jsonl"), "w") as f:
        for close, lead, won in outcomes:
            f.write(json.dumps({"lead_id": lead, "time": close, "won": won},
                               separators=(",", ":")) + "\n")

    # standardized effect: coefficient times the feature's standard deviation
    n = len(feats)
    std = {}
    for k in COEF:
        vals = [x[k] for x in feats.values()]
        mean = sum(vals) / n
        sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / max(1, n - 1))
        std[k] = COEF[k] * sd
    ranked = sorted(COEF, key=lambda k: -abs(std[k]))
    truth = {
        "seed": args.seed, "leads": args.leads, "closed": n,
        "won": sum(1 for _, _, w in outcomes if w),
        "window_days": WINDOW_DAYS,
        "features": "fit:<rule> 0/1, rule:<rule> log(1 + count), freshness_days",
        "intercept": INTERCEPT, "coefficients": COEF, "standardized": std,
        "ranked": ranked, "p_true": probs,
    }
    with open(os.path.join(args.out, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
