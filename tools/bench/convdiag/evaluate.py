#!/usr/bin/env python3
"""Measures convdiag against the labelled corpus: runs `convdiag --json` on every log of the chosen
half and prints, per symptom, precision and recall, the false alarms on healthy runs, the onset
error, and every miss and false alarm with its run id; with both halves of the public logs, their
totals too (the figures quoted for all of them). Standard library only.

    evaluate.py --convdiag build/tools/convdiag/convdiag [--half heldout|calibration|both]
                [--origin generated|public|all] [--batch N] [--work DIR] [--markdown] [--json FILE] [--targets]

The generated logs come from corpus.tar.xz (next to this script), unpacked once into --work
(default: build/convdiag-corpus in the repository); the public logs are read in place from public/. Exit codes: 0 the
measurement ran; 1 with --targets, a target missed; 2 bad input (no convdiag, a label naming a
missing file, an archive that cannot be unpacked).
"""
import argparse
import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
KINDS = ["nan", "divergence", "oscillation", "plateau", "overfitting", "exploding_gradient",
         "vanishing_gradient", "spike"]
# Targets of issue 15, judged with --targets on each half measured: on the generated runs recall
# per symptom and false alarms; on the public logs recall over all symptoms and false alarms.
TARGET_RECALL = 0.95
TARGET_FALSE_ALARM_RATE = 1 / 32
TARGET_PUBLIC_RECALL = 0.90
TARGET_PUBLIC_FALSE_ALARM_RATE = 1 / 16
TARGET_ONSET = 0.10


def die(msg):
    print(f"evaluate.py: {msg}", file=sys.stderr)
    sys.exit(2)


def default_archives():
    """corpus.tar.xz (sets 1-12) and the later sets' corpus-setN.tar.xz, in set order."""
    later = glob.glob(os.path.join(HERE, "corpus-set*.tar.xz"))
    number = lambda p: int(re.fullmatch(r"corpus-set(\d+)\.tar\.xz", os.path.basename(p)).group(1))
    return [os.path.join(HERE, "corpus.tar.xz")] + sorted(later, key=number)


