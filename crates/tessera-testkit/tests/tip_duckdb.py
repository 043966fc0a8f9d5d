"""DuckDB reads a user's data from Tessera with S3 Access Grants credentials from `tip`, as
seed 004 queries Athena on the user's behalf.

    python tip_duckdb.py TIP PROFILE ENDPOINT REGION MONTH

The httpfs extension comes from the pinned PyPI package `duckdb-extension-httpfs` (installed
into DuckDB from the wheel: nothing is downloaded at run time). Prints one JSON object:
{"rows": …, "kilograms": …, "revenue_cents": …, "by_variety": {…}, "blue_error": "…"}.
"""

import json
import subprocess
import sys

import duckdb
from duckdb_extensions import import_extension

tip, profile, endpoint, region, month = sys.argv[1:6]


def credentials(target):
    out = subprocess.run(
        [tip, "--profile", profile, "s3ag", "get-data-access", target, "--permission", "READ"],
        check=True,
        capture_output=True,
        text=True,
    )
    c = json.loads(out.stdout)
    assert c["Version"] == 1, c
    return c


con = duckdb.connect()
con.execute("SET autoinstall_known_extensions = false")
con.execute("SET autoload_known_extensions = false")
import_extension("httpfs", con=con)
con.execute("LOAD httpfs")

c = credentials("s3://example-bucket/projects/red/*")
host = endpoint.split("://", 1)[1].rstrip("/")
con.execute(
    "CREATE SECRET red (TYPE s3, KEY_ID ?, SECRET ?, SESSION_TOKEN ?, REGION ?, ENDPOINT ?, "
    "URL_STYLE 'path', USE_SSL false)",
    [c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"], region, host],
)
query = f"""
    SELECT regexp_extract(filename, '([^/]+)\\.csv$', 1) AS variety,
           count(*) AS rows,
           sum(kilograms) AS kilograms,
           sum(CAST(round(revenue_usd * 100) AS BIGINT)) AS cents
    FROM read_csv('s3://example-bucket/projects/red/tomatoes/{month}/*.csv', filename = true)
    GROUP BY variety ORDER BY variety
"""
rows = con.execute(query).fetchall()
result = {
    "rows": sum(r[1] for r in rows),
    "kilograms": float(sum(r[2] for r in rows)),
    "revenue_cents": int(sum(r[3] for r in rows)),
    "by_variety": {r[0]: int(r[3]) for r in rows},
}

# The same credentials do not reach the Blue Project Group's data.
try:
    con.execute(
        f"SELECT count(*) FROM read_csv('s3://example-bucket/projects/blue/blueberries/{month}/*.csv')"
    ).fetchall()
    result["blue_error"] = None
except Exception as e:  # duckdb.HTTPException or IOException, by version
    result["blue_error"] = str(e)

print(json.dumps(result))
