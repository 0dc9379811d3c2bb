"""Reads a training log (CSV with a header, JSON Lines, TensorBoard event files, a DVCLive folder)
into named series, for labelling and plotting. Standard library and NumPy only; independent of
convdiag's readers.

A file under another name than .csv/.tsv whose first MiB prints a loss (`loss: 0.52`) is a training
loop's printed output, read as convdiag's text reader reads it. A CSV file may also be a long table (a metric-name and a value column, one value a row) or
TensorBoard's CSV download of one tag. A .json file may also be one document: Hugging Face's `trainer_state.json`, a Keras History dump
(also as pandas writes it, with an epoch's metrics as one object, and with a description of the
run beside its lists, which is left out) or a list of records. A
file named `events.out.tfevents.*` (or a folder holding such files) is read as TensorBoard
records: each scalar summary value (TF1 `simple_value`, or a TF2 one-element float tensor)
becomes a record {"step": the event's step, tag: value}. A series is (steps, values) as NumPy
arrays, in file order; missing cells are left out, non-finite numbers kept. The step of a record
is the first present of `step`, `global_step`, `_step`, `current_steps`, `time/total_timesteps`,
`timesteps_total`, `iteration`, `iter`,
`epoch` (or the column named by `step_col`), else the record index; a step cell that repeats its
column's name before the integer (`Epoch 3`, Keras's printed `Epoch 3/50`) is that integer, as in
convdiag's CSV reader.
"""
import csv
import json
import math
import os
import re
import struct

import numpy as np

# the step column: the first present of these, ignoring case (as convdiag's readers choose it)
STEP_KEYS = ("step", "global_step", "_step", "current_steps", "time/total_timesteps", "timesteps_total", "iteration",
             "iter", "epoch")
MISSING = {"", "na", "n/a", "null", "none"}


def _num(cell):
    if cell is None:
        return None
    if isinstance(cell, bool):
        return None
    if isinstance(cell, (int, float)):
        return float(cell)
    s = str(cell).strip()
    if s.lower() in MISSING:
        return None
    try:
        return float(s)
    except ValueError:
        return None


def _named_step(cell, name):
    """A step cell that repeats its column's name before the integer (`Epoch 3`, `epoch: 3`,
    `Epoch 3/50`), as convdiag's CSV reader takes it; None otherwise."""
    if not isinstance(cell, str) or not name:
        return None
    m = re.fullmatch(re.escape(name.strip()) + r"[ \t:=]+(\d+)(?:/(\d+))?", cell.strip(), re.IGNORECASE)
    if m is None or (m.group(2) is not None and int(m.group(2)) <= 0):
        return None
    return float(m.group(1))


def _flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "/"))
        else:
            out[key] = v
    return out


def _epoch_keyed(v):
    """pandas' `to_json` of a History: a metric as an object keyed by the epoch index."""
    return isinstance(v, dict) and bool(v) and all(k.isdigit() and len(k) <= 19 for k in v)


