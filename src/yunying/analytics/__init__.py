"""Analytics: one module per question; each a pure query definition plus a typed result.

Every module exposes ``<Name>Query`` (pydantic, with a ``kind`` literal), ``<Name>Result``
and ``run_<name>(store, ctx, query)``; the SQL comes from ``build_<name>_sql(dialect, ctx,
query)`` so the same definition serves DuckDB and ClickHouse.
"""
