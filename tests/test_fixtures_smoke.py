from sqlalchemy import Engine, text

from payoutwatch.store.engine import HEAD_REVISION


def test_store_is_migrated_and_empty(store: Engine) -> None:
    with store.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM job_runs")).scalar() == 0
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD_REVISION
