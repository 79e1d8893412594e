#!/usr/bin/env python3
"""DuckDB baseline for `wabaguard optin` (benchmark comparison only).

The same computation as `wabaguard optin --format json`, written as DuckDB
`read_csv` + SQL, so the two can be timed on the same files:

    pip install duckdb
    /usr/bin/time -v python3 benches/optin_duckdb.py AUDIENCE.csv LEDGER.csv 2026-11-24T00:00:00Z [THREADS]

SQL has no libphonenumber, so phone handling is approximated with string
rules: drop a "(0)" trunk prefix, strip spaces, dashes, dots and
parentheses; `+` or `00` is
international (8-15 digits after it); otherwise a US national number (10
digits, or 11 starting with 1). Counts therefore differ slightly from
wabaguard's (which checks every number against its country's metadata); the
work done — reading both files, normalising every phone, latest event per
number with opt_out winning ties, the four verdicts — is the same. Prints one
JSON object with the counts and the wall time of the query.
"""

import json
import sys
import time

import duckdb

NORMALISE = r"""
CASE
  WHEN s IS NULL OR NOT regexp_matches(s, '^\+?[0-9]+$') THEN NULL
  WHEN starts_with(s, '+') AND length(s) BETWEEN 9 AND 16 THEN substr(s, 2)
  WHEN starts_with(s, '00') AND length(s) BETWEEN 10 AND 17 THEN substr(s, 3)
  WHEN starts_with(s, '+') OR starts_with(s, '00') THEN NULL
  WHEN length(s) = 10 AND substr(s, 1, 1) BETWEEN '2' AND '9' THEN '1' || s
  WHEN length(s) = 11 AND starts_with(s, '1') AND substr(s, 2, 1) BETWEEN '2' AND '9' THEN s
  ELSE NULL
END
"""

QUERY = f"""
WITH
aud_raw AS (
  SELECT regexp_replace(replace(phone, '(0)', ''), '[\\s\\-\\.\\(\\)]', '', 'g') AS s
  FROM read_csv($audience, header = true, all_varchar = true, null_padding = true)
),
aud AS (SELECT {NORMALISE} AS n FROM aud_raw),
led_raw AS (
  SELECT regexp_replace(replace(phone, '(0)', ''), '[\\s\\-\\.\\(\\)]', '', 'g') AS s,
         trim(event) AS event,
         TRY_CAST(trim("timestamp") AS TIMESTAMPTZ) AS ts
  FROM read_csv($ledger, header = true, all_varchar = true, null_padding = true)
),
led AS (SELECT {NORMALISE} AS n, event, ts FROM led_raw),
led_ok AS (
  SELECT n, ts, event = 'opt_out' AS out FROM led
  WHERE n IS NOT NULL AND event IN ('opt_in', 'opt_out') AND ts IS NOT NULL
    AND ts <= $as_of::TIMESTAMPTZ
),
uniq AS (SELECT DISTINCT n FROM aud WHERE n IS NOT NULL),
latest AS (
  SELECT l.n, max({{'ts': l.ts, 'out': l.out}}) AS m
  FROM led_ok l SEMI JOIN uniq u ON l.n = u.n
  GROUP BY l.n
),
verdicts AS (
  SELECT CASE
    WHEN m IS NULL THEN 'missing'
    WHEN m.out THEN 'revoked'
    WHEN m.ts < $as_of::TIMESTAMPTZ - to_days($max_age) THEN 'stale'
    ELSE 'covered' END AS v
  FROM uniq LEFT JOIN latest USING (n)
)
SELECT
  (SELECT count(*) FROM aud) AS total,
  (SELECT count(*) FROM aud WHERE n IS NULL) AS invalid,
  (SELECT count(*) FROM uniq) AS "unique",
  (SELECT count(*) FROM verdicts WHERE v = 'covered') AS covered,
  (SELECT count(*) FROM verdicts WHERE v = 'stale') AS stale,
  (SELECT count(*) FROM verdicts WHERE v = 'revoked') AS revoked,
  (SELECT count(*) FROM verdicts WHERE v = 'missing') AS missing,
  (SELECT count(*) FROM led) AS ledger_rows,
  (SELECT count(*) FROM led WHERE n IS NULL) AS ledger_invalid,
  (SELECT count(*) FROM led WHERE n IS NOT NULL
     AND (event NOT IN ('opt_in', 'opt_out') OR event IS NULL OR ts IS NULL)) AS ledger_errors
"""


def main() -> None:
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    audience, ledger, as_of = sys.argv[1:4]
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    start = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("SET TimeZone = 'UTC'")
    cur = con.execute(
        QUERY,
        {"audience": audience, "ledger": ledger, "as_of": as_of, "max_age": 365},
    )
    cols = [d[0] for d in cur.description]
    row = dict(zip(cols, cur.fetchone()))
    row["duplicates"] = row["total"] - row["invalid"] - row["unique"]
    row["coverage"] = row["covered"] / row["unique"] if row["unique"] else 0.0
    row["seconds"] = round(time.perf_counter() - start, 3)
    print(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
