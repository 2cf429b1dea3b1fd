"""The Python reference for the XGBoost scoring benchmark: xgboost's own fastest call, timed.

Trains (or loads, with --model) a 500-tree, max_depth=6, 64-feature binary:logistic model on
deterministic synthetic data (20k rows, ~5% NaN), saves it as JSON and UBJSON into --out-dir,
writes a population of N rows (CSV with header f00..f63, empty cell = NaN, plus the same rows as
float32 row-major little-endian `rows.f32`), times `booster.inplace_predict` with nthread=1:

  (i)  one row (numpy 1x64 float32), median over --single-calls calls after a warm-up;
  (ii) one batch of all N rows, best of 3;

writes xgboost's predictions for the N rows (float32 LE, `predictions.f32`) so a Rust bench can
check bit equality, and prints one JSON line:

  {"xgboost_version":..., "single_row_us":..., "batch_rows_per_s":..., "model_json":...,
   "model_ubj":..., "rows_f32":..., "predictions_f32":..., ...}

    python3 tools/bench/xgboost_reference.py --out-dir target/bench-xgb [--rows 100000]
    python3 tools/bench/xgboost_reference.py --out-dir target/bench-xgb --model target/bench-xgb/model.json

Needs (verified with Python 3.11): pip install xgboost==3.2.0 numpy
An offline benchmark tool only; never a runtime dependency of the service.
"""
import argparse
import json
import os
import pathlib
import platform
import statistics
import time

import numpy as np
import xgboost as xgb

N_FEATURES = 64
FEATURE_NAMES = [f"f{i:02d}" for i in range(N_FEATURES)]


def synthetic(rng: np.random.Generator, n: int, nan_frac: float = 0.05):
    X = rng.normal(size=(n, N_FEATURES)).astype(np.float32)
    X[:, :8] = np.round(X[:, :8] * 3.0)  # a few low-cardinality columns (many ties on thresholds)
    w = np.linspace(-1.0, 1.0, N_FEATURES)
    z = X @ w * 0.3 + 0.8 * np.sin(X[:, 10]) * X[:, 11] + 0.5 * (X[:, 20] > 0.5) - 0.3
    y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-z))).astype(np.float32)
    X[rng.uniform(size=X.shape) < nan_frac] = np.nan
    return X, y


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-dir", default="target/bench-xgb")
    ap.add_argument("--model", help="load this model (.json/.ubj) instead of training")
    ap.add_argument("--rows", type=int, default=100_000, help="population rows (default 100000)")
    ap.add_argument("--single-calls", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=20240601)
    args = ap.parse_args()

    out = pathlib.Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model_json, model_ubj = out / "model.json", out / "model.ubj"

    train_s = None
    if args.model:
        booster = xgb.Booster(model_file=args.model)
        if pathlib.Path(args.model).resolve() != model_json.resolve():
            booster.save_model(model_json)
        if pathlib.Path(args.model).resolve() != model_ubj.resolve():
            booster.save_model(model_ubj)
    else:
        rng = np.random.default_rng(args.seed)
        X, y = synthetic(rng, 20_000)
        d = xgb.DMatrix(X, y, feature_names=FEATURE_NAMES, missing=np.nan, nthread=2)
        t0 = time.perf_counter()
        booster = xgb.train(
            {"objective": "binary:logistic", "max_depth": 6, "eta": 0.1, "tree_method": "hist",
             "nthread": 2, "seed": 0, "max_bin": 64, "colsample_bytree": 0.5, "subsample": 0.8},
            d, num_boost_round=500)
        train_s = time.perf_counter() - t0
        booster.save_model(model_json)
        booster.save_model(model_ubj)

    # prediction only with one thread
    booster.set_param({"nthread": 1})

    prng = np.random.default_rng(args.seed + 1)
    rows, _ = synthetic(prng, args.rows)
    rows = np.ascontiguousarray(rows, dtype=np.float32)
    rows_f32 = out / "rows.f32"
    rows.astype("<f4").tofile(rows_f32)
    csv_path = out / "population.csv"
    with open(csv_path, "w") as fh:
        fh.write(",".join(FEATURE_NAMES) + "\n")
        for r in rows:
            # repr of the float32 round-trips; NaN -> empty cell
            fh.write(",".join("" if v != v else str(v) for v in r) + "\n")

    # single row: numpy 1x64, median after warm-up
    one = rows[:1].copy()
    for _ in range(200):
        booster.inplace_predict(one, missing=np.nan)
    # Wall time and this process's CPU time: on a shared machine the CPU time is what the
    # call itself cost (the Rust side reports both the same way).
    times, cpu_times = [], []
    for i in range(args.single_calls):
        r = rows[i % len(rows): i % len(rows) + 1]
        c0 = time.process_time_ns()
        t0 = time.perf_counter_ns()
        booster.inplace_predict(r, missing=np.nan)
        times.append(time.perf_counter_ns() - t0)
        cpu_times.append(time.process_time_ns() - c0)
    single_us = statistics.median(times) / 1000.0
    single_cpu_us = statistics.median(cpu_times) / 1000.0

    # batch: all rows, best of 3
    best = best_cpu = float("inf")
    preds = None
    for _ in range(3):
        c0 = time.process_time()
        t0 = time.perf_counter()
        p = booster.inplace_predict(rows, missing=np.nan)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
        preds = p
    preds = np.asarray(preds, dtype=np.float32)
    # inplace_predict must agree bit for bit with predict(DMatrix)
    dm = xgb.DMatrix(rows, feature_names=booster.feature_names, missing=np.nan, nthread=1)
    same = bool(np.array_equal(booster.predict(dm).view(np.uint32), preds.view(np.uint32)))
    preds_path = out / "predictions.f32"
    preds.astype("<f4").tofile(preds_path)

    print(json.dumps({
        "xgboost_version": xgb.__version__,
        "python": platform.python_version(),
        "single_row_us": round(single_us, 3),
        "batch_rows_per_s": round(len(rows) / best, 1),
        "single_row_cpu_us": round(single_cpu_us, 3),
        "batch_cpu_rows_per_s": round(len(rows) / best_cpu, 1),
        "batch_seconds": round(best, 6),
        "rows": len(rows),
        "trees": booster.num_boosted_rounds(),
        "train_seconds": None if train_s is None else round(train_s, 3),
        "predict_equals_inplace_predict": same,
        "model_json": str(model_json),
        "model_ubj": str(model_ubj),
        "population_csv": str(csv_path),
        "rows_f32": str(rows_f32),
        "predictions_f32": str(preds_path),
    }))


if __name__ == "__main__":
    main()