def _whole_json(path):
    """A .json file that is one document, as convdiag reads it: Hugging Face's trainer_state.json
    (its `log_history` records); a Keras History dump (`{"loss": [...], "val_loss": [...]}`, one
    record per epoch; a metric may also be keyed by epoch, as pandas writes it, and an epoch's
    value may be an object of several metrics, `train/loss` in `{"train": [{"loss": ...}]}`); or
    a list of records. None for JSON Lines."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except ValueError:
        return None
    if isinstance(doc, dict) and isinstance(doc.get("log_history"), list):
        return [_flatten(r) for r in doc["log_history"] if isinstance(r, dict)]
    def per_epoch(v):
        return _epoch_keyed(v) or (isinstance(v, list) and any(
            isinstance(x, (dict, int, float)) and not isinstance(x, bool) for x in v))

    def metadata(v):
        return v is None or isinstance(v, (str, int, float, bool)) or (isinstance(v, list) and not per_epoch(v))
    # a hand-made history also saves what describes the run beside its lists (the backbone, the
    # class names, the test accuracy): left out when at least two lists of 2+ per-epoch values are there
    described = (isinstance(doc, dict) and sum(per_epoch(v) and len(v) >= 2 for v in doc.values()) >= 2
                 and all(per_epoch(v) or metadata(v) for v in doc.values()))
    if described:
        doc = {k: v for k, v in doc.items() if not metadata(v)}
    if isinstance(doc, dict) and doc and all(isinstance(v, list) or _epoch_keyed(v) for v in doc.values()):
        by_epoch = {}
        for name, v in doc.items():
            items = enumerate(v) if isinstance(v, list) else ((int(k), x) for k, x in v.items())
            for i, x in items:
                if x is None:
                    continue  # pandas writes a missing value as null
                rec = by_epoch.setdefault(i, {"epoch": i})
                if isinstance(x, dict):
                    rec.update({k: y for k, y in _flatten(x, name + "/").items() if not isinstance(y, (list, str))})
                else:
                    rec[name] = x
        return [by_epoch[i] for i in sorted(by_epoch)]
    if isinstance(doc, list) and doc and all(isinstance(r, dict) for r in doc):
        return [_flatten(r) for r in doc]
    return None


def _varint(b, i):
    shift = value = 0
    while True:
        if i >= len(b):
            raise ValueError("truncated varint")
        c = b[i]
        i += 1
        value |= (c & 0x7F) << shift
        if c < 0x80:
            return value, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(b):
    """(field number, wire type, value) of a protobuf message: ints for varints, bytes for
    length-delimited fields and for the fixed 32- and 64-bit ones."""
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _varint(b, i)
        elif wire == 1:
            v, i = b[i:i + 8], i + 8
        elif wire == 2:
            n, i = _varint(b, i)
            v, i = b[i:i + n], i + n
        elif wire == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        if i > len(b):
            raise ValueError("truncated field")
        yield field, wire, v


# TensorProto dtypes with a numeric scalar: DT_FLOAT, DT_DOUBLE, DT_INT32, DT_INT64, DT_HALF.
_TENSOR_DTYPES = {1: ("<f", 4, 5), 2: ("<d", 8, 6), 3: ("<i", 4, 7), 9: ("<q", 8, 10), 19: ("<e", 2, 13)}


def _tensor_scalar(b):
    """The value of a one-element numeric TensorProto, else None."""
    dtype, content, vals = None, None, []
    for f, w, v in _fields(b):
        if f == 1 and w == 0:
            dtype = v
        elif f == 4 and w == 2:
            content = v
        elif f in (5, 6, 7, 10, 13):
            vals.append((f, w, v))
    if dtype not in _TENSOR_DTYPES:
        return None
    fmt, size, field = _TENSOR_DTYPES[dtype]
    if content is not None:
        return struct.unpack(fmt, content)[0] if len(content) == size else None
    out = []
    for f, w, v in vals:
        if f != field:
            continue
        if w == 2 and fmt in ("<f", "<d"):  # packed floats or doubles
            out += [x for (x,) in struct.iter_unpack(fmt, v)]
        elif w == 2:  # packed varints
            j = 0
            while j < len(v):
                x, j = _varint(v, j)
                out.append(x)
        elif w == 5:
            out.append(struct.unpack("<f", v)[0])
        elif w == 1:
            out.append(struct.unpack("<d", v)[0])
        else:
            out.append(v)
    if len(out) != 1:
        return None
    x = out[0]
    if fmt == "<e" and isinstance(x, int):  # half_val holds the bits
        return struct.unpack("<e", struct.pack("<H", x & 0xFFFF))[0]
    if fmt in ("<i", "<q") and isinstance(x, int) and x >= 1 << 63:
        x -= 1 << 64
    return float(x)


def _tfevents(path):
    """Records of a TensorBoard event file, or of every event file below a folder (by name), whose
    tags are prefixed with the subfolder that holds them (Keras writes `train/` and `validation/`
    beside each other: `train/epoch_loss`, `validation/epoch_loss`)."""
    if os.path.isdir(path):
        files = []
        for d, _, names in os.walk(path):
            files += [os.path.join(d, n) for n in names if n.startswith("events.out.tfevents")]
        files.sort()
    else:
        files = [path]
    recs = []
    for name in files:
        rel = os.path.relpath(os.path.dirname(name), path) if os.path.isdir(path) else "."
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        with open(name, "rb") as f:
            data = f.read()
        i = 0
        while i + 12 <= len(data):
            (n,) = struct.unpack_from("<Q", data, i)
            event = data[i + 12:i + 12 + n]
            if len(event) < n:
                raise ValueError(f"{name}: record at byte {i} runs past the end")
            i += 12 + n + 4
            step, values = 0, {}
            for f, w, v in _fields(event):
                if f == 2 and w == 0:
                    step = v - (1 << 64) if v >= 1 << 63 else v
                elif f == 5 and w == 2:
                    for g, gw, val in _fields(v):
                        if g != 1 or gw != 2:
                            continue
                        tag, x = None, None
                        for h, hw, hv in _fields(val):
                            if h == 1 and hw == 2:
                                tag = hv.decode("utf-8", "replace")
                            elif h == 2 and hw == 5:
                                x = struct.unpack("<f", hv)[0]
                            elif h == 8 and hw == 2:
                                x = _tensor_scalar(hv)
                        if tag is not None and x is not None:
                            values[tag] = x
            if values:
                recs.append(dict({"step": step}, **{prefix + t: x for t, x in values.items()}))
    return recs


def _starts_with_brace(path):
    """A file under another name whose first character is '{' holds JSON Lines (DETR's log.txt)."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    return head.lstrip(b" \t\r\n").startswith(b"{")


def _dvclive_metrics(path):
    """DVCLive's plots/metrics folder of a folder (itself, plots/metrics, dvclive/plots/metrics), or None."""
    if not os.path.isdir(path):
        return None
    here = os.path.normpath(path)
    cands = [os.path.join(path, "plots", "metrics"), os.path.join(path, "dvclive", "plots", "metrics")]
    if os.path.basename(here) == "metrics" and os.path.basename(os.path.dirname(here)) == "plots":
        cands.insert(0, here)
    for c in cands:
        if os.path.isdir(c) and any(n.endswith(".tsv") for _, _, ns in os.walk(c) for n in ns):
            return c
    return None


def _dvclive(metrics):
    """Each plots/metrics/<name>.tsv as the series <name> at its step, merged into records by step."""
    by_step = {}
    for root, dirs, names in os.walk(metrics):
        dirs.sort()
        for n in sorted(names):
            if not n.endswith(".tsv") or n.startswith("."):
                continue
            name = os.path.relpath(os.path.join(root, n), metrics)[:-4].replace(os.sep, "/")
            with open(os.path.join(root, n), encoding="utf-8-sig", newline="") as f:
                rows = list(csv.reader(f, delimiter="\t"))
            head, values = rows[0], [h for h in rows[0] if h not in ("timestamp", "step")]
            for r in rows[1:]:
                rec = dict(zip(head, r))
                for v in values:
                    key = name if len(values) == 1 else name + "/" + v
                    by_step.setdefault(rec["step"], {"step": rec["step"]})[key] = rec.get(v, "")
    return [by_step[k] for k in sorted(by_step, key=float)]


LONG_NAMES = ("metric", "metric_name", "name", "key", "tag")
LONG_SPLITS = ("split", "phase", "mode", "stage", "subset")
TIME_COLUMNS = ("wall_time", "wall time", "walltime", "timestamp", "time", "_timestamp", "_runtime")
VAL_SPLITS = ("val", "valid", "validation", "eval", "evaluation", "dev")


def _long_table(path, head, rows):
    """Records of a long table (a step, a metric name and a value column, maybe the split, wall-clock
    time and pandas' unnamed index: one value a row; a validation split's metrics `val_<name>`,
    test's `test_<name>`, another's `<split>_<name>`), or of TensorBoard's CSV download (`Wall
    time,Step,Value`, the series named after the `-tag-<tag>` of its file name, else the file); None
    for a wide table. As convdiag's CSV reader takes them."""
    names = [h.strip() for h in head]
    if [n.lower() for n in names] == ["wall time", "step", "value"]:
        stem = os.path.basename(path)
        stem = stem[:-4] if stem.lower().endswith(".csv") else stem
        tag = stem.split("-tag-", 1)[1] if "-tag-" in stem and stem.split("-tag-", 1)[1] else stem
        return [{names[1]: r[1], tag or "Value": r[2]} for r in rows if len(r) == 3]
    step = next((n for want in STEP_KEYS for n in names if n.lower() == want), None)
    if step is None:
        return None
    col = {}
    for i, n in enumerate(names):
        low = n.lower()
        if n == step or low in TIME_COLUMNS or (i == 0 and (n in ("", "Unnamed: 0") or low == "index")):
            continue
        role = "value" if low == "value" else "name" if low in LONG_NAMES else "split" if low in LONG_SPLITS else None
        if role is None or role in col:
            return None
        col[role] = i
    if "name" not in col or "value" not in col:
        return None
    si, recs, last = names.index(step), [], None
    for r in rows:
        if len(r) != len(names) or not "".join(r).strip():
            continue
        st = r[si].strip() or last
        last = st
        split = r[col["split"]].strip().lower() if "split" in col else ""
        prefix = ("val_" if split in VAL_SPLITS else "" if split in ("", "train", "training")
                  else "test_" if split == "test" else r[col["split"]].strip() + "_")
        recs.append({step: st, prefix + r[col["name"]].strip(): r[col["value"]]})
    return recs


_ANSI = re.compile(r"\x1b\[[^A-Za-z]*[A-Za-z]")
_NUM = r"[+-]?(?:\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?|\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf(?:inity)?"
# a name's word: name characters, and '-' between word characters (`val-loss`, a host name)
_W = r"(?:[A-Za-z0-9_./]|(?<=[A-Za-z0-9_])-(?=[A-Za-z0-9_]))"
# after a value: no letter, digit, '%', '/', ':', '.', no list (`3.07,6.88`), no unit after blanks (`0.038 s/iter`)
_UNITS = ("s/iter", "s/it", "it/s", "iter/s", "samples/s", "tokens/s", "img/s", "seconds", "second", "secs", "sec", "ms",
          "us", "s", "minutes", "minute", "mins", "min", "hours", "hour", "hrs", "hr", "h", "KB", "MB", "GB", "KiB", "MiB",
          "GiB")
_END = r"(?![A-Za-z0-9_%/:.])(?!,\d)(?![ \t]+(?-i:" + "|".join(re.escape(u) for u in _UNITS) + r")(?![A-Za-z0-9_/]))"
_PAIR = re.compile(r"""(?:['"]([^'"]+)['"]|((?:{w}+ ){{0,2}}{w}+))\s*[:=]\s*(""".format(w=_W) + _NUM +
                   r")" + _END, re.IGNORECASE)
_SPACED_LOSS = re.compile(r"(?<![A-Za-z0-9_./])(?<![A-Za-z0-9_]-)((?:{w}+ ){{0,2}}{w}*(?<![A-Za-z])loss)[ \t]+(".format(w=_W)
                          + _NUM + r")" + _END, re.IGNORECASE)
_MARK = r"""(?<![A-Za-z0-9_])(?:{})['"]?\s*[:=#]?\s*[\[(]?\s*(-?\d+)(?![\d.A-Za-z_])(?:\s*/\s*(\d+))?"""
_EPOCH = re.compile(_MARK.format("epoch"), re.IGNORECASE)
_STEP = re.compile(_MARK.format("global_step|iteration|iter|step"), re.IGNORECASE)
_MARK_NAMES = ("epoch", "step", "iter", "iteration", "global_step")
_LEVELS = ("DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL")
# blanks, more `name:N` places each after blanks, then a logging level (`host:0<TAB>olmo.train:990<TAB>INFO`)
_LEVEL = re.compile(r"(?:[ \t]+[A-Za-z0-9_./-]+:[0-9]+)*[ \t]+(?:" + "|".join(_LEVELS) + r")(?![A-Za-z0-9_])")
_SOURCE_EXT = ("py", "c", "cc", "cpp", "cxx", "h", "hpp", "cu", "rs", "go", "java", "js", "ts", "jl", "lua")
_HEADER_WORDS = 4


def _word_phase(word):
    """The phase a word names: "" the training, "val_" or "test_" an evaluation, None no phase."""
    w = word.lower()
    if w in ("train", "training"):
        return ""
    if w in ("val", "valid", "validation", "eval", "evaluation", "dev", "validate", "validating", "evaluate",
             "evaluating"):
        return "val_"
    if w in ("test", "testing"):
        return "test_"
    return None


def _header_phase(line):
    """A section header's phase (a line without metrics, at most four words of letters besides a
    logging level, the first naming a phase), else None."""
    words = [w for w in re.findall(r"[A-Za-z]+", line) if w not in _LEVELS]
    if not words or len(words) > _HEADER_WORDS:
        return None
    return _word_phase(words[0])


def _printed_name(quoted, words):
    if quoted is not None:
        return quoted.lower().replace(" ", "_")
    ws = words.split(" ")
    for i in range(len(ws) - 1, -1, -1):  # a word not starting with a letter ends what came before
        if not ws[i][:1].isalpha():
            ws = ws[i + 1:]
            break
    return "_".join(ws).lower()


def _printed_line(raw):
    """(epoch mark, step mark, [(name, value)]) of one printed line: its last drawing (after the
    last carriage return or backspace), colour codes left out; marks are (n, total or 0) or None."""
    segs = [x for x in re.split(r"[\r\b]", raw) if x.strip(" \t")]
    line = _ANSI.sub("", segs[-1] if segs else "")
    mark = lambda rx: (lambda m: (int(m.group(1)), int(m.group(2) or 0)) if m and abs(int(m.group(1))) <= 10**9 else None)(rx.search(line))
    epoch, step = mark(_EPOCH), mark(_STEP)
    out = []

    def add(name, v):
        if not name or any(name == m or name.endswith("_" + m) for m in _MARK_NAMES):
            return
        if phase and not _has_phase(name):
            name = phase + name
        if name not in [n for n, _ in out]:
            out.append((name, float(v.replace(",", ""))))
    # (where its separator is, name, value); `olmo.train:990<TAB>INFO` (Python logging's places before
    # its level) and `api.py:725]` (a source file's line, as glog prints it) are where, not what
    found = []
    for m in _PAIR.finditer(line):
        name = _printed_name(m.group(1), m.group(2) or "")
        if line[m.start(3) - 1] == ":" and re.fullmatch(r"[0-9]+", m.group(3)) and (
                _LEVEL.match(line, m.end(3)) or name.rsplit(".", 1)[-1] in _SOURCE_EXT and "." in name):
            continue
        found.append((m.end(1) if m.group(1) is not None else m.end(2), name, m.group(3)))
    if epoch or step:
        found += [(m.end(1), _printed_name(None, m.group(1)), m.group(2)) for m in _SPACED_LOSS.finditer(line)]
    found.sort()
    # the phase: a word between spaces, before the first named value (or a printed dict), naming one
    first = min([line.find("{") if "{" in line else len(line)] + [at for at, name, _ in found if name][:1])
    phase = None
    for word in line[:first].split():
        phase = _word_phase(word.lstrip("[(<*#-|").rstrip(":|,]).>-"))
        if phase is not None:
            break
    for _, name, v in found:
        add(name, v)
    return epoch, step, out, phase is not None, (_header_phase(line) if not found else None)


def _tail_keys(name):
    """The letters and digits, lower-cased, of a name's last path component and of its last two."""
    key = lambda x: re.sub(r"[^a-z0-9]", "", x.lower())
    parts = name.split("/")
    return key(parts[-1]), key("/".join(parts[-2:]))


GENERATOR_KEYS = {"lossg", "gloss", "errg", "lossgen", "genloss", "generatorloss", "lossgenerator", "ggan", "lossggan",
                  "gadv", "ga", "gb", "g"}
DISCRIMINATOR_KEYS = {"lossd", "dloss", "errd", "lossdis", "disloss", "lossdisc", "discloss", "discriminatorloss",
                      "lossdiscriminator", "dreal", "lossdreal", "da", "db", "d", "criticloss", "losscritic"}


def is_generator_loss(name):
    return bool(set(_tail_keys(name)) & GENERATOR_KEYS)


def is_discriminator_loss(name):
    return bool(set(_tail_keys(name)) & DISCRIMINATOR_KEYS)


def _holds_loss(names):
    """Whether a printed line prints a loss: a name holding "loss", or a GAN's generator and
    discriminator losses side by side (CycleGAN's `D_A: 0.29 G_A: 0.33`), as convdiag's text reader
    takes it."""
    names = list(names)
    return any("loss" in n for n in names) or (any(map(is_generator_loss, names)) and
                                                 any(map(is_discriminator_loss, names)))


def _has_phase(name):
    return re.match(r"(train|val|valid|validation|eval|evaluation|test|dev)[_/]", name, re.IGNORECASE) is not None


def _printed(path):
    """Records of a training loop's printed output, as convdiag's text reader takes them: marks carry
    to the lines after them, lines before the first loss are set-up, and the step is the step mark
    (counted on across epochs from its printed total when it starts again), else the epoch mark, each
    only when it never goes back and holds each metric at most once; else the record index."""
    with open(path, encoding="utf-8", errors="replace", newline="\n") as f:
        lines = f.read().split("\n")
    recs, epoch, step, carried = [], None, None, False
    # a section header's phase holds for the lines of metrics right below it that neither name a phase
    # nor have a name that does, while they show the first one's marks
    section, section_marks = None, None
    for raw in lines:
        e, s, metrics, phased, header = _printed_line(raw)
        if not metrics:
            section, section_marks = header, None
        elif section is not None:
            at = (e and e[0], s and s[0])  # the marks' numbers, printed on the line itself
            if section_marks is None:
                section_marks = at
            if section_marks != at:
                section = None
            elif not phased and section and not any(_has_phase(n) for n, _ in metrics):
                metrics = [(section + n, v) for n, v in metrics]
        if e is not None:
            epoch = e
            carried = carried or (s is None and step is not None)
        if s is not None:
            step, carried = s, False
        if metrics:
            recs.append((epoch, step, metrics, carried))
    # set-up: what comes before the first loss, and in a log whose lines say where they are, before the
    # first loss that does (a configuration dump holding `aux_loss_weight=0.01`)
    marked = any(r[0] is not None or r[1] is not None for r in recs)
    first = next((i for i, r in enumerate(recs) if _holds_loss(n for n, _ in r[2])
                  and (not marked or r[0] is not None or r[1] is not None)), 0)
    recs = recs[first:]
    # a step printed before an epoch mark holds after it (an epoch's summary between lines of a step
    # counted over the run), unless the printed steps start again each epoch
    own = [r[1][0] for r in recs if r[1] and not r[3]]
    if any(b < a for a, b in zip(own, own[1:])):
        recs = [(e, None if c else s, m, c) for e, s, m, c in recs]
    restarts = any(b[1] and a[1] and b[1][0] < a[1][0] for a, b in zip(recs, recs[1:]))
    e0 = recs[0][0][0] if recs and recs[0][0] else 0

    def orders(at):
        # a value printed again at the same mark is that point again; another value is a second point,
        # unless the name is printed at that one mark only (`got signal: 15` in a killed run's trace)
        seen, marks, conflicting, prev = {}, {}, [], None
        for r in recs:
            x = at(r)
            if prev is not None and x < prev:
                return False
            prev = x
            for n, v in r[2]:
                marks.setdefault(n, set()).add(x)
                if (x, n) in seen and seen[(x, n)] != v:
                    conflicting.append(n)
                seen.setdefault((x, n), v)
        return all(len(marks[n]) == 1 for n in conflicting)
    glob = lambda r: (r[0][0] - e0) * r[1][1] + r[1][0] if restarts else r[1][0]
    if recs and all(r[1] for r in recs) and (not restarts or all(r[1][1] > 0 and r[0] for r in recs)) and orders(glob):
        key, at = "step", glob
    elif recs and all(r[0] for r in recs) and orders(lambda r: r[0][0]):
        key, at = "epoch", lambda r: r[0][0]
    else:
        # the record index is the step; it counts from 0 again where the epoch goes back to the first
        # epoch or below, 1 to 9 times: runs appended one after another (CycleGAN's loss_log.txt)
        starts = [0]
        if recs and all(r[0] for r in recs):
            starts += [i for i in range(1, len(recs)) if recs[i][0][0] < recs[i - 1][0][0] and recs[i][0][0] <= e0]
        if len(starts) == 1 or len(starts) >= 10:
            return [dict(r[2]) for r in recs]
        out, start = [], 0
        for i, r in enumerate(recs):
            if i in starts:
                start = i
            out.append(dict({"step": i - start}, **dict(r[2])))
        return out
    out, added = [], set()
    # read by step, the printed epoch is a series of its own, as a CSV logger's `epoch` column is
    with_epoch = key == "step" and all(r[0] for r in recs)
    for r in recs:
        x = at(r)
        fresh = {n: v for n, v in r[2] if (x, n) not in added}
        if with_epoch and (x, "epoch") not in added:
            fresh["epoch"] = float(r[0][0])
        added.update((x, n) for n in fresh)
        if fresh:
            out.append(dict({key: x}, **fresh))
    return out


def _is_printed(path):
    with open(path, "rb") as f:
        head = f.read(1 << 20).decode("utf-8", "replace")
    return any(_holds_loss(n for n, _ in _printed_line(x)[2]) for x in head.split("\n"))


def read_records(path):
    metrics = _dvclive_metrics(path)
    if metrics:
        return _dvclive(metrics)
    if os.path.basename(path.rstrip("/")).startswith("events.out.tfevents") or (
            os.path.isdir(path) and any(n.startswith("events.out.tfevents") for _, _, ns in os.walk(path) for n in ns)):
        return _tfevents(path)
    if path.endswith(".json"):
        recs = _whole_json(path)
        if recs is not None:
            return recs
    if path.endswith((".jsonl", ".ndjson", ".json")) or (not path.lower().endswith((".csv", ".tsv"))
                                                           and _starts_with_brace(path)):
        recs = []
        with open(path, encoding="utf-8-sig") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                r = _flatten(json.loads(line))
                split = str(r.get("split", r.get("phase", r.get("mode", r.get("stage", ""))))).lower()
                if split in ("val", "valid", "validation", "eval"):
                    r = {(k if k.lower() in STEP_KEYS or k in ("split", "phase", "mode", "stage") else "val_" + k): v
                         for k, v in r.items()}
                recs.append(r)
        return recs
    if not path.lower().endswith((".csv", ".tsv")) and _is_printed(path):
        return _printed(path)
    with open(path, encoding="utf-8-sig", newline="") as f:
        header = f.readline()
        f.seek(0)
        # the separator as convdiag takes it: a comma, else a tab, else a semicolon in the header
        sep = "," if "," in header else "\t" if "\t" in header else ";" if ";" in header else ","
        rows = list(csv.reader(f, delimiter=sep))
    if not rows:
        return []
    head = rows[0]
    long = _long_table(path, head, rows[1:])
    if long is not None:
        return long
    return [dict(zip(head, r)) for r in rows[1:]]


def read_series(path, step_col=None):
    recs = read_records(path)
    keys = []
    for r in recs:
        for k in r:
            if k not in keys:
                keys.append(k)
    sk = step_col or next((k for want in STEP_KEYS for k in keys if k.lower() == want), None)
    data = {}
    for i, r in enumerate(recs):
        st = _num(r.get(sk)) if sk else None
        if st is None and sk:
            st = _named_step(r.get(sk), sk)
        if st is None or not math.isfinite(st):
            st = float(i)
        for k, v in r.items():
            if k == sk:
                continue
            x = _num(v)
            if x is None:
                continue
            data.setdefault(k, ([], []))
            data[k][0].append(st)
            data[k][1].append(x)
    return {k: (np.array(s, dtype=float), np.array(v, dtype=float)) for k, (s, v) in data.items()}, sk
