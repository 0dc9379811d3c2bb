#!/usr/bin/python3
"""Checks logread.py's TensorBoard reader on event files written here byte by byte (TF1
`simple_value`, TF2 one-element tensors as packed `float_val`, `tensor_content` and `double_val`,
a non-scalar tensor and a string tensor left out, a Keras run's `train/` and `validation/`
folders) and on a real Lightning event file of the repository's test data; and JSON Lines under
another name (DETR's `log.txt`), a semicolon-separated CSV, a DVCLive folder, JSON documents (a list of records, Histories), a long table, TensorBoard's
CSV download and printed training logs (GAN logs among them). Standard library and NumPy only; exits 1 on a failed check."""
import os
import struct
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from logread import read_series  # noqa: E402


def varint(n):
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def field(number, wire, payload):
    key = varint(number << 3 | wire)
    if wire == 0:
        return key + varint(payload)
    if wire == 2:
        return key + varint(len(payload)) + payload
    return key + payload  # fixed 32 or 64 bits, already packed


def value(tag, simple=None, tensor=None):
    body = field(1, 2, tag.encode())
    if simple is not None:
        body += field(2, 5, struct.pack("<f", simple))
    if tensor is not None:
        body += field(8, 2, tensor)
    return field(1, 2, body)


def event(step, *values):
    body = field(1, 1, struct.pack("<d", 1.7e9)) + field(2, 0, step)
    if values:
        body += field(5, 2, b"".join(values))
    return body


def record(data):
    # length, its CRC, the data, its CRC (the reader does not check the CRCs: zeros here)
    return struct.pack("<Q", len(data)) + b"\0" * 4 + data + b"\0" * 4


