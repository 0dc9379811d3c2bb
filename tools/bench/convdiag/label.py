#!/usr/bin/python3
"""The labelling rules of LABELLING.md applied to logged curves: proposes each run's symptoms and
onsets from its curves alone, compares them with the condition the generator meant to cause, and
writes labels.json. Standard library and NumPy only; convdiag plays no part.

    label.py --gen DIR [--gen DIR2 ...] [--review review.json] [--public public.json] --out labels.json
    label.py --gen DIR --show ID      # the rules' numbers for one run

Generated runs come in sets by the number they start from: set 1 (from 0), set 2 (from 1000,
`generate.py --first 1000`), set 3 (from 2000), ..., set 27 (from 26000) and set 28 (from 27000).
Sets 1 to 20 and 23 are the calibration set and sets 21, 22 and 24 to 28 the held-out set (HELDOUT_SETS:
none tuned on; set 23's misses were read, so it is calibration); public logs are split by
a hash of their id within each stratum of their batch, and keep that half once given (in the labels.json
passed with --keep-generated).

Where the rules and the intended condition disagree, the run is listed; review.json holds the
decisions taken after looking at those curves (plot.py), each with its reason.
"""
import argparse
import hashlib
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logread import read_series  # noqa: E402

KINDS = ["nan", "divergence", "oscillation", "plateau", "overfitting", "exploding_gradient",
         "vanishing_gradient", "spike"]


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

def odd(k):
    k = max(1, int(round(k)))
    return k if k % 2 else k + 1


def running_median(v, w):
    if w <= 1 or len(v) < 3:
        return v.copy()
    h = w // 2
    out = np.empty_like(v)
    for i in range(len(v)):
        out[i] = np.median(v[max(0, i - h): i + h + 1])
    return out


def seen_curve(v):
    """The curve as a person sees it: running median over 5% of the points, log scale when the
    values are positive and span more than two orders of magnitude."""
    w = odd(0.05 * len(v))
    if len(v) and np.all(v > 0) and v.max() / v.min() > 100:
        return np.exp(running_median(np.log(v), w))
    return running_median(v, w)


def level(v):
    return float(np.median(v)) if len(v) else float("nan")


def head_n(n, frac, at_least=1):
    return max(at_least, int(math.ceil(frac * n)))


# ---------------------------------------------------------------------------------------------
# The rules, one per symptom: each returns (status, onset, why) with status required/accepted/None
# ---------------------------------------------------------------------------------------------

def rule_nan(series):
    first = None
    for name, (s, v) in series.items():
        bad = ~np.isfinite(v)
        if bad.any():
            st = float(s[np.argmax(bad)])
            first = st if first is None else min(first, st)
    if first is None:
        return None, None, "all finite"
    return "required", first, f"first non-finite value at step {first:g}"


# divergence: a rise stands out of the points' scatter when the end level is at least this many
# standard errors above the lowest level; between RISE_SCATTER_ACCEPT and RISE_SCATTER it is
# accepted, below it is noise.
RISE_SCATTER = 3.0
RISE_SCATTER_ACCEPT = 1.5


def rise_in_scatter(v, tail, k_tail, lowest, k_low, logscale):
    """(tail - lowest) in standard errors of the two medians (of k_tail and k_low points), the
    scatter of a point taken from each point's distance to the middle of its neighbours (1.4826
    MAD / sqrt 1.5, which a straight trend does not inflate), on the scale the curve is read in.
    inf when the points do not scatter, or are too few (under 10) to tell their scatter from the
    curve's own bends."""
    if len(v) < 10:
        return math.inf
    x = np.log(v) if logscale else v
    if logscale:
        tail, lowest = math.log(tail), math.log(lowest) if lowest > 0 else -math.inf
    d = x[1:-1] - 0.5 * (x[:-2] + x[2:])
    sd = 1.4826 * float(np.median(np.abs(d - np.median(d)))) / math.sqrt(1.5)
    rise = tail - lowest
    se = 1.2533 * sd * math.sqrt(1.0 / k_tail + 1.0 / k_low)
    if se <= 0:
        return math.inf if rise > 0 else 0.0
    return rise / se


