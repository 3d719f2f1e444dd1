#!/usr/bin/python3
"""Times scikit-learn on the very arrays the TypeScript benchmark uses (same process run, same machine).

Usage: /usr/bin/python3 bench/sklearn_timing.py DIR N [N ...]
reads DIR/labels-N.u8 and DIR/scores-N.f64 (written by metrics.bench.ts), and prints one JSON object:
{"N": {"rocAuc": ms, "averagePrecision": ms, "logLoss": ms}, ...}, each the median of repeated runs after one
warm-up. The values computed are printed too, so the TypeScript side can check both computed the same thing.
"""
import json
import os
import sys
import time
import warnings

import numpy as np
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

warnings.filterwarnings("ignore")


def median_ms(fn, repeats):
    fn()
    times = []
    value = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        value = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times)), float(value)


def main():
    directory = sys.argv[1]
    out = {}
    for n in sys.argv[2:]:
        y = np.fromfile(os.path.join(directory, f"labels-{n}.u8"), dtype=np.uint8).astype(np.int64)
        s = np.fromfile(os.path.join(directory, f"scores-{n}.f64"), dtype=np.float64)
        p = 1 / (1 + np.exp(-s))
        repeats = 5 if int(n) <= 1_000_000 else 3
        row = {}
        for name, fn in (
            ("rocAuc", lambda: roc_auc_score(y, s)),
            ("averagePrecision", lambda: average_precision_score(y, s)),
            ("logLoss", lambda: log_loss(y, p)),
        ):
            ms, value = median_ms(fn, repeats)
            row[name] = {"ms": ms, "value": value}
        out[n] = row
    print(json.dumps(out))


if __name__ == "__main__":
    main()
