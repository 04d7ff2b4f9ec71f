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
