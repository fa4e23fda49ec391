#!/usr/bin/env python3
"""The metric bench's queries in DuckDB, on the same 10 M facts, next to PayScope's figures.

Usage (after `cargo bench --bench metrics`):
    cargo run --release --example export_facts -- target/bench-data/facts.csv
    python3 benches/duckdb_metrics.py target/bench-data/facts.csv
Needs `pip install duckdb`.
"""
import json
import statistics
import sys
import time
from pathlib import Path

import duckdb

AS_OF = 1_793_491_200_000  # 2026-11-01T00:00:00Z, the end of the synthetic data
DAY = 86_400_000

QUERIES = {
    # approval rate and approved amount per currency over 90 days, bank 0 (rollup-served in PayScope)
    "rollup_90d": f"""
        SELECT count(*) FILTER (WHERE approved) AS approved, count(*) AS attempts,
               currency, sum(amount_minor) FILTER (WHERE approved) AS amount
        FROM facts WHERE bank = 0 AND stage = 'AUTH'
          AND occurred_at >= {AS_OF - 90 * DAY} AND occurred_at < {AS_OF}
        GROUP BY currency""",
    # top 10 merchants by approved amount, ranked within each currency, over 30 days (a fact scan)
    "top10_merchants_30d": f"""
        SELECT merchant_id, currency, sum(amount_minor) AS amount
        FROM facts WHERE bank = 0 AND stage = 'AUTH' AND approved
          AND occurred_at >= {AS_OF - 30 * DAY} AND occurred_at < {AS_OF}
        GROUP BY merchant_id, currency
        QUALIFY row_number() OVER (PARTITION BY currency ORDER BY amount DESC, merchant_id) <= 10""",
}


def payscope_median_ms(name):
    for path in (Path("target/criterion/metric") / name / "new/estimates.json", Path(f"target/criterion/metric_{name}/new/estimates.json")):
        if path.exists():
            return json.loads(path.read_text())["median"]["point_estimate"] / 1e6
    return None


def main():
    csv = sys.argv[1]
    con = duckdb.connect()
    t = time.perf_counter()
    # Sorted by time, as PayScope's segments are, so DuckDB's zone maps can prune too.
    con.execute(f"CREATE TABLE facts AS SELECT * FROM read_csv('{csv}', header=true) ORDER BY bank, occurred_at")
    rows = con.execute("SELECT count(*) FROM facts").fetchone()[0]
    print(f"DuckDB {duckdb.__version__}: loaded {rows} facts in {time.perf_counter() - t:.1f} s\n")
    print("| query | PayScope p50 | DuckDB threads=1 | DuckDB threads=2 | ratio (DuckDB 1 / PayScope) |")
    print("|---|---|---|---|---|")
    for name, sql in QUERIES.items():
        medians = {}
        for threads in (1, 2):
            con.execute(f"SET threads={threads}")
            con.execute(sql).fetchall()
            samples = []
            for _ in range(20):
                t = time.perf_counter()
                con.execute(sql).fetchall()
                samples.append((time.perf_counter() - t) * 1000)
            medians[threads] = statistics.median(samples)
        ours = payscope_median_ms(name)
        ratio = f"{medians[1] / ours:.1f}×" if ours else "n/a"
        ours_text = f"{ours:.3f} ms" if ours else "run cargo bench --bench metrics first"
        print(f"| {name} | {ours_text} | {medians[1]:.3f} ms | {medians[2]:.3f} ms | {ratio} |")


if __name__ == "__main__":
    main()