def rule_divergence(s, v, nan_after):
    """s, v: the finite training loss before the first NaN; nan_after: the run ends in NaN."""
    n = len(v)
    if n < 4:
        if nan_after:
            return "accepted", float(s[0]) if n else None, "too few finite points before the NaN"
        return None, None, "too few points"
    c = seen_curve(v)
    k = head_n(n, 0.10, 1 if n < 20 else 2)
    tail = level(v[n - k:])
    low = running_median(v, odd(0.10 * n)) if n >= 20 else v
    before = low[: n - k]
    b = int(np.argmin(before))
    m = float(before[b])
    start = level(v[: head_n(n, 0.05)])
    progress = start - m
    top = float(np.max(c))
    logscale = np.all(v > 0) and v.max() / v.min() > 100
    if m <= 0:
        ratio = float("inf") if tail > m else 0.0
        visible = (tail - m) >= 0.1 * (top - m) if top > m else False
    else:
        ratio = tail / m
        if logscale:
            visible = top > m and math.log(max(tail, m) / m) >= 0.1 * math.log(top / m)
        else:
            visible = top > m and (tail - m) >= 0.1 * (top - m)
    prev = level(v[max(0, n - 2 * k): n - k])
    coming_back = tail < 0.5 * prev
    # the rise against the scatter of the points: standard errors of the two medians compared
    z = rise_in_scatter(v, tail, k, m, odd(0.10 * n) if n >= 20 else 1, logscale)
    # ... unless the whole band moved: nine in ten points of the last half at 2x the lowest level or more
    if m > 0 and float(np.quantile(v[n // 2:], 0.1)) >= 2 * m:
        z = math.inf
    why = (f"tail level {tail:.4g} = {ratio:.3g}x the lowest {m:.4g} at step {s[b]:g} (start {start:.4g}, "
           f"top {top:.4g}, visible {visible}, coming back {coming_back}, {z:.3g} standard errors)")
    req = (ratio >= 2 and visible) or (ratio >= 1.5 and progress > 0 and tail - m >= 0.2 * progress)
    if req and z < RISE_SCATTER_ACCEPT:
        return None, None, why + "; within the scatter of the points"
    # the onset: where the curve leaves the bottom for good, the last point after the lowest level
    # still within 10% of the rise above it (on the curve's scale)
    if logscale and m > 0 and tail > m:
        near = math.exp(math.log(m) + 0.1 * (math.log(tail) - math.log(m)))
    else:
        near = m + 0.1 * (tail - m)
    after = np.where(c[b: n - k] <= near)[0]
    if len(after):
        b = b + int(after[-1])
    if req and z < RISE_SCATTER:
        return "accepted", float(s[b]), why + "; barely out of the scatter of the points"
    if req and nan_after and (n - 1 - b) < 3:
        return "accepted", float(s[b]), why + "; blow-up shorter than 3 points before the NaN"
    if req and coming_back:
        return "accepted", float(s[b]), why + "; coming back down at the end"
    if req:
        return "required", float(s[b]), why
    if ratio >= 1.2 and (visible or ratio >= 1.5):
        return "accepted", float(s[b]), why + " (between 1.2x and the thresholds)"
    return None, None, why


def swings(v, frac, min_amp=0.0):
    """Up-swings of at least `frac` of the trough level and at least `min_amp` in absolute terms,
    with hysteresis. Returns the trough indices."""
    troughs = []
    lo_i, lo = 0, v[0]
    hi = None
    state = "down"
    for i in range(1, len(v)):
        x = v[i]
        if state == "down":
            if x < lo:
                lo, lo_i = x, i
            elif x >= lo + frac * abs(lo) and x - lo > 0 and x - lo >= min_amp:
                troughs.append(lo_i)
                state, hi = "up", x
        else:
            if x > hi:
                hi = x
            elif x <= hi - frac * abs(hi) / (1 + frac) and hi - x >= min_amp:
                state, lo, lo_i = "down", x, i
    return troughs


def swings_log(lv, step, min_amp):
    """swings() on log values: an up-swing of 30% is a rise of log(1.3)."""
    troughs = []
    lo_i, lo = 0, lv[0]
    hi = None
    state = "down"
    need = max(step, min_amp)
    for i in range(1, len(lv)):
        x = lv[i]
        if state == "down":
            if x < lo:
                lo, lo_i = x, i
            elif x - lo >= need:
                troughs.append(lo_i)
                state, hi = "up", x
        else:
            if x > hi:
                hi = x
            elif hi - x >= need:
                state, lo, lo_i = "down", x, i
    return troughs


def judged_curve(s, v, facts, epochs_of):
    """For per-step logs of mini-batch training the loss averaged over an epoch (or over several
    epochs, so that each average holds at least 10 points); else the points."""
    minibatch = facts is not None and facts.get("batch_size", 0) < facts.get("n_train", 0)
    per_step = facts is not None and facts.get("logged_every") != "epoch"
    if not (minibatch and per_step) or len(v) == 0:
        return s, v
    if epochs_of is not None:
        es = np.unique(epochs_of)
        per = max(1, int(math.ceil(10 / max(1.0, len(v) / len(es)))))
        groups = [np.isin(epochs_of, es[i: i + per]) for i in range(0, len(es), per)]
    else:
        groups = [np.arange(len(v)) // 10 == g for g in range(len(v) // 10)]
    groups = [g for g in groups if g.sum() >= 3]
    if not groups:
        return s[:0], v[:0]
    return (np.array([s[g][-1] for g in groups]), np.array([v[g].mean() for g in groups]))


# oscillation: a swing whose peak stays below this fraction of the chance level is the wandering of a
# loss that converged close to zero.
NEAR_ZERO = 0.01


def visible_swings(curve, part, frac):
    """Up-swings of at least `frac` in `part` of `curve` (swings()), visible on the scale the whole
    curve is read in: at least 10% of its range, in logarithms when every value is positive and
    they span more than two orders of magnitude."""
    logscale = np.all(curve > 0) and curve.max() / curve.min() > 100
    cv = np.log(curve) if logscale else curve
    amp = 0.10 * (cv.max() - cv.min())
    return swings_log(np.log(part), math.log(1 + frac), amp) if logscale else swings(part, frac, amp)


def val_swings(val):
    """Up-swings of at least 15% in the second half of the validation loss (visible: 10% of its
    range, on a log scale when it spans two orders of magnitude); None with fewer than 16
    finite evaluations."""
    if val is None:
        return None
    vv = val[1][np.isfinite(val[1])]
    if len(vv) < 16:
        return None
    return len(visible_swings(vv, vv[len(vv) // 2:], 0.15))


def rule_oscillation(s, v, facts, epochs_of, val=None):
    out = rule_oscillation_shape(s, v, facts, epochs_of)
    minibatch = facts is not None and facts.get("batch_size", 0) < facts.get("n_train", 0)
    per_step = facts is not None and facts.get("logged_every") != "epoch"
    if out[0] == "required" and minibatch and per_step:
        k = val_swings(val)
        if k is not None and k < 3:
            # a model that swings moves its validation loss; the batches' scatter does not
            return "accepted", out[1], out[2] + f"; the validation loss does not swing ({k} up-swings >= 15%)"
    return out


def rule_oscillation_shape(s, v, facts, epochs_of):
    js, jv = judged_curve(s, v, facts, epochs_of)
    n = len(jv)
    if n < 16:
        return None, None, f"{n} judged points: too few"
    half = n // 2
    sec = jv[half:]
    start = level(jv[: head_n(n, 0.05)])
    if start > 0 and level(sec) < 1e-6 * start:
        return None, None, "the loss is at the floating-point floor (below 1e-6 of its start)"
    q = max(1, len(sec) // 4)
    up30, up15 = visible_swings(jv, sec, 0.30), visible_swings(jv, sec, 0.15)
    # Not oscillation: a loss that converged close to zero wandering by ratios, its swings peaking
    # below 1% of the chance level (invisible on a curve drawn from the chance level down).
    chance = facts.get("chance") if facts else None
    floor = NEAR_ZERO * chance if chance is not None and chance > 0 else -math.inf

    def visible(curve, troughs):
        ends = list(troughs[1:]) + [len(curve)]
        return [t for t, e in zip(troughs, ends) if not np.all(np.isfinite(curve[t:e])) or curve[t:e].max() >= floor]
    up30, up15 = visible(sec, up30), visible(sec, up15)
    last_q = [t for t in up30 if t >= len(sec) - q - 1]
    why = f"second half: {len(up30)} up-swings >= 30% ({len(last_q)} in its last quarter), {len(up15)} >= 15%"
    if len(up30) >= 3:
        # onset: the first swing of the unbroken chain that runs to the end
        allsw = visible(jv, visible_swings(jv, jv, 0.30))
        gap = max(5, int(0.10 * n))
        j = len(allsw) - 1
        while j > 0 and allsw[j] - allsw[j - 1] <= gap:
            j -= 1
        on = allsw[j] if allsw else half
        if on <= 0.05 * n:
            on = 0
        if not last_q:
            return "accepted", float(js[on]), why + "; the swings die out in the last quarter"
        return "required", float(js[on]), why
    if len(up15) >= 3:
        return "accepted", float(js[half]), why
    return None, None, why


def val_learns(val, lo, hi):
    """Whether the validation loss falls clearly over the steps [lo, hi]: at least 4 evaluations
    there, the median of their last quarter at least 10% below the median of their first, and that
    fall more than twice their scatter (the median relative change between consecutive ones)."""
    if val is None:
        return False, ""
    vs, vv = val
    keep = np.isfinite(vv) & (vs >= lo) & (vs <= hi)
    vv = vv[keep]
    if len(vv) < 4 or not np.all(vv > 0):
        return False, ""
    q = max(1, len(vv) // 4)
    first, last = float(np.median(vv[:q])), float(np.median(vv[-q:]))
    scatter = float(np.median(np.abs(np.diff(vv)) / vv[:-1]))
    fall = 1 - last / first
    return fall >= 0.10 and fall > 2 * scatter, f"; the validation loss fell {fall:.0%} over those steps (scatter {scatter:.1%})"


def val_below_chance(val, lo, hi, facts):
    """For a classifier, whether the validation loss over the steps [lo, hi] (at least 2
    evaluations) has its median below 80% of the chance level: the model predicts far better than
    a constant. (A regression's chance level is the training targets' variance, which a small
    validation set's need not match.)"""
    chance = facts.get("chance") if facts else None
    if val is None or chance is None or not chance > 0 or facts.get("task") != "cls":
        return False, ""
    vs, vv = val
    vv = vv[np.isfinite(vv) & (vs >= lo) & (vs <= hi)]
    if len(vv) < 2:
        return False, ""
    m = float(np.median(vv))
    return m <= 0.8 * chance, f"; the validation loss over those steps is {m / chance:.0%} of the chance level"


def rule_plateau(s, v, facts, finetune, diverging, val=None, rising=False):
    out, lo, hi, stopped = rule_plateau_shape(s, v, facts, finetune, diverging, rising)
    # values repeated to every digit: updates stopped, whatever the validation loss does
    if out[0] == "required" and not stopped:
        # the model learns, or has learned, while its training loss stays flat (held up by noisy
        # labels or regularisation)
        learns, how = val_learns(val, lo, hi)
        if not learns:
            learns, how = val_below_chance(val, lo, hi, facts)
        if learns:
            return "accepted", out[1], out[2] + how
    return out


def rule_plateau_shape(s, v, facts, finetune, diverging, rising=False):
    """The plateau rule on the training loss: (mark, onset, why), the steps of the flat stretch,
    and whether its values are repeated to every digit (updates stopped). `rising`: the
    divergence rule accepts a rise; no progress is then accepted, not required (a loss that
    rises is not plainly stuck)."""
    mark = "accepted" if rising else "required"
    rises = "; the loss rises (divergence accepted)" if rising else ""
    n = len(v)
    if n < 8:
        return (None, None, "too few points"), 0, 0, False
    c = seen_curve(v)
    start = level(v[: head_n(n, 0.05)])
    run = s[-1] - s[0]
    chance = facts.get("chance") if facts else None
    # stuck: a flat final stretch at the chance level or repeated to every digit
    endlvl = level(v[n - head_n(n, 0.10):])
    j = n - 1
    while j > 0 and abs(c[j - 1] - endlvl) <= 0.02 * abs(endlvl):
        j -= 1
    stretch = s[-1] - s[j]
    uniq = len(np.unique(v[j:])) / max(1, n - j)
    at_chance = chance is not None and chance > 0 and abs(endlvl - chance) <= 0.10 * chance
    repeated = uniq <= 0.1 and n - j >= 5
    why = (f"start {start:.4g}, min of curve {c.min():.4g}; flat final stretch from step {s[j]:g} "
           f"({stretch / run if run else 0:.0%} of the run) at {endlvl:.4g}, chance {chance if chance is not None else float('nan'):.4g}, "
           f"distinct values {uniq:.0%}")
    if stretch >= 0.2 * run and (at_chance or repeated) and not finetune:
        fell_before = c[: max(1, j)].min() < 0.9 * start or c[0] > 1.1 * endlvl
        onset = float(s[j]) if fell_before and j > 0.05 * n else float(s[0])
        return ("required", onset, why + "; stuck"), s[j], s[-1], repeated
    if finetune:
        return (None, None, why + "; fine-tuning run"), 0, 0, False
    never = c.min() >= 0.9 * start
    if never and chance is not None and chance > 0 and start <= 0.5 * chance:
        # a converged run, flat at a low level: it learned before its first points
        return (None, None, why + f"; never 10% below its start, but that start is {start / chance:.0%} of the chance level"), 0, 0, False
    if never and not diverging:
        return (mark, float(s[0]), why + "; never 10% below its start" + rises), s[0], s[-1], False
    # a flat start lasting a long part of the run
    k = 0
    while k < n and c[k] >= 0.9 * start:
        k += 1
    frac = (s[min(k, n - 1)] - s[0]) / run if run else 0
    if frac >= 0.5 and not diverging:
        return (mark, float(s[0]), why + f"; flat start for {frac:.0%} of the run" + rises), s[0], s[min(k, n - 1)], False
    if frac >= 0.3 and not diverging:
        return ("accepted", float(s[0]), why + f"; flat start for {frac:.0%} of the run"), 0, 0, False
    return (None, None, why), 0, 0, False


def rule_overfitting(val, train):
    if val is None:
        return None, None, "no validation loss"
    s, v = val
    ok = np.isfinite(v)
    s, v = s[ok], v[ok]
    n = len(v)
    if n < 5:
        return None, None, f"{n} evaluations"
    m3 = running_median(v, max(3, odd(0.10 * n)))
    b = int(np.argmin(m3))
    best = float(m3[b])
    k = max(2, int(math.ceil(0.2 * n)))
    tail = level(v[n - k:])
    ts, tv = train
    okt = np.isfinite(tv)
    ts, tv = ts[okt], tv[okt]
    tc = seen_curve(tv) if len(tv) else tv
    if len(tv):
        i0 = int(np.argmin(np.abs(ts - s[b])))
        t_at_best = float(tc[i0])
        t_end = level(tv[len(tv) - head_n(len(tv), 0.10):])
        train_rises = t_at_best > 0 and t_end >= 1.2 * t_at_best
    else:
        train_rises = False
    # a best of exactly 0 (a loss rounded to 0): only an end above it is a rise
    rel = (tail - best) / abs(best) if best != 0 else (float("inf") if tail > best else 0.0)
    why = f"val best {best:.4g} at step {s[b]:g}, last 20% level {tail:.4g} ({rel:+.1%}); training loss rises: {train_rises}"
    if b >= n - k or train_rises:
        return None, None, why + ("; the best is in the last 20%" if b >= n - k else "")
    # scatter around a flat level: the end level does not stand above the band the evaluations
    # from the best on scatter in (their interquartile range)
    after = v[b:]
    band = float(np.percentile(after, 75) - np.percentile(after, 25)) if len(after) >= 4 else 0.0
    if rel >= 0.05 and tail - best < band:
        return "accepted", float(s[b]), why + f"; within the scatter after the best (IQR {band:.4g})"
    if rel >= 0.10:
        return "required", float(s[b]), why
    if rel >= 0.05:
        return "accepted", float(s[b]), why
    return None, None, why


def rule_exploding(grads, total_name, layer_names):
    """Judged on the total norm, or without one on the largest layer's norm at each point."""
    if total_name and total_name in grads:
        s, v = grads[total_name]
        name = total_name
    else:
        cols = [grads[k] for k in layer_names if k in grads]
        if not cols:
            return None, None, "no gradient norm"
        steps = sorted(set().union(*[set(c[0].tolist()) for c in cols]))
        maps = [dict(zip(c[0].tolist(), c[1].tolist())) for c in cols]
        s = np.array(steps)
        v = np.array([max((m[st] for m in maps if st in m), key=lambda x: x if math.isfinite(x) else float("inf")) for st in steps])
        name = "largest layer"
    n = len(v)
    if n < 5:
        return None, None, "too few gradient points"
    fin = np.isfinite(v)
    head = v[: head_n(n, 0.10)]
    early = level(head[np.isfinite(head)])
    usual = max(early, level(v[fin]))
    if not (early > 0):
        return None, None, f"{name}: early level {early}"
    skip = s[0] + 0.05 * (s[-1] - s[0])
    counted = (s > skip) | (np.arange(n) >= head_n(n, 0.05))
    big = np.where(fin & counted & (v >= 10 * usual))[0]
    nonfin = np.where(~fin)[0]
    last = v[fin][len(v[fin]) - head_n(int(fin.sum()), 0.10):]
    end_ratio = level(last) / early if len(last) else 0.0
    why = f"{name}: early {early:.3g}, usual {usual:.3g}, {len(big)} points >= 10x usual, end level {end_ratio:.3g}x early"
    if len(big) >= 3 or (len(big) >= 2 and len(nonfin) and nonfin[0] > big[1]):
        return "required", float(s[big[0]]), why
    if end_ratio >= 100:
        first = int(np.argmax(fin & (v >= 10 * early)))
        return "required", float(s[first]), why
    if len(big) >= 1:
        return "accepted", float(s[big[0]]), why
    if end_ratio >= 10:
        first = int(np.argmax(fin & (v >= 10 * early)))
        return "accepted", float(s[first]), why
    return None, None, why


def rule_vanishing(grads, total_name, layer_names, train):
    if not grads:
        return None, None, "no gradient norm"
    ts, tv = train
    ok = np.isfinite(tv)
    ts, tv = ts[ok], tv[ok]
    if len(tv) < 4:
        return None, None, "too few loss points"
    tc = seen_curve(tv)

    def stalled_from(step):
        i = int(np.searchsorted(ts, step))
        i = min(i, len(tc) - 1)
        a = tc[i]
        e = level(tv[len(tv) - head_n(len(tv), 0.10):])
        return a <= 0 or (a - e) / a < 0.5

    # 1. one layer below 1e-3 of another (or of the total)
    if layer_names:
        steps = None
        cols = [grads[k] for k in layer_names if k in grads]
        if total_name and total_name in grads:
            cols.append(grads[total_name])
        if len(cols) >= 2:
            common = set(cols[0][0].tolist())
            for c in cols[1:]:
                common &= set(c[0].tolist())
            steps = np.array(sorted(common))
            if len(steps) >= 4:
                mat = np.array([[dict(zip(c[0].tolist(), c[1].tolist()))[st] for st in steps] for c in cols])
                fin = np.all(np.isfinite(mat), axis=0)
                lo, hi = mat.min(0), mat.max(0)
                r = np.where(hi > 0, lo / np.where(hi > 0, hi, 1), 1.0)
                r = np.where(fin, r, 1.0)
                frac3 = float(np.mean(r < 1e-3))
                frac2 = float(np.mean(r < 1e-2))
                why = f"min/max layer ratio median {np.median(r):.3g}; < 1e-3 at {frac3:.0%} of points"
                if frac3 >= 0.5:
                    first = float(steps[np.argmax(r < 1e-3)])
                    if stalled_from(first):
                        return "required", first, why
                    return None, None, why + "; but the loss fell by more than 50%"
                if frac2 >= 0.5 and stalled_from(float(steps[np.argmax(r < 1e-2)])):
                    return "accepted", float(steps[np.argmax(r < 1e-2)]), why
    # 2. the total norm collapses below 1e-3 of its early level and stays there
    names = [total_name] if total_name and total_name in grads else list(grads)[:1]
    for nm in names:
        s, v = grads[nm]
        fin = np.isfinite(v)
        s, v = s[fin], v[fin]
        if len(v) < 5:
            continue
        early = level(v[: head_n(len(v), 0.10)])
        if not early > 0:
            continue
        j = len(v)
        while j > 0 and v[j - 1] < 1e-3 * early:
            j -= 1
        why = f"{nm}: early {early:.3g}, final stretch below 1e-3 of it from point {j}/{len(v)}"
        if j < len(v) and (s[-1] - s[j]) >= 0.1 * (s[-1] - s[0]):
            if stalled_from(float(s[j])):
                return "required", float(s[j]), why
    return None, None, "no layer ratio below 1e-3, no collapse"


def rule_spike(s, v, restarts_at=()):
    n = len(v)
    if n < 12:
        return None, None, "too few points"
    run = s[-1] - s[0]
    W = max(20, int(round(0.05 * n)))
    rec_w = max(5, int(round(0.10 * n)))
    fin_all = v[np.isfinite(v)]
    logscale = len(fin_all) and np.all(fin_all > 0) and fin_all.max() / fin_all.min() > 100
    found, found_acc = [], []
    i = 0
    while i < n:
        if s[i] - s[0] < 0.05 * run or i < 3 or not np.isfinite(v[i]):
            i += 1
            continue
        if any(r <= s[i] <= r + 0.02 * run for r in restarts_at):
            i += 1
            continue
        pre = v[max(0, i - 2 - W): max(0, i - 2)]
        pre = pre[np.isfinite(pre)]
        if len(pre) < 3:
            i += 1
            continue
        lvl = level(pre)
        band = float(np.max(pre))
        x = v[i]
        if lvl <= 0 or x < 2 * lvl or x < 1.5 * band:
            i += 1
            continue
        # the peak of this jump, and whether the loss comes back most of the way within 10% of the run
        k = i
        while k + 1 < n and np.isfinite(v[k + 1]) and v[k + 1] >= v[k]:
            k += 1
        peak = v[k]
        if logscale:
            target = math.exp(math.log(lvl) + 0.25 * (math.log(peak) - math.log(lvl)))
        else:
            target = lvl + 0.25 * (peak - lvl)
        post = v[k + 1: k + 1 + rec_w]
        back_at = None
        for j in range(0, max(0, len(post) - 4)):
            if np.all(np.isfinite(post[j: j + 5])) and level(post[j: j + 5]) <= target:
                back_at = k + 1 + j
                break
        if back_at is None:
            i = k + 1
            continue
        if peak >= 3 * lvl and peak >= 2 * band:
            found.append((float(s[i]), peak / lvl))
        else:
            found_acc.append((float(s[i]), peak / lvl))
        i = back_at
    if found:
        big = max(r for _, r in found)
        return "required", found[0][0], f"{len(found)} spikes, first at step {found[0][0]:g}, largest {big:.3g}x the level"
    if found_acc:
        return "accepted", found_acc[0][0], f"{len(found_acc)} jumps of 2-3x standing out of the band"
    return None, None, "no spike"


# ---------------------------------------------------------------------------------------------
# Roles: which columns a person reads in each generated format
# ---------------------------------------------------------------------------------------------

def roles_for(spec, series):
    log = spec["log"]
    fmt = log["format"]
    nested = fmt == "jsonl" and log.get("nested") and log.get("every") != "epoch"   # per-epoch records are flat
    if fmt == "lightning":
        loss = log.get("loss_key", "train_loss")
    elif nested:
        loss = "train/loss"
    else:
        loss = "loss"
    val = "val/loss" if nested else "val_loss"
    grad_total, layers = None, []
    for k in series:
        base = k.split("/", 1)[1] if k.startswith("train/") else k
        if base in ("grad_norm", "grad_2.0_norm_total"):
            grad_total = k
        elif base.startswith(("grad_norm_layer", "grad_norm/", "grad_2.0_norm/", "gradients/")) or base.endswith("_grad_norm"):
            layers.append(k)
    return {"loss": loss, "val_loss": val if val in series else None, "grad_norm": grad_total, "grad_layers": layers}


# a GAN (LABELLING.md, "Which series are judged"): the discriminator wins when its end level is below
# GAN_WON of its start over the last GAN_WON_STRETCH of the run; a blow-up is an end level GAN_BLOW_UP x
# its start or more
GAN_WON = 0.10
GAN_WON_STRETCH = 0.20
GAN_BLOW_UP = 10.0


def rule_gan(gen, dis):
    """divergence of a GAN's losses, in the two forms LABELLING.md writes: the discriminator wins, or
    a blow-up. (status, onset, why)."""
    def levels(sv):
        s, v = sv
        keep = np.isfinite(v)
        s, v = s[keep], v[keep]
        n = len(v)
        if n < 3:
            return None
        start = max(float(v[0]), level(v[: head_n(n, 0.05)]))  # a discriminator may win within the first 5%
        return s, v, start, level(v[n - head_n(n, 0.10):]), seen_curve(v), bool(start > 0 and np.all(v >= 0))

    def stays_from(s, c, holds):
        k = len(c)
        while k > 0 and holds(c[k - 1]):
            k -= 1
        return k

    g, d = levels(gen), levels(dis)
    if g is None or d is None:
        return None, None, "too few points"
    why = (f"generator start {g[2]:.4g} end {g[3]:.4g}; discriminator start {d[2]:.4g} end {d[3]:.4g}")
    if d[5] and g[5] and d[3] < GAN_WON * d[2] and g[3] >= g[2]:
        s, c = d[0], d[4]
        k = stays_from(s, c, lambda x: x < GAN_WON * d[2])
        if k < len(c) and s[-1] - s[k] >= GAN_WON_STRETCH * (s[-1] - s[0]):
            return "required", float(s[k]), why + f"; the discriminator wins from step {s[k]:g}"
    for lv in (g, d):
        s, v, start, end, c, signless = lv
        if signless and end >= GAN_BLOW_UP * start:
            k = min(stays_from(s, c, lambda x: x >= 2 * start), len(c) - 1)
            return "required", float(s[k]), why + f"; a blow-up ({end / start:.3g}x) from step {s[k]:g}"
    return None, None, why


def finite_prefix(sv):
    """A series' points before its first non-finite value."""
    s, v = sv
    fin = np.isfinite(v)
    first_bad = int(np.argmax(~fin)) if (~fin).any() else len(v)
    return s[:first_bad], v[:first_bad]


def apply_rules(series, roles, facts=None, finetune=False, restarts_at=(), epochs_key="epoch"):
    out = {}
    ls, lv = series[roles["loss"]]
    run_first, run_last = float(ls[0]), float(ls[-1])
    watched = {roles["loss"]: series[roles["loss"]]}
    for role in ("val_loss", "discriminator_loss"):
        if roles.get(role):
            watched[roles[role]] = series[roles[role]]
    grads = {}
    for k in ([roles["grad_norm"]] if roles.get("grad_norm") else []) + list(roles.get("grad_layers", [])):
        if k in series:
            grads[k] = series[k]
            watched[k] = series[k]
    out["nan"] = rule_nan(watched)
    if roles.get("discriminator_loss"):
        # a GAN: nan on both losses, divergence in its two forms, gradient rules; nothing else
        out["divergence"] = rule_gan(finite_prefix((ls, lv)), finite_prefix(series[roles["discriminator_loss"]]))
        for k in ("oscillation", "plateau", "overfitting", "spike"):
            out[k] = (None, None, "a GAN: not judged")
        out["exploding_gradient"] = rule_exploding(grads, roles.get("grad_norm"), roles.get("grad_layers", []))
        out["vanishing_gradient"] = rule_vanishing(grads, roles.get("grad_norm"), roles.get("grad_layers", []), (ls, lv))
        return out, run_first, run_last
    ps, pv = finite_prefix((ls, lv))
    out["divergence"] = rule_divergence(ps, pv, len(pv) < len(lv))
    diverging = out["divergence"][0] == "required"
    rising = out["divergence"][0] == "accepted"
    epochs_of = None
    if epochs_key in series:
        es, ev = series[epochs_key]
        mp = dict(zip(es.tolist(), ev.tolist()))
        epochs_of = np.array([mp.get(x, np.nan) for x in ps.tolist()])
        if np.isnan(epochs_of).any():
            epochs_of = None
    val = series.get(roles["val_loss"]) if roles.get("val_loss") else None
    out["oscillation"] = rule_oscillation(ps, pv, facts, epochs_of, val)
    out["plateau"] = rule_plateau(ps, pv, facts, finetune, diverging, val, rising)
    out["overfitting"] = rule_overfitting(val, (ls, lv))
    out["exploding_gradient"] = rule_exploding(grads, roles.get("grad_norm"), roles.get("grad_layers", []))
    out["vanishing_gradient"] = rule_vanishing(grads, roles.get("grad_norm"), roles.get("grad_layers", []), (ls, lv))
    out["spike"] = rule_spike(ps, pv, restarts_at)
    # a vanishing gradient with a stalled loss: plateau accepted
    if out["vanishing_gradient"][0] == "required" and out["plateau"][0] is None:
        out["plateau"] = ("accepted", None, "accompanies a vanishing gradient")
    # a nan run whose gradient blew up: divergence accepted when not marked
    return out, run_first, run_last


def restart_steps(spec, facts):
    sch = spec.get("sched", {})
    if sch.get("kind") != "restarts":
        return ()
    spe = facts["steps_per_epoch"]
    T, start, mult, out = sch.get("T0", 10), 0, sch.get("Tmult", 1), []
    while start + T < spec["epochs"]:
        start += T
        out.append(float(start * spe))
        T *= mult
    return tuple(out)


def label_generated(entry, gen_dir):
    spec, facts = entry["spec"], dict(entry["facts"])
    facts["logged_every"] = spec["log"].get("every")
    path = os.path.join(gen_dir, entry["file"])
    series, step_key = read_series(path)
    roles = roles_for(spec, series)
    epochs_key = "epoch" if step_key != "epoch" else None
    res, first, last = apply_rules(series, roles, facts, finetune=bool(spec.get("finetune")),
                                   restarts_at=restart_steps(spec, facts), epochs_key=epochs_key)
    return res, first, last, roles


def run_set(run_id):
    """The set a generated run belongs to: 1 + its number // 1000 (set 1 from 0, set 2 from 1000, ...)."""
    return 1 + int(run_id.rsplit("-", 1)[1]) // 1000


HELDOUT_SETS = (21, 22, 24, 25, 26, 27, 28)


def split_of(run_id, stratum, members):
    """Calibration or held-out: within each stratum, runs sorted by a hash of their id alternate."""
    order = sorted(members, key=lambda r: hashlib.sha256(r.encode()).hexdigest())
    k = order.index(run_id)
    return "calibration" if k % 2 == 0 else "heldout"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gen", action="append", default=[],
                    help="a generator's output directory (repeat for each set)")
    ap.add_argument("--keep-generated", metavar="LABELS",
                    help="take the generated runs' labels from this labels.json as they are (relabel the "
                         "public logs, or add a new set with --gen, without the earlier sets' directories)")
    ap.add_argument("--relabel", metavar="DIR",
                    help="with --keep-generated: apply the rules again to its generated runs, reading their logs "
                         "from DIR (the archives unpacked: DIR/runs/...) and their configurations from the labels "
                         "(after a change to the rules, without generating the sets again)")
    ap.add_argument("--review", help="review.json: decisions on the runs where rules and intent disagree")
    ap.add_argument("--public", help="public.json: the labels of the public logs")
    ap.add_argument("--out", help="labels.json to write")
    ap.add_argument("--show", help="print the rules' numbers for this run id")
    args = ap.parse_args()
    if not args.gen and not args.keep_generated:
        ap.error("give --gen DIR (one per set) or --keep-generated LABELS")
    if args.relabel and not args.keep_generated:
        ap.error("--relabel needs --keep-generated LABELS")
    gen = {"runs": []}
    gen_dir = {}
    if args.relabel:
        with open(args.keep_generated) as f:
            kept = [l for l in json.load(f)["runs"] if l["origin"] == "generated"]
        for l in kept:
            spec = dict(l["config"], id=l["id"], intended=l["intended"])
            gen["runs"].append({"id": l["id"], "spec": spec, "facts": l["facts"], "file": l["file"]})
            gen_dir[l["id"]] = args.relabel
    for d in args.gen:
        with open(os.path.join(d, "generated.json")) as f:
            runs = json.load(f)["runs"]
        gen["runs"] += runs
        gen_dir.update({r["id"]: d for r in runs})
    review = {}
    if args.review:
        with open(args.review) as f:
            review = {r["id"]: r for r in json.load(f)["runs"]}
    labels = []
    disagreements = 0
    for entry in gen["runs"]:
        rid = entry["id"]
        if args.show and rid != args.show:
            continue
        res, first, last, roles = label_generated(entry, gen_dir[rid])
        if args.show:
            for k in KINDS:
                print(f"{k:20s} {str(res[k][0]):9s} onset {res[k][1]}  {res[k][2]}")
            print("roles", roles, "steps", first, last)
            return 0
        required = {k: res[k][1] for k in KINDS if res[k][0] == "required"}
        accepted = sorted(k for k in KINDS if res[k][0] == "accepted")
        intended = entry["spec"]["intended"]
        note = None
        missing = [k for k in intended if k not in required]
        extra = [k for k in required if k not in intended]
        rv = review.get(rid)
        if rv:
            required = {s["kind"]: s["onset"] for s in rv["symptoms"]}
            accepted = rv.get("accepted", accepted)
            note = rv["reason"]
        elif missing or extra:
            disagreements += 1
            print(f"DISAGREE {rid}: intended {intended}, rules require {sorted(required)}"
                  f" (accepted {accepted})", file=sys.stderr)
            for k in set(missing + extra):
                print(f"    {k}: {res[k][0]} {res[k][2]}", file=sys.stderr)
            parts = []
            if missing:
                parts.append("the curve does not show " + ", ".join(missing) + " by the rules")
            if extra:
                parts.append("the curve also shows " + ", ".join(extra) + " by the rules")
            note = "; ".join(parts)
        spec = entry["spec"]
        labels.append({
            "id": rid, "origin": "generated", "set": run_set(rid), "format": spec["log"]["format"], "file": entry["file"],
            "healthy": not required,
            "symptoms": [{"kind": k, "onset": required[k]} for k in KINDS if k in required],
            "accepted": accepted,
            "first_step": first, "last_step": last,
            "intended": intended, "relabelled": note,
            "roles": roles,
            "facts": {k: entry["facts"][k] for k in ("chance", "classes", "task", "n_train", "batch_size", "steps_per_epoch", "steps_trained")},
            "config": {k: spec[k] for k in spec if k not in ("id", "intended")},
        })
    if args.keep_generated:
        # the kept labels first, in their order, then the sets labelled now
        fresh = {l["id"] for l in labels}
        with open(args.keep_generated) as f:
            labels = [l for l in json.load(f)["runs"] if l["origin"] == "generated" and l["id"] not in fresh] + labels
    if args.public:
        pub_dir = os.path.dirname(os.path.abspath(args.public))
        with open(args.public) as f:
            pub = json.load(f)["runs"]
        for e in pub:
            series, step_key = read_series(os.path.join(pub_dir, e["file"]), e["roles"].get("step"))
            roles = dict(e["roles"])
            roles.setdefault("grad_layers", [])
            # a log with several training points per epoch, or a per-step column (not Lightning's
            # `<name>_epoch` means) whose step advances by more than one an epoch (several optimizer
            # steps an epoch: mini-batches, of which it samples single ones), is taken as mini-batch
            # training logged per step
            facts = None
            if "epoch" in series and step_key != "epoch":
                ls_ = series[roles["loss"]][0]
                ep = dict(zip(series["epoch"][0].tolist(), series["epoch"][1].tolist()))
                eps = [ep.get(x) for x in ls_.tolist()]
                known = [(x, e) for x, e in zip(ls_.tolist(), eps) if e is not None and np.isfinite(e)]
                steps_per_epoch = ((known[-1][0] - known[0][0]) / (known[-1][1] - known[0][1])
                                   if len(known) >= 2 and known[-1][1] > known[0][1] else 0)
                if len(set(eps)) < len(eps) or (steps_per_epoch > 1.5 and not roles["loss"].endswith("_epoch")):
                    facts = {"batch_size": 1, "n_train": 2, "logged_every": "step"}
            res, first, last = apply_rules(series, roles, facts, finetune=False, restarts_at=(),
                                           epochs_key="epoch" if step_key != "epoch" else None)
            proposed = {k: res[k][1] for k in KINDS if res[k][0] == "required"}
            proposed_acc = sorted(k for k in KINDS if res[k][0] == "accepted")
            rv = e.get("review")
            if rv is None:
                print(f"PUBLIC {e['id']}: rules require {proposed} (accepted {proposed_acc})", file=sys.stderr)
                for k in KINDS:
                    if res[k][0]:
                        print(f"    {k}: {res[k][0]} {res[k][2]}", file=sys.stderr)
                required, accepted, note = proposed, proposed_acc, "rules only, not reviewed"
            else:
                required = {s["kind"]: s["onset"] for s in rv["symptoms"]}
                accepted = rv.get("accepted", [])
                note = rv["note"]
                if set(required) != set(proposed):
                    print(f"PUBLIC {e['id']}: reviewed {sorted(required)}, rules {sorted(proposed)}", file=sys.stderr)
                # an onset the review moved by more than 10% of the run from the rules' (listed, as the
                # onset error of evaluate.py counts in those units)
                span = (last - first) or 1.0
                for k in sorted(set(required) & set(proposed)):
                    if required[k] is not None and proposed[k] is not None and abs(required[k] - proposed[k]) > 0.1 * span:
                        print(f"PUBLIC {e['id']}: {k} reviewed from {required[k]:g}, rules from {proposed[k]:g}",
                              file=sys.stderr)
            labels.append({
                "id": e["id"], "origin": "public", "format": e["format"], "file": "public/" + e["file"],
                "healthy": not required,
                "symptoms": [{"kind": k, "onset": required[k]} for k in KINDS if k in required],
                "accepted": accepted, "first_step": first, "last_step": last,
                "intended": None, "relabelled": None, "note": note, "roles": roles,
                "source": e["source"], "batch": e.get("batch", 1),
            })
    # public logs: a stratified split, the stratum of a run being its rarest required symptom (healthy:
    # none) within its batch (the logs collected at one time: a later batch leaves the earlier splits
    # as they were)
    count = {}

    def group(l):
        return (l["origin"], l.get("batch", 1) if l["origin"] == "public" else 0)
    for l in labels:
        for sy in l["symptoms"]:
            count[(group(l), sy["kind"])] = count.get((group(l), sy["kind"]), 0) + 1

    def stratum(l):
        kinds = sorted((count[(group(l), sy["kind"])], sy["kind"]) for sy in l["symptoms"])
        return (group(l), kinds[0][1] if kinds else "healthy")
    strata = {}
    for l in labels:
        strata.setdefault(stratum(l), []).append(l["id"])
    # A public log keeps the half it was given (in the labels.json kept with --keep-generated): a
    # review that changes its label must not move a log that was looked at into the held-out half.
    given = {}
    if args.keep_generated:
        with open(args.keep_generated) as f:
            given = {l["id"]: l["split"] for l in json.load(f)["runs"] if l["origin"] == "public"}
    for l in labels:
        if l["origin"] == "generated":
            l["split"] = "heldout" if l["set"] in HELDOUT_SETS else "calibration"
        else:
            l["split"] = given.get(l["id"]) or split_of(l["id"], stratum(l), strata[stratum(l)])
    print(f"{len(labels)} runs, {disagreements} disagreements without a review decision", file=sys.stderr)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"schema": 1, "rules": "LABELLING.md", "runs": labels}, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
