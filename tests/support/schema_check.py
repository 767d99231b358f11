"""The migrated schema of a database compared with the SQLAlchemy models (the same check
for SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import inspect

from xtalk.store import open_database
from xtalk.store.models import Base


def assert_schema_matches_models(db_url: str) -> None:
    """Columns, nullability, primary and foreign keys (with ON DELETE), indexes and unique
    constraints of every table at ``db_url`` after migration equal the models'."""
    db = open_database(db_url)
    try:
        insp = inspect(db.engine)
        for table in Base.metadata.sorted_tables:
            columns = {c["name"]: c for c in insp.get_columns(table.name)}
            assert set(columns) == set(table.columns.keys()), table.name
            for column in table.columns:
                assert columns[column.name]["nullable"] == column.nullable, \
                    (table.name, column.name)
            pk = insp.get_pk_constraint(table.name)["constrained_columns"]
            assert pk == [c.name for c in table.primary_key.columns], table.name
            fks = {(tuple(fk["constrained_columns"]), fk["referred_table"],
                    (fk.get("options") or {}).get("ondelete"))
                   for fk in insp.get_foreign_keys(table.name)}
            assert fks == {((fk.parent.name,), fk.column.table.name, fk.ondelete)
                           for fk in table.foreign_keys}, table.name
            # PostgreSQL also lists the indexes behind unique constraints.
            indexes = {i["name"] for i in insp.get_indexes(table.name)
                       if "duplicates_constraint" not in i}
            assert indexes == {i.name for i in table.indexes}, table.name
            uniques = {tuple(u["column_names"]) for u in insp.get_unique_constraints(table.name)}
            assert uniques == {(c.name,) for c in table.columns if c.unique}, table.name
    finally:
        db.close()