def unpack(archive, work):
    """Unpacks the archive into work unless the same archive is already unpacked there."""
    with open(archive, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    stamp = os.path.join(work, ".unpacked-" + os.path.basename(archive))
    if os.path.exists(stamp) and open(stamp).read().strip() == digest:
        return
    os.makedirs(work, exist_ok=True)
    try:
        with tarfile.open(archive, "r:xz") as t:
            for m in t.getmembers():
                if m.name.startswith(("/", "..")) or ".." in m.name.split("/") or not (m.isfile() or m.isdir()):
                    die(f"{archive}: unexpected member {m.name!r}")
            t.extractall(work)
    except (OSError, tarfile.TarError) as e:
        die(f"{archive}: {e}")
    with open(stamp, "w") as f:
        f.write(digest + "\n")


def run_convdiag(exe, paths, extra):
    """{path: run report or None (unreadable)} for every path."""
    out = {}
    if not paths:
        return out
    cmd = [exe, "--quiet", "--json", "-"] + extra + paths
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode in (0, 1):
        rep = json.loads(p.stdout)
        for r in rep["runs"]:
            out[r["source"]] = r
        return out
    if len(paths) == 1:
        out[paths[0]] = None
        return out
    # one unreadable log fails the whole call: split to find it
    half = len(paths) // 2
    out.update(run_convdiag(exe, paths[:half], extra))
    out.update(run_convdiag(exe, paths[half:], extra))
    return out


def evaluate(labels, reports, paths):
    """Per-kind counts, healthy false alarms, onset errors, misses and false alarms."""
    per = {k: {"labelled": 0, "found": 0, "false_alarms": 0} for k in KINDS}
    misses, alarms, onsets, unread = [], [], [], []
    healthy = healthy_alarmed = 0
    for l in labels:
        rep = reports.get(paths[l["id"]])
        required = {s["kind"]: s["onset"] for s in l["symptoms"]}
        accepted = set(l.get("accepted", []))
        if rep is None:
            unread.append(l["id"])
        reported = {}
        for s in (rep or {}).get("symptoms", []):
            if s["kind"] in KINDS:
                st = s.get("step_start")
                if s["kind"] not in reported or (st is not None and st < reported[s["kind"]]):
                    reported[s["kind"]] = st
        for k, onset in required.items():
            per[k]["labelled"] += 1
            if k in reported:
                per[k]["found"] += 1
                length = l["last_step"] - l["first_step"]
                if onset is not None and reported[k] is not None and length > 0:
                    err = abs(reported[k] - onset) / length
                    onsets.append((l["id"], k, onset, reported[k], err))
            else:
                misses.append((l["id"], k, onset, "not read" if rep is None else ", ".join(sorted(reported)) or "healthy"))
        extra = [k for k in reported if k not in required and k not in accepted]
        for k in extra:
            per[k]["false_alarms"] += 1
            alarms.append((l["id"], k, reported[k], ", ".join(sorted(required)) or "healthy"))
        if not required:
            healthy += 1
            if extra:
                healthy_alarmed += 1
    return {"per": per, "healthy": healthy, "healthy_alarmed": healthy_alarmed, "misses": misses,
            "alarms": alarms, "onsets": onsets, "unread": unread, "runs": len(labels)}


def ratio(a, b):
    return a / b if b else float("nan")


def f2(x):
    return "-" if x != x else f"{x:.2f}"


def fmt_ratio(a, b):
    return f"{a}/{b} ({a / b:.2f})" if b else "-"


def report_text(name, r, markdown):
    lines = []
    per = r["per"]
    lab = sum(v["labelled"] for v in per.values())
    fnd = sum(v["found"] for v in per.values())
    fa = sum(v["false_alarms"] for v in per.values())
    errs = sorted(e[4] for e in r["onsets"])
    within = sum(1 for e in errs if e <= TARGET_ONSET)
    lines.append(f"{name}: {r['runs']} runs, {r['healthy']} healthy, {lab} labelled symptoms"
                 + (f", {len(r['unread'])} not read by convdiag" if r["unread"] else ""))
    if markdown:
        lines.append("")
        lines.append("| symptom | labelled | found | recall | false alarms | precision | onset within 10% |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|")
    else:
        lines.append(f"  {'symptom':20s} {'labelled':>8s} {'found':>6s} {'recall':>7s} {'false al.':>9s} {'precision':>9s} {'onset<=10%':>10s}")
    for k in KINDS:
        v = per[k]
        ke = [e for e in r["onsets"] if e[1] == k]
        kw = sum(1 for e in ke if e[4] <= TARGET_ONSET)
        rec = f2(ratio(v["found"], v["labelled"]))
        prec = f2(ratio(v["found"], v["found"] + v["false_alarms"]))
        on = f"{kw}/{len(ke)}" if ke else "-"
        if markdown:
            lines.append(f"| {k} | {v['labelled']} | {v['found']} | {rec} | {v['false_alarms']} | {prec} | {on} |")
        else:
            lines.append(f"  {k:20s} {v['labelled']:8d} {v['found']:6d} {rec:>7s} {v['false_alarms']:9d} {prec:>9s} {on:>10s}")
    tot_prec = f2(ratio(fnd, fnd + fa))
    tot_rec = f2(ratio(fnd, lab))
    if markdown:
        lines.append(f"| all | {lab} | {fnd} | {tot_rec} | {fa} | {tot_prec} | {within}/{len(errs)} |")
        lines.append("")
    else:
        lines.append(f"  {'all':20s} {lab:8d} {fnd:6d} {tot_rec:>7s} {fa:9d} {tot_prec:>9s} {str(within) + '/' + str(len(errs)):>10s}")
    med = errs[len(errs) // 2] if errs else float("nan")
    lines.append(f"  false alarms on healthy runs: {fmt_ratio(r['healthy_alarmed'], r['healthy'])} runs with a symptom that is not accepted")
    lines.append(f"  onset error |step_start - onset| / run length: median {med:.3f}, within 10%: {fmt_ratio(within, len(errs))}")
    return lines


def details_text(r):
    lines = []
    if r["unread"]:
        lines.append("  not read (convdiag exit 2): " + ", ".join(r["unread"]))
    if r["misses"]:
        lines.append("  misses (run, labelled symptom at onset: what convdiag reported):")
        for rid, k, on, got in sorted(r["misses"], key=lambda m: (m[1], m[0])):
            lines.append(f"    {rid}: {k} at {on:g}: {got}" if on is not None else f"    {rid}: {k}: {got}")
    if r["alarms"]:
        lines.append("  false alarms (run, reported symptom at step_start: labelled):")
        for rid, k, st, lab in sorted(r["alarms"], key=lambda m: (m[1], m[0])):
            lines.append(f"    {rid}: {k} at {st}: {lab}")
    far = [e for e in r["onsets"] if e[4] > TARGET_ONSET]
    if far:
        lines.append("  onsets off by more than 10% of the run (run, symptom: labelled, reported, error):")
        for rid, k, on, st, err in sorted(far, key=lambda e: -e[4]):
            lines.append(f"    {rid}: {k}: {on:g}, {st:g}, {err:.0%}")
    return lines


def targets_missed(name, r, origin):
    bad = []
    if origin == "public":
        labelled = sum(v["labelled"] for v in r["per"].values())
        found = sum(v["found"] for v in r["per"].values())
        if labelled and found / labelled < TARGET_PUBLIC_RECALL:
            bad.append(f"{name}: recall {found}/{labelled} < {TARGET_PUBLIC_RECALL}")
        rate, one_in = TARGET_PUBLIC_FALSE_ALARM_RATE, 16
    else:
        for k in KINDS:
            v = r["per"][k]
            if v["labelled"] and v["found"] / v["labelled"] < TARGET_RECALL:
                bad.append(f"{name}: {k} recall {v['found']}/{v['labelled']} < {TARGET_RECALL}")
        rate, one_in = TARGET_FALSE_ALARM_RATE, 32
    if r["healthy"] and r["healthy_alarmed"] / r["healthy"] > rate:
        bad.append(f"{name}: false alarms on {r['healthy_alarmed']}/{r['healthy']} healthy runs > 1 in {one_in}")
    errs = [e[4] for e in r["onsets"]]
    if errs and sorted(errs)[len(errs) // 2] > TARGET_ONSET:
        bad.append(f"{name}: median onset error above 10% of the run")
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--convdiag", required=True, help="the convdiag executable")
    ap.add_argument("--labels", default=os.path.join(HERE, "labels.json"))
    ap.add_argument("--archive", action="append",
                    help="an archive of generated logs (repeat for several; default: corpus.tar.xz and every "
                         "corpus-setN.tar.xz beside it)")
    ap.add_argument("--corpus", help="a directory holding runs/ (the generator's --out) instead of the archive")
    ap.add_argument("--work", default=os.path.join(HERE, "..", "..", "..", "build", "convdiag-corpus"),
                    help="where the archive is unpacked (default: build/convdiag-corpus in the repository)")
    ap.add_argument("--half", choices=["heldout", "calibration", "both"], default="both")
    ap.add_argument("--origin", choices=["generated", "public", "all"], default="all")
    ap.add_argument("--batch", type=int, help="only the public logs of this batch (public.json's `batch`: "
                                              "1 the first 30; 2 to 12 the 33, 18, 28, 13, 16, 31, 19, 10, 41, 26 and 15 collected on 2026-12-06; "
                                              "13 to 21 the 11, 36, 7, 23, 6, 11, 13, 23 and 18 collected on 2026-12-07)")
    ap.add_argument("--classes", action="store_true", help="pass --classes N for runs whose class count is known")
    ap.add_argument("--markdown", action="store_true", help="tables in Markdown")
    ap.add_argument("--details", action="store_true", help="list every miss, false alarm and far onset")
    ap.add_argument("--json", help="write the figures and lists as JSON to FILE")
    ap.add_argument("--targets", action="store_true", help="exit 1 when a target of issue 15 is missed")
    a = ap.parse_args()
    if not os.access(a.convdiag, os.X_OK):
        die(f"{a.convdiag}: not an executable")
    try:
        with open(a.labels) as f:
            labels = json.load(f)["runs"]
    except (OSError, ValueError, KeyError) as e:
        die(f"{a.labels}: {e}")
    if a.origin != "all":
        labels = [l for l in labels if l["origin"] == a.origin]
    if a.batch is not None:
        labels = [l for l in labels if l["origin"] == "public" and l.get("batch", 1) == a.batch]
    corpus = a.corpus
    if corpus is None and any(l["origin"] == "generated" for l in labels):
        for archive in a.archive or default_archives():
            if not os.path.exists(archive):
                die(f"{archive}: no such archive (or give --corpus DIR)")
            unpack(archive, a.work)
        corpus = a.work
    paths = {}
    for l in labels:
        p = os.path.join(HERE, l["file"]) if l["origin"] == "public" else os.path.join(corpus, l["file"])
        if not os.path.exists(p):
            die(f"label {l['id']}: {p}: no such file")
        paths[l["id"]] = p
    halves = ["calibration", "heldout"] if a.half == "both" else [a.half]
    out_json = {"convdiag": a.convdiag, "halves": {}}
    failed = []
    every_report = {}
    for h in halves:
        sel = [l for l in labels if l["split"] == h]
        reports = {}
        if a.classes:
            for l in sel:
                n = (l.get("facts") or {}).get("classes") or 0
                extra = ["--classes", str(n)] if n >= 2 else []
                reports.update(run_convdiag(a.convdiag, [paths[l["id"]]], extra))
        else:
            reports = run_convdiag(a.convdiag, [paths[l["id"]] for l in sel], [])
        every_report.update(reports)
        origins = ["generated", "public"] if a.origin == "all" else [a.origin]
        for o in origins:
            part = [l for l in sel if l["origin"] == o]
            if not part:
                continue
            r = evaluate(part, reports, paths)
            if o == "generated":
                sets = sorted({l.get("set") for l in part if l.get("set") is not None})
                names = [str(x) for x in sets]
                which = ("sets " + ", ".join(names[:-1]) + " and " + names[-1]) if len(names) > 1 else "set " + names[0]
            else:
                which = "half"
            name = f"{h} {which}, {o} runs"
            for line in report_text(name, r, a.markdown):
                print(line)
            if a.details:
                for line in details_text(r):
                    print(line)
            print()
            out_json["halves"].setdefault(h, {})[o] = r
            failed += targets_missed(name, r, o)
    # The public logs' two halves together: the figures quoted for all of them.
    both = [l for l in labels if l["origin"] == "public" and l["split"] in halves]
    if len(halves) == 2 and {l["split"] for l in both} == set(halves):
        r = evaluate(both, every_report, paths)
        for line in report_text("both halves, public runs", r, a.markdown):
            print(line)
        print()
        out_json["both_halves"] = {"public": r}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out_json, f, indent=1)
    if a.targets and failed:
        for b in failed:
            print("target missed: " + b)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
