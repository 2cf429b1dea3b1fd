"""The Python reference pipeline for the batch-scoring benchmark: the data scientist's notebook,
timed. pandas reads the accounts CSV, LightGBM scores every row, pandas.qcut cuts the scores into
deciles (10 = lowest probabilities, 1 = highest) and psycopg 3 COPYs (account_id, probability,
decile) into a fresh PostgreSQL table. Prints one JSON line with the row count, the seconds of
each phase and the library versions.

    python3 tools/bench/python_batch_scoring.py --input accounts.csv.gz \
        --model models/demo/model.txt --database-url postgres://postgres@127.0.0.1:5432/DBNAME \
        [--table py_account_scores]

Needs (verified with Python 3.11):
    pip install pandas==3.1.1 numpy==2.4.6 lightgbm==4.7.0 "psycopg[binary]==3.3.9"
An offline benchmark tool only; never a runtime dependency of the service.
"""
import argparse
import json
import platform
import sys
import time

import lightgbm
import numpy as np
import pandas as pd
import psycopg
from psycopg import sql


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", required=True, help="accounts CSV (.csv or .csv.gz): account_id, the features, maybe target")
    parser.add_argument("--model", required=True, help="LightGBM text model (model.txt)")
    parser.add_argument("--database-url", required=True, help="postgres://user@host:port/dbname")
    parser.add_argument("--table", default="py_account_scores", help="table to (re)create and fill")
    args = parser.parse_args()

    t0 = time.perf_counter()
    # Empty cells read as NaN; a trailing `target` column is simply never selected below.
    df = pd.read_csv(args.input, dtype={"account_id": str})
    t1 = time.perf_counter()

    booster = lightgbm.Booster(model_file=args.model)
    # The categorical feature (infra_type) is a numeric code in the CSV, so a float column;
    # LightGBM casts it to int per its categorical_feature index in the model (no pandas category dtype needed).
    prob = booster.predict(df[booster.feature_name()])
    t2 = time.perf_counter()

    try:
        decile = pd.qcut(prob, 10, labels=list(range(10, 0, -1))).astype(np.int16)
    except ValueError as err:
        codes = pd.qcut(prob, 10, labels=False, duplicates="drop")
        decile = (codes.max() + 1 - codes).astype(np.int16)  # still 1 = highest scores
        print(f"qcut: {str(err).splitlines()[0]}; fell back to duplicates='drop' ({codes.max() + 1} bins)", file=sys.stderr)
    t3 = time.perf_counter()

    table = sql.Identifier(args.table)
    with psycopg.connect(args.database_url) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
        cur.execute(sql.SQL("CREATE TABLE {} (account_id text, probability float8, decile smallint)").format(table))
        # Binary COPY with copy.write_row (psycopg-binary's C path): measured on 1M rows, 0.7 s,
        # against 1.6-2.0 s for text-format write_row and 2.7-3.5 s for DataFrame.to_csv chunks
        # streamed with copy.write. Binary float8 also keeps every bit of the probability.
        copy_stmt = sql.SQL("COPY {} (account_id, probability, decile) FROM STDIN (FORMAT binary)").format(table)
        with cur.copy(copy_stmt) as copy:
            copy.set_types(["text", "float8", "int2"])
            for row in zip(df["account_id"].tolist(), prob.tolist(), decile.tolist()):
                copy.write_row(row)
        conn.commit()
    t4 = time.perf_counter()

    print(json.dumps({
        "rows": len(df),
        "parse_s": round(t1 - t0, 3),
        "predict_s": round(t2 - t1, 3),
        "deciles_s": round(t3 - t2, 3),
        "store_s": round(t4 - t3, 3),
        "total_s": round(t4 - t0, 3),
        "versions": {
            "python": platform.python_version(),
            "pandas": pd.__version__,
            "numpy": np.__version__,
            "lightgbm": lightgbm.__version__,
            "psycopg": psycopg.__version__,
        },
    }))


if __name__ == "__main__":
    main()
