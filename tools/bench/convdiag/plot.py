#!/usr/bin/python3
"""Draws runs' curves into one PNG, a panel per run, for reviewing labels by eye.

    plot.py --labels labels.json --root DIR --out review.png ID...

Each panel: the training loss (black) and validation loss (blue) above, the gradient norms below
(total red, layers in grey), log scale where the values are positive and span more than two orders
of magnitude (gradients always), a green line at each labelled onset and an orange line at each
accepted symptom's place when known. Standard library and NumPy only; no text is drawn: the
panels are in the order given, and the script prints each panel's ranges.
"""
import argparse
import json
import os
import struct
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logread import read_series  # noqa: E402

PW, PH, PAD = 420, 300, 8


def write_png(path, img):
    h, w, _ = img.shape
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))

    def chunk(t, d):
        c = struct.pack(">I", len(d)) + t + d
        return c + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def line(img, x0, y0, x1, y1, col):
    n = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
    xs = np.linspace(x0, x1, n).round().astype(int)
    ys = np.linspace(y0, y1, n).round().astype(int)
    ok = (xs >= 0) & (xs < img.shape[1]) & (ys >= 0) & (ys < img.shape[0])
    img[ys[ok], xs[ok]] = col


def draw_series(img, box, xs, ys, xr, yr, logy, col):
    x0, y0, w, h = box
    fin = np.isfinite(ys) & ((ys > 0) if logy else True)
    tx = lambda x: x0 + (x - xr[0]) / max(xr[1] - xr[0], 1e-12) * (w - 1)
    def ty(y):
        if logy:
            y = np.log10(y)
        return y0 + h - 1 - (y - yr[0]) / max(yr[1] - yr[0], 1e-12) * (h - 1)
    px = py = None
    for x, y, f in zip(xs, ys, fin):
        if not f:
            px = None
            # non-finite: a red tick at the bottom
            if not np.isfinite(y):
                line(img, tx(x), y0 + h - 6, tx(x), y0 + h - 1, (255, 0, 0))
            continue
        cx, cy = tx(x), ty(y)
        if px is not None:
            line(img, px, py, cx, cy, col)
        else:
            img[int(round(cy)) if 0 <= int(round(cy)) < img.shape[0] else 0, int(round(cx))] = col
        px, py = cx, cy


def yrange(arrs, logy):
    vals = np.concatenate([a[np.isfinite(a) & ((a > 0) if logy else True)] for a in arrs]) if arrs else np.array([])
    if not len(vals):
        return (0, 1)
    if logy:
        vals = np.log10(vals)
    lo, hi = float(vals.min()), float(vals.max())
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    return (lo, hi)


def panel(img, ox, oy, series, roles, onsets, accepted_at):
    img[oy:oy + PH, ox:ox + PW] = 255
    loss = series.get(roles["loss"])
    val = series.get(roles.get("val_loss")) if roles.get("val_loss") else None
    grads = [series[k] for k in ([roles["grad_norm"]] if roles.get("grad_norm") else []) + roles.get("grad_layers", []) if k in series]
    xs_all = np.concatenate([loss[0]] + ([val[0]] if val else []))
    xr = (float(xs_all.min()), float(xs_all.max()))
    top = (ox + PAD, oy + PAD, PW - 2 * PAD, (PH - 3 * PAD) * 2 // 3 if grads else PH - 2 * PAD)
    arrs = [loss[1]] + ([val[1]] if val else [])
    pos = np.concatenate([a[np.isfinite(a)] for a in arrs])
    logy = len(pos) and np.all(pos > 0) and pos.max() / pos.min() > 100
    yr = yrange(arrs, logy)
    img[top[1]:top[1] + top[3], top[0]] = 200
    img[top[1] + top[3] - 1, top[0]:top[0] + top[2]] = 200
    if logy:   # decade ticks
        for d in range(int(np.floor(yr[0])), int(np.ceil(yr[1])) + 1):
            y = top[1] + top[3] - 1 - (d - yr[0]) / max(yr[1] - yr[0], 1e-12) * (top[3] - 1)
            if top[1] <= y < top[1] + top[3]:
                img[int(y), top[0]:top[0] + 6] = (0, 0, 0)
    for st in onsets:
        x = top[0] + (st - xr[0]) / max(xr[1] - xr[0], 1e-12) * (top[2] - 1)
        line(img, x, oy + PAD, x, oy + PH - PAD, (0, 170, 0))
    for st in accepted_at:
        x = top[0] + (st - xr[0]) / max(xr[1] - xr[0], 1e-12) * (top[2] - 1)
        line(img, x, oy + PAD, x, oy + PAD + 20, (255, 140, 0))
    if val:
        draw_series(img, top, val[0], val[1], xr, yr, logy, (40, 90, 230))
    draw_series(img, top, loss[0], loss[1], xr, yr, logy, (0, 0, 0))
    info = {"x": xr, "loss": (yr if not logy else tuple(10 ** np.array(yr))), "log": bool(logy)}
    if grads:
        bot = (ox + PAD, oy + 2 * PAD + top[3], PW - 2 * PAD, PH - 3 * PAD - top[3])
        gyr = yrange([g[1] for g in grads], True)
        img[bot[1]:bot[1] + bot[3], bot[0]] = 200
        for d in range(int(np.floor(gyr[0])), int(np.ceil(gyr[1])) + 1):
            y = bot[1] + bot[3] - 1 - (d - gyr[0]) / max(gyr[1] - gyr[0], 1e-12) * (bot[3] - 1)
            if bot[1] <= y < bot[1] + bot[3]:
                img[int(y), bot[0]:bot[0] + 4] = (0, 0, 0)
        for k, g in enumerate(grads):
            col = (220, 0, 0) if (k == 0 and roles.get("grad_norm")) else (150, 150, 150)
            draw_series(img, bot, g[0], g[1], xr, gyr, True, col)
        info["grads"] = tuple(10 ** np.array(gyr))
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--labels", required=True)
    ap.add_argument("--root", required=True, help="directory the labels' files are relative to")
    ap.add_argument("--out", required=True)
    ap.add_argument("--cols", type=int, default=3)
    ap.add_argument("ids", nargs="+")
    a = ap.parse_args()
    with open(a.labels) as f:
        labs = {l["id"]: l for l in json.load(f)["runs"]}
    ids = a.ids
    rows = (len(ids) + a.cols - 1) // a.cols
    img = np.full((rows * PH, a.cols * PW, 3), 230, dtype=np.uint8)
    for k, rid in enumerate(ids):
        l = labs[rid]
        series, _ = read_series(os.path.join(a.root, l["file"]), l.get("roles", {}).get("step"))
        ons = [s["onset"] for s in l["symptoms"] if s.get("onset") is not None]
        info = panel(img, (k % a.cols) * PW, (k // a.cols) * PH, series, l["roles"], ons, [])
        print(f"panel {k}: {rid} {[s['kind'] + '@' + format(s['onset'], 'g') for s in l['symptoms']]} "
              f"accepted {l.get('accepted')} x {info['x'][0]:g}..{info['x'][1]:g} loss {info['loss'][0]:.3g}..{info['loss'][1]:.3g}"
              f"{' log' if info['log'] else ''}{' grads %.2g..%.2g' % info['grads'] if 'grads' in info else ''}")
    write_png(a.out, img)
    return 0


if __name__ == "__main__":
    sys.exit(main())
