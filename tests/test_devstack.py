"""The embedded servers of the local stack keep their data across restarts, and are stopped only
by the last process using them."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg2
import redis

from helpdesk.devstack import EmbeddedPostgres, EmbeddedRedis, Holders, ensure_database


def test_postgres_keeps_data_across_a_restart(tmp_path):
    server = EmbeddedPostgres(tmp_path / "postgres")
    server.start()
    try:
        url = server.url("restart_check")
        ensure_database(url)
        with psycopg2.connect(host=server.socket_dir, user="postgres", dbname="restart_check") as conn:
            with conn.cursor() as cursor:
                cursor.execute("CREATE TABLE note (body text); INSERT INTO note VALUES ('kept')")
        server.stop()
        assert not (tmp_path / "postgres" / "postmaster.pid").exists()

        again = EmbeddedPostgres(tmp_path / "postgres")
        again.start()
        assert again.started_here
        with psycopg2.connect(host=again.socket_dir, user="postgres", dbname="restart_check") as conn:
            with conn.cursor() as cursor:
                cursor.execute("SELECT body FROM note")
                assert cursor.fetchall() == [("kept",)]
        server = again
    finally:
        server.stop()


def test_redis_keeps_data_across_a_restart(tmp_path):
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    try:
        redis.Redis.from_url(server.url(0)).set("kept", "yes")
        server.stop()
        assert not redis_answers(server)

        server = EmbeddedRedis(tmp_path / "redis")
        server.start()
        assert redis.Redis.from_url(server.url(0)).get("kept") == b"yes"
    finally:
        server.stop()


def test_a_second_start_reuses_the_running_server(tmp_path):
    first = EmbeddedRedis(tmp_path / "redis")
    first.start()
    try:
        second = EmbeddedRedis(tmp_path / "redis")
        second.start()
        assert second.process is None  # nothing new was started
        second.stop()  # not its server: stays up
        assert redis_answers(first)
    finally:
        first.stop()


def test_last_holder_out_turns_off_the_lights(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "holders").mkdir()
        (tmp_path / "holders" / str(sleeper.pid)).touch()
        (tmp_path / "holders" / "999999999").touch()  # a holder that died without leaving
        mine = Holders(tmp_path)
        mine.join()
        assert mine.leave() is False  # the sleeper still holds the servers
        assert sorted(p.name for p in (tmp_path / "holders").iterdir()) == [str(sleeper.pid)]
    finally:
        sleeper.kill()
        sleeper.wait()
    again = Holders(tmp_path)
    again.join()
    assert again.leave() is True
    assert os.listdir(tmp_path / "holders") == []


def redis_answers(server: EmbeddedRedis) -> bool:
    try:
        return redis.Redis.from_url(server.url(0), socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        return False
