#!/usr/bin/python3
"""Integration test of `leadscore calibrate`: generates history with a known
true conversion model (bench/gen_history.py, fixed seed), calibrates
bench/history_model.yaml on it, and checks that the calibration recovers
the truth:

- the true top 3 drivers (by coefficient times standard deviation) are the
  fitted top 3 (by standardized coefficient), the two rankings of all
  drivers by size agree (Spearman >= SPEARMAN_MIN), and every clear driver
  (|standardized| >= 0.15) gets the right sign;
- the fitted model's held-out AUC is within AUC_MARGIN of the AUC of the
  generator's true probabilities on the same held-out leads.

Then: the threshold and the grid qualification meet their target, the
grid cells and the histogram of totals cover every closed lead, --split
is honoured, the run is
deterministic, --help names every option, and bad outcomes, unknown leads,
bad history lines and usage errors give their exit status and messages.
"""
import json
import os
import tempfile

from clitest import (SRC, check, finish, gen_history)
from clitest import run as cli_run

TIMEOUT = 120

MODEL = os.path.join(SRC, "bench", "history_model.yaml")
SEED = 7
LEADS = 8000
AUC_MARGIN = 0.03
SPEARMAN_MIN = 0.8

def run(args):
    return cli_run(["calibrate"] + args, timeout=TIMEOUT)


def auc(scores, labels):
    """Mann-Whitney AUC, ties counting half."""
    pairs = sorted(zip(scores, labels))
    pos = sum(labels)
    neg = len(labels) - pos
    rank_sum, i = 0.0, 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        avg = (i + 1 + j) / 2
        rank_sum += avg * sum(1 for k in range(i, j) if pairs[k][1])
        i = j
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def spearman(a, b):
    """Rank correlation of two lists without ties."""
    def ranks(v):
        r = [0] * len(v)
        for k, i in enumerate(sorted(range(len(v)), key=lambda i: v[i])):
            r[i] = k
        return r
    ra, rb, n = ranks(a), ranks(b), len(a)
    return 1 - 6 * sum((x - y) ** 2 for x, y in zip(ra, rb)) / (n * (n * n - 1))


