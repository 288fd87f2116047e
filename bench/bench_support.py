"""Helpers the benchmark scripts share (run them from the repository root: `python bench/<script>.py`)."""
import psycopg


def ensure_database(url: str) -> None:
    """Creates the benchmark's PostgreSQL database named at the end of `url` if it is missing."""
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")