def main():
    failures = []

    def check(what, ok):
        if not ok:
            failures.append(what)
            print("FAILED: " + what)

    float_val = field(1, 0, 1) + field(5, 2, struct.pack("<f", 0.75))            # DT_FLOAT, packed
    content = field(1, 0, 1) + field(4, 2, struct.pack("<f", 0.5))               # DT_FLOAT, raw bytes
    double_val = field(1, 0, 2) + field(6, 2, struct.pack("<d", 0.125))          # DT_DOUBLE
    vector = field(1, 0, 1) + field(5, 2, struct.pack("<ff", 1.0, 2.0))          # two elements: no scalar
    text = field(1, 0, 7) + field(8, 2, b"hello")                                # DT_STRING: no scalar
    events = [
        event(0),                                                                # file_version only
        event(10, value("loss", simple=2.0), value("lr", simple=0.1)),
        event(20, value("loss", simple=1.5)),
        event(30, value("loss", tensor=float_val), value("notes", tensor=text)),
        event(40, value("loss", tensor=content), value("hist", tensor=vector)),
        event(50, value("val_loss", tensor=double_val)),
    ]
    with tempfile.TemporaryDirectory() as d:
        run = os.path.join(d, "run")
        os.mkdir(run)
        path = os.path.join(run, "events.out.tfevents.1700000000.host.1.0")
        with open(path, "wb") as f:
            f.write(b"".join(record(e) for e in events))
        for where in (path, run):
            series, step_key = read_series(where)
            check(f"{where}: step key", step_key == "step")
            check(f"{where}: series", sorted(series) == ["loss", "lr", "val_loss"])
            steps, values = series["loss"]
            check(f"{where}: loss steps", steps.tolist() == [10, 20, 30, 40])
            check(f"{where}: loss values", values.tolist() == [2.0, 1.5, 0.75, 0.5])
            check(f"{where}: val_loss", series["val_loss"][1].tolist() == [0.125])
        # A Keras run: train/ and validation/ folders, tags prefixed with the folder.
        keras = os.path.join(d, "keras")
        for sub, losses in (("train", [1.0, 0.5]), ("validation", [1.25, 0.875])):
            os.makedirs(os.path.join(keras, sub))
            with open(os.path.join(keras, sub, "events.out.tfevents.1700000001.host.2.v2"), "wb") as f:
                f.write(b"".join(record(event(e, value("epoch_loss", tensor=field(1, 0, 1) + field(
                    5, 2, struct.pack("<f", x))))) for e, x in enumerate(losses)))
        series, _ = read_series(keras)
        check("keras folder: series", sorted(series) == ["train/epoch_loss", "validation/epoch_loss"])
        check("keras folder: values", series["validation/epoch_loss"][1].tolist() == [1.25, 0.875])
        # JSON Lines under another name (DETR's log.txt), after a byte order mark; a .txt CSV stays CSV.
        detr = os.path.join(d, "log.txt")
        with open(detr, "wb") as f:
            f.write(b"\xef\xbb\xbf" + b"".join(b'{"train_loss": %g, "test_coco_eval_bbox": [0.1, 0.2], "epoch": %d}\n'
                                               % (2.0 - e, e) for e in range(3)))
        series, step_key = read_series(detr)
        check("log.txt JSON Lines: step key", step_key == "epoch")
        check("log.txt JSON Lines: loss", series["train_loss"][1].tolist() == [2.0, 1.0, 0.0])
        table = os.path.join(d, "metrics.txt")
        with open(table, "w") as f:
            f.write("step,loss\n0,1.5\n1,0.5\n")
        check("a .txt CSV stays CSV", read_series(table)[0]["loss"][1].tolist() == [1.5, 0.5])
        semis = os.path.join(d, "semis.csv")
        with open(semis, "w") as f:
            f.write("epoch;loss\n0;1.5\n1;0.5\n")
        check("a semicolon-separated CSV", read_series(semis)[0]["loss"][1].tolist() == [1.5, 0.5])
        named = os.path.join(d, "convergence.csv")
        with open(named, "w") as f:
            f.write("epoch, avg_loss\nEpoch 1, 1.5\nEpoch 2/9, 0.5\nRound 3, 0.25\n")
        steps = read_series(named)[0][" avg_loss"][0].tolist()
        check("a step cell repeating its column's name", steps == [1, 2, 2])  # `Round 3`: the record index
        # JSON documents as convdiag reads them: a list of records; a History whose epochs are
        # objects (`train/loss`); pandas' History, keyed by epoch with a null for a missing value.
        docs = {
            "records.json": '[{"step": 5, "loss": 1.5}, {"step": 10, "loss": 0.5, "val_loss": 0.75}]',
            "history.json": '{"train": [{"loss": 1.5, "acc": 0.5}, {"loss": 0.5, "acc": 0.75}],'
                            ' "val": [{"loss": 2.0}, {"loss": 1.0}]}',
            "pandas.json": '{"loss": {"0": 1.5, "1": 0.5, "2": 0.25}, "val_loss": {"0": 2.0, "1": null, "2": 1.0}}',
            "described.json": '{"backbone": "b0", "classes": ["a", "b"], "test_acc": 72.7, "loss": [1.5, 0.5],'
                              ' "val_loss": [2.0, 1.0], "phase_starts": [0, 1]}',
        }
        for name, text in docs.items():
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        series, step_key = read_series(os.path.join(d, "records.json"))
        check("a list of records", step_key == "step" and series["loss"][0].tolist() == [5, 10]
              and series["val_loss"][0].tolist() == [10])
        series, step_key = read_series(os.path.join(d, "history.json"))
        check("a History of objects", step_key == "epoch" and series["train/loss"][1].tolist() == [1.5, 0.5]
              and series["val/loss"][0].tolist() == [0, 1] and "train/acc" in series)
        series, _ = read_series(os.path.join(d, "described.json"))
        check("a History with a description", sorted(series) == ["loss", "phase_starts", "val_loss"])
        series, _ = read_series(os.path.join(d, "pandas.json"))
        check("pandas' History", series["loss"][0].tolist() == [0, 1, 2] and series["val_loss"][0].tolist() == [0, 2])
        # A long table and TensorBoard's CSV download, as convdiag reads them.
        long = os.path.join(d, "long.csv")
        with open(long, "w") as f:
            f.write(",epoch,split,metric,value\n0,1,train,loss,1.5\n1,1,val,loss,2.0\n2,2,train,loss,1.0\n"
                    "3,2,val,loss,\n4,,test,loss,2.5\n")
        series, step_key = read_series(long)
        check("a long table", step_key == "epoch" and series["loss"][1].tolist() == [1.5, 1.0]
              and series["val_loss"][0].tolist() == [1] and series["test_loss"][0].tolist() == [2])
        tb = os.path.join(d, "run-version_0-tag-train_loss.csv")
        with open(tb, "w") as f:
            f.write("Wall time,Step,Value\n1.7e9,49,2.5\n1.7e9,99,2.0\n")
        series, step_key = read_series(tb)
        check("TensorBoard's CSV download", step_key == "Step" and series["train_loss"][0].tolist() == [49, 99])
        # Printed training logs (the repository's test data), as convdiag's text reader takes them.
        printed = os.path.join(HERE, "..", "..", "..", "tests", "logs", "data", "printed")
        series, step_key = read_series(os.path.join(printed, "tutorial_steps.log"))
        check("printed: a tutorial's steps", step_key == "step" and series["loss"][0].tolist()[:7] ==
              [100, 200, 300, 400, 500, 600, 700])
        series, step_key = read_series(os.path.join(printed, "keras_progress.log"))
        check("printed: Keras's progress bar", step_key == "epoch" and len(series["val_loss"][0]) == 20
              and series["loss"][1][0] == 0.6)
        series, step_key = read_series(os.path.join(printed, "metric_logger.log"))
        check("printed: DeiT's MetricLogger", step_key is None and len(series["loss"][0]) == 84
              and len(series["test_loss"][0]) == 48 and series["lr"][1][0] == 0.00004)
        series, _ = read_series(os.path.join(printed, "mnist_example.log"))
        check("printed: PyTorch's MNIST example", sorted(series) == ["loss", "test_average_loss"]
              and series["test_average_loss"][0][0] == 10)
        series, step_key = read_series(os.path.join(printed, "section_headers.log"))
        check("printed: a section header's phase", step_key == "epoch" and sorted(series) == ["avg_loss", "val_avg_loss"]
              and series["val_avg_loss"][1][0] == 0.785 and series["avg_loss"][1][0] == 0.857)
        series, step_key = read_series(os.path.join(printed, "epoch_summaries.log"))
        check("printed: an epoch's summary keeps the step counted over the run", step_key == "step"
              and series["average_loss"][0].tolist() == [200, 400, 600, 800]
              and series["validation_loss"][0].tolist() == [200, 400, 600, 800] and series["loss"][0][-1] == 800)
        series, _ = read_series(os.path.join(printed, "config_dump_steps.log"))
        check("printed: logging places are no metrics", "node-a" not in series and "a" not in series
              and not any(n.endswith(".py") for n in series))
        series, step_key = read_series(os.path.join(printed, "detectron2_eval.log"))
        check("printed: detectron2's evaluation lines", step_key == "step" and "dataloading" not in series
              and "copypaste" not in series and series["total_loss"][0].tolist()[:2] == [19, 39])
        sb3 = os.path.join(d, "progress.csv")
        with open(sb3, "w") as f:
            f.write("rollout/ep_rew_mean,time/iterations,time/total_timesteps,train/value_loss\n"
                    "20,1,2048,\n35,2,4096,10\n50,3,6144,6.7\n")
        series, step_key = read_series(sb3)
        check("Stable-Baselines3's progress.csv is stepped by its environment steps",
              step_key == "time/total_timesteps" and series["train/value_loss"][0].tolist() == [4096, 6144]
              and series["rollout/ep_rew_mean"][0].tolist() == [2048, 4096, 6144])
        units = os.path.join(d, "units.log")
        with open(units, "w") as f:
            f.write("step 1 loss: 0.9 (0.95) time: 0.4 s eta: 12 min\nstep 2 loss: 0.8 (0.9) time: 0.4 sec mem: 11 GB\n")
        series, _ = read_series(units)
        check("printed: values with a unit", sorted(series) == ["loss"] and series["loss"][1].tolist() == [0.9, 0.8])
        ends = os.path.join(d, "ends.log")
        with open(ends, "w") as f:
            f.write("Validation:\nepoch 1 loss: 0.5\nepoch 2 loss: 0.4\nTest:\nepoch 2 acc: 0.9\nepoch 2 train loss: 0.41\n"
                    "Evaluating the model on the validation windows now\nepoch 3 loss: 0.3\n")
        series, step_key = read_series(ends)
        check("printed: where a section ends", step_key == "epoch" and sorted(series) ==
              ["loss", "test_acc", "train_loss", "val_loss"] and series["loss"][0].tolist() == [2, 3]
              and series["val_loss"][0].tolist() == [1])
        gan = os.path.join(HERE, "..", "..", "..", "tests", "logs", "data", "gan")
        series, step_key = read_series(os.path.join(gan, "pix2pix_loss_log.txt"))
        check("printed: pix2pix's loss_log.txt", step_key is None and len(series["g_gan"][0]) == 150
              and "d_real" in series and "d_fake" in series)
        series, _ = read_series(os.path.join(gan, "dcgan_d_wins.log"))
        check("printed: the DCGAN example's losses", sorted(series) == ["loss_d", "loss_g"])
        appended = os.path.join(d, "loss_log.txt")
        with open(appended, "w") as f:
            for run in range(2):
                f.write("================ Training Loss (Mon Dec  7 10:00:00 2026) ================\n")
                for e in range(1, 3 - run + 1):
                    f.write(f"(epoch: {e}, iters: 100, time: 0.2, data: 0.1) D_A: 0.3 G_A: 0.4 \n"
                            f"(epoch: {e}, iters: 200, time: 0.2, data: 0.1) D_A: 0.28 G_A: 0.41 \n")
        series, _ = read_series(appended)
        check("printed: appended runs count their records from 0 again",
              series["g_a"][0].tolist() == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3])
        wide = os.path.join(d, "wide.csv")
        with open(wide, "w") as f:
            f.write("step,metric,value,lr\n0,loss,1.5,0.1\n")
        check("a wide table stays wide", sorted(read_series(wide)[0]) == ["lr", "value"])
        with open(path, "ab") as f:
            f.write(struct.pack("<Q", 100) + b"\0" * 8)                           # a record cut short
        try:
            read_series(path)
            check("a truncated record is refused", False)
        except ValueError:
            pass

    real = os.path.join(HERE, "..", "..", "..", "tests", "data", "real", "tfevents", "vicreg-ablation",
                        "lightning_logs_version_29", "events.out.tfevents.1685262352.lzh.3132.1")
    series, _ = read_series(real)
    steps, values = series["train_loss"]
    check("real Lightning file: steps", steps.tolist() == [99, 149])
    check("real Lightning file: values", [round(v, 4) for v in values.tolist()] == [21.202, 21.2573])
    # A DVCLive folder (the repository's test data): each plots/metrics/<name>.tsv is the series <name>.
    dvc = os.path.join(HERE, "..", "..", "..", "tests", "logs", "data", "dvclive")
    series, step_key = read_series(dvc)
    check("DVCLive: series", sorted(series) == ["eval/loss", "lr", "train/loss"] and step_key == "step")
    check("DVCLive: eval/loss steps", series["eval/loss"][0].tolist() == [4, 9, 14, 19, 24, 29, 34, 39])
    print("test_logread: " + ("ok" if not failures else f"{len(failures)} failed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