def main():
    tmp = tempfile.mkdtemp(prefix="ls-calibrate-")
    hist, outc = gen_history(tmp, LEADS, SEED, TIMEOUT)
    truth = json.load(open(os.path.join(tmp, "truth.json")))
    outcomes = [json.loads(x) for x in open(outc)]
    base = ["--model", MODEL, "--input", hist, "--outcomes", outc]

    rc, out, err = run(base + ["--json"])
    check(rc == 0, "calibrate --json exits 0 (%d: %s)" % (rc, err))
    rep = json.loads(out)

    # the counts
    check(rep["base"]["leads"] == truth["closed"],
          "leads with an outcome: %s == %s" % (rep["base"]["leads"], truth["closed"]))
    check(rep["base"]["won"] == truth["won"], "won: %s == %s" % (rep["base"]["won"], truth["won"]))
    check(rep["leads"] == LEADS, "leads in the history: %s" % rep["leads"])
    check(rep["open"] == LEADS - truth["closed"], "open leads: %s" % rep["open"])
    check(rep["window_days"] == 90, "window: the last decay step, 90 days")
    lo, hi = rep["base"]["ci_low"], rep["base"]["ci_high"]
    check(lo < rep["base"]["rate"] < hi, "the base rate lies in its interval")

    # the top drivers
    feats = rep["logistic"]["features"]
    fitted = sorted((f for f in feats if not f["constant"]), key=lambda f: -abs(f["std_coef"]))
    fitted_top = [f["feature"] for f in fitted[:3]]
    true_top = truth["ranked"][:3]
    print("true top 3:   %s" % ", ".join("%s %.3f" % (k, truth["standardized"][k])
                                         for k in true_top))
    print("fitted top 3: %s" % ", ".join("%s %.3f" % (f["feature"], f["std_coef"])
                                         for f in fitted[:3]))
    check(set(fitted_top) == set(true_top),
          "fitted top 3 %s == true top 3 %s" % (fitted_top, true_top))
    by_name = {f["feature"]: f for f in feats}
    names = sorted(truth["standardized"])
    rho = spearman([abs(truth["standardized"][k]) for k in names],
                   [abs(by_name[k]["std_coef"]) for k in names])
    print("rank correlation of the drivers' sizes: %.3f" % rho)
    check(rho >= SPEARMAN_MIN, "drivers ranked alike: Spearman %.3f >= %.2f" % (rho, SPEARMAN_MIN))
    for k, v in truth["standardized"].items():
        if abs(v) >= 0.15:
            check(by_name[k]["std_coef"] * v > 0,
                  "%s: fitted %.3f has the sign of the true %.3f" % (k, by_name[k]["std_coef"], v))

    # the held-out AUC against the true model's on the same leads
    split = rep["split_time"]
    held = [o for o in outcomes if o["time"] >= split]
    check(len(held) == rep["evaluation"]["leads"],
          "held-out leads: %d == %d" % (len(held), rep["evaluation"]["leads"]))
    true_auc = auc([truth["p_true"][o["lead_id"]] for o in held], [1 if o["won"] else 0 for o in held])
    fit_auc = rep["evaluation"]["auc"]
    print("held-out AUC: fitted %.4f, true model %.4f, model total %.4f"
          % (fit_auc, true_auc, rep["evaluation"]["auc_points"]))
    check(abs(fit_auc - true_auc) <= AUC_MARGIN,
          "held-out AUC %.4f within %.2f of the true model's %.4f" % (fit_auc, AUC_MARGIN, true_auc))
    dec = rep["deciles"]
    check(len(dec) == 10 and sum(d["leads"] for d in dec) == len(held), "10 deciles cover the held-out leads")
    check(dec[0]["lift"] > 2 and dec[-1]["lift"] < 0.5, "lift falls from the top decile to the bottom")
    check(abs(dec[-1]["capture"] - 1) < 1e-9, "the deciles capture every win")
    # calibration: the predicted rate of each decile near the observed one
    for d in dec:
        check(abs(d["predicted"] - d["observed"]) < 0.15,
              "decile %d: predicted %.3f near observed %.3f" % (d["decile"], d["predicted"], d["observed"]))

    # rules: close rates and suggestions
    rules = {r["rule"]: r for r in rep["rules"]}
    check(rules["demo_request"]["suggested_points"] == 30,
          "the strongest engagement rule gets the largest points (30)")
    check(rules["title_student"]["suggested_points"] < 0, "students get negative points")
    for r in rep["rules"]:
        w = r["with"]
        check(w["ci_low"] <= w["rate"] <= w["ci_high"], "%s: rate within its interval" % r["rule"])
    check(any(v["attribute"] == "seniority" and v["value"] == "director" for v in rep["values"]),
          "close rate per seniority value")

    # threshold: best F1 by default; a precision target is met on training
    check(rep["threshold"]["target"] == "f1", "default target: best F1")
    rc, out, err = run(base + ["--json", "--target-precision", "0.7"])
    t = json.loads(out)["threshold"]
    check(rc == 0 and t["target"] == "precision" and t["train"]["precision"] >= 0.7,
          "--target-precision 0.7 is met on training: %s" % t)
    g = json.loads(out)["grid"]
    check(g["target"] == "precision" and g["train"]["precision"] >= 0.7,
          "--target-precision 0.7 is met on training by the grid: %s" % g)
    rc, out, err = run(base + ["--json", "--target-recall", "0.9"])
    t = json.loads(out)["threshold"]
    check(rc == 0 and t["train"]["recall"] >= 0.9, "--target-recall 0.9 is met: %s" % t)
    g = json.loads(out)["grid"]
    check(g["train"]["recall"] >= 0.9, "--target-recall 0.9 is met by the grid: %s" % g)

    # grid cells: 4 grades x 4 bands of history_model.yaml, every closed
    # lead in one; the grid qualification flags its cells' leads
    cells = rep["cells"]
    check([c["cell"] for c in cells] == [g + str(b) for g in "ABCD" for b in range(1, 5)],
          "cells A1..D4 in order: %s" % [c["cell"] for c in cells])
    check(sum(c["close"]["leads"] for c in cells) == rep["base"]["leads"]
          and sum(c["close"]["won"] for c in cells) == rep["base"]["won"],
          "the cells cover every closed lead")
    g = rep["grid"]
    check(g["min_grade"] in "ABCD" and g["min_band"] in ("cold", "warm", "hot", "on_fire"),
          "the grid qualification names a grade and a band: %s" % g)
    flagged = [c for c in cells if c["cell"] in g["cells"]]
    check(len(flagged) == (g["grade_index"] + 1) * (4 - g["band_index"]),
          "the qualification flags a rectangle of cells: %s" % g["cells"])
    check(g["train"]["flagged"] + g["test"]["flagged"] == sum(c["close"]["leads"] for c in flagged),
          "training and held-out flagged leads are the leads of its cells")
    check(g["yaml"] == "mql:\n  enter: {min_grade: %s, min_band: %s}\n" % (g["min_grade"], g["min_band"]),
          "the grid qualification as YAML: %r" % g["yaml"])
    histo = rep["score_histogram"]
    check(sum(b["won"] + b["lost"] for b in histo["bins"]) == rep["base"]["leads"]
          and sum(b["won"] for b in histo["bins"]) == rep["base"]["won"],
          "the histogram of totals covers every closed lead")

    # --split; determinism
    rc, out, err = run(base + ["--json", "--split", "2026-07-01T00:00:00Z"])
    r2 = json.loads(out)
    check(r2["split"] == "2026-07-01T00:00:00Z", "--split is used: %s" % r2["split"])
    check(r2["train"]["leads"] == sum(1 for o in outcomes if o["time"] < r2["split_time"]),
          "--split: training leads are those closed before it")
    rc, again, err = run(base + ["--json"])
    check(again == json.dumps(rep, indent=1) + "\n" or json.loads(again) == rep,
          "a second run gives the same report")

    # the text report
    rc, out, err = run(base)
    check(rc == 0, "text report exits 0")
    for s in ("lead-to-customer rate", "close rate per rule", "close rate per attribute value",
              "MQL threshold", "close rate per grid cell", "MQL on the grid",
              "enter: {min_grade: %s, min_band: %s}" % (g["min_grade"], g["min_band"]),
              "logistic regression", "held-out evaluation", "decile"):
        check(s in out, "text report has '%s'" % s)
    print("\n".join(out.splitlines()[:12]))

    # --help names every option
    rc, out, err = run(["--help"])
    check(rc == 0, "--help exits 0")
    for opt in ("--model", "--model-id", "--input", "--outcomes", "--split", "--window",
                "--target-precision", "--target-recall", "--c", "--min-leads", "--json"):
        check(opt in out, "--help names %s" % opt)

    # errors name the file, the line and the field
    bad = os.path.join(tmp, "bad_outcomes.jsonl")
    with open(bad, "w") as f:
        f.write(open(outc).readline())
        f.write('{"lead_id":"lead-00001","time":1767225600000,"won":"yes"}\n')
    rc, out, err = run(["--model", MODEL, "--input", hist, "--outcomes", bad])
    check(rc == 2 and out == "", "a bad outcome: exit 2, no report (%d)" % rc)
    check("%s:2: won: expected true or false, got \"yes\"" % bad in err, "bad won named: %s" % err)

    ghost = os.path.join(tmp, "ghost_outcomes.jsonl")
    with open(ghost, "w") as f:
        f.write(open(outc).readline())
        f.write('{"lead_id":"nobody","time":"2026-03-01T00:00:00Z","won":true}\n')
    rc, out, err = run(["--model", MODEL, "--input", hist, "--outcomes", ghost])
    check(rc == 2 and "%s:2: lead_id: 'nobody' appears nowhere in the history" % ghost in err,
          "an unknown lead is named (%d: %s)" % (rc, err))

    badhist = os.path.join(tmp, "bad_history.jsonl")
    with open(hist) as src, open(badhist, "w") as f:
        for i, line in enumerate(src):
            f.write(line)
            if i == 2:
                f.write('{"kind":"event","lead_id":"x","event_type":"page_view"}\n')
    rc, out, err = run(["--model", MODEL, "--input", badhist, "--outcomes", outc, "--json"])
    check(rc == 2 and json.loads(out)["base"]["leads"] == truth["closed"],
          "a bad history line: exit 2, the report still printed")
    check("%s:4: " % badhist in err, "the bad history line is named: %s" % err)

    for args, what in ((base + ["--target-precision", "0.5", "--target-recall", "0.5"], "both targets"),
                       (base + ["--target-precision", "2"], "precision > 1"),
                       (["--model", MODEL], "missing --input"),
                       (base + ["--window", "soon"], "bad window")):
        rc, out, err = run(args)
        check(rc == 64, "usage error for %s (%d)" % (what, rc))

    finish()


if __name__ == "__main__":
    main()
