"""A Flight SQL client through ADBC (adbc-driver-flightsql), driven by
rapid7-sql/tests/it/serve_python.rs. Usage:

    adbc_client.py CHECK SPEC_JSON

SPEC_JSON: {"uri": ..., "token": ... or null, "ca": PEM path or null, ...}.
Each check prints one JSON document on stdout; the Rust test compares it with
the simulator's data. A failure the check does not expect is an exception
(exit status 1, traceback on stderr).
"""

import json
import sys

import adbc_driver_flightsql as flight_sql
import adbc_driver_flightsql.dbapi as dbapi
import adbc_driver_manager
import pyarrow as pa


def connect(spec):
    db_kwargs = {}
    if spec.get("token") is not None:
        db_kwargs[flight_sql.DatabaseOptions.AUTHORIZATION_HEADER.value] = "Bearer " + spec["token"]
    if spec.get("ca") is not None:
        with open(spec["ca"]) as f:
            db_kwargs[flight_sql.DatabaseOptions.TLS_ROOT_CERTS.value] = f.read()
    return dbapi.connect(spec["uri"], db_kwargs=db_kwargs)


def rows_of(table):
    """Event rows as [timestamp ms, sequence number, message, labels]."""
    ts = table["timestamp"].cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64()).to_pylist()
    cols = [table[c].to_pylist() for c in ["sequence_number", "message", "labels"]]
    return [[ts[i], cols[0][i], cols[1][i], cols[2][i] or []] for i in range(table.num_rows)]


def check_rows(spec):
    with connect(spec) as conn, conn.cursor() as cur:
        cur.execute(spec["sql"])
        table = cur.fetch_arrow_table()
        print(json.dumps({"schema": [f.name for f in table.schema], "rows": rows_of(table)}))


def check_metadata(spec):
    with connect(spec) as conn:
        info = conn.adbc_get_info()
        objects = conn.adbc_get_objects(depth="all").read_all().to_pylist()
        tables = {}
        for catalog in objects:
            for schema in catalog["catalog_db_schemas"] or []:
                for t in schema["db_schema_tables"] or []:
                    key = f"{catalog['catalog_name']}.{schema['db_schema_name']}.{t['table_name']}"
                    tables[key] = [c["column_name"] for c in t["table_columns"] or []]
        schema = conn.adbc_get_table_schema(spec["table"], db_schema_filter=spec.get("db_schema"))
        types = conn.adbc_get_table_types()
        print(json.dumps({
            "vendor_name": info.get("vendor_name"),
            "driver_name": info.get("driver_name"),
            "tables": tables,
            "table_schema": [[f.name, str(f.type)] for f in schema],
            "table_types": types,
        }))


def check_auth(spec):
    """Whether `SELECT 1` runs, and the error when it does not."""
    try:
        with connect(spec) as conn, conn.cursor() as cur:
            cur.execute("SELECT 1 AS one")
            print(json.dumps({"ok": cur.fetchall() == [(1,)], "error": None}))
    except adbc_driver_manager.Error as e:
        print(json.dumps({"ok": False, "error": str(e), "status": type(e).__name__}))


def check_refused(spec):
    """Each statement's error (null where it ran)."""
    out = []
    with connect(spec) as conn:
        for sql in spec["statements"]:
            try:
                with conn.cursor() as cur:
                    cur.execute(sql)
                    cur.fetch_arrow_table()
                out.append(None)
            except adbc_driver_manager.Error as e:
                out.append(str(e))
    print(json.dumps(out))


def check_prepared(spec):
    """One prepared statement executed with each parameter in turn."""
    out = []
    with connect(spec) as conn, conn.cursor() as cur:
        for value in spec["params"]:
            cur.execute(spec["sql"], parameters=(value,))
            out.append(rows_of(cur.fetch_arrow_table()))
    print(json.dumps(out))


def check_frames(spec):
    import pandas as pd
    import polars as pl

    with connect(spec) as conn:
        with conn.cursor() as cur:
            cur.execute(spec["sql"])
            df = cur.fetch_df()
        frame = pl.read_database(spec["sql"], connection=conn)
    assert isinstance(df, pd.DataFrame) and isinstance(frame, pl.DataFrame)
    ms = (df["timestamp"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)
    print(json.dumps({
        "pandas": [[int(t), int(s)] for t, s in zip(ms, df["sequence_number"])],
        "polars": frame.select(pl.col("timestamp").dt.epoch("ms"), "sequence_number").rows(),
    }))


if __name__ == "__main__":
    globals()["check_" + sys.argv[1]](json.loads(sys.argv[2]))
