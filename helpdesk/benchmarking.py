"""What every benchmark (`make bench-*`) needs: a database of its own, made afresh each run, on the
same PostgreSQL server as the development database, so a benchmark never touches real data."""

from __future__ import annotations

import urllib.parse


def bench_database_url(base_url: str, name: str) -> str:
    """`base_url` (the DATABASE_URL) pointed at the database `name` instead."""
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(base_url)._replace(path=f"/{name}"))


def connection_params(url: str) -> dict[str, str]:
    """psycopg2 keyword arguments for the server of `url` (its host, port, user and password)."""
    import dj_database_url

    config = dj_database_url.parse(url)
    return {key: value for key, value in {
        "host": config.get("HOST"), "port": config.get("PORT"),
        "user": config.get("USER"), "password": config.get("PASSWORD"),
    }.items() if value}


def reset_bench_database(url: str, name: str) -> None:
    """Drop the database `name` (disconnecting anyone still on it) and create it empty."""
    import psycopg2
    from psycopg2 import sql

    admin = psycopg2.connect(dbname="postgres", **connection_params(url))
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        admin.close()


# Neutral values for NOT NULL columns without a database default, by information_schema data type.
_NEUTRAL = {"text": "''", "character varying": "''", "integer": "0", "smallint": "0", "bigint": "0",
            "boolean": "false", "jsonb": "'{}'::jsonb", "numeric": "0", "timestamp with time zone": "now()",
            "date": "current_date", "uuid": "gen_random_uuid()", "double precision": "0",
            "ARRAY": "'{}'", "tsvector": "''::tsvector"}


def insert_select(cursor, table: str, given: dict[str, str], source: str, params: dict | None = None) -> None:
    """`INSERT INTO table (...) SELECT ... FROM source`: the given column expressions, plus a
    neutral value for every other NOT NULL column without a database default (Django keeps its
    defaults in Python), so a loader keeps working when other apps add columns. With `params` the
    SQL is formatted by psycopg2 (a literal percent sign is then written %%); without, it is sent
    as written."""
    cursor.execute(
        """SELECT column_name, data_type FROM information_schema.columns
           WHERE table_name = %s AND is_nullable = 'NO' AND column_default IS NULL AND is_identity = 'NO'""",
        [table],
    )
    columns = dict(given)
    for name, data_type in cursor.fetchall():
        if name not in columns and name != "id":
            columns[name] = _NEUTRAL[data_type]
    cursor.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(columns.values())} FROM {source}",
        params,
    )


def open_page_bench_database(name: str, *, reuse: bool) -> bool:
    """Point this process at the benchmark database `name` and set Django up to render pages
    through the test client; returns True when the database is new (empty, migrated) and False
    when `reuse` found a kept one. The embedded servers must be running (devstack's Stack)."""
    import os

    base_url = os.environ["DATABASE_URL"]
    os.environ.update({
        "DATABASE_URL": bench_database_url(base_url, name),
        "DJANGO_ALLOWED_HOSTS": "testserver,127.0.0.1", "DJANGO_SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "WARNING",
    })
    fresh = not reuse or not _database_exists(base_url, name)
    if fresh:
        reset_bench_database(base_url, name)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    # Pages link the stylesheet; the manifest storage would need collectstatic first.
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    call_command("migrate", verbosity=0, interactive=False)
    return fresh


def _database_exists(url: str, name: str) -> bool:
    import psycopg2

    try:
        psycopg2.connect(dbname=name, **connection_params(url)).close()
    except psycopg2.OperationalError:
        return False
    return True
