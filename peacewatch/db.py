"""Database pieces shared by the apps."""

from __future__ import annotations

from django.db import connection


def lock_single_row(model, columns: tuple[str, ...], create_sql: str, params: tuple = ()) -> tuple:
    """Lock the one row (id 1) of ``model``'s table until the transaction ends; returns its ``columns``.

    An UPDATE first, not a read: on SQLite too it takes the write lock before
    anything is read, so two writers cannot both work from the same value.
    A missing row (a new or flushed database) is made by ``create_sql``
    (``{table}`` stands for the table; it must do nothing when the row exists).
    """
    table = connection.ops.quote_name(model._meta.db_table)
    lock = f"UPDATE {table} SET {columns[0]} = {columns[0]} WHERE id = 1 RETURNING {', '.join(columns)}"
    with connection.cursor() as cursor:
        cursor.execute(lock)
        row = cursor.fetchone()
        if row is None:
            cursor.execute(create_sql.format(table=table), params)
            cursor.execute(lock)
            row = cursor.fetchone()
    return row
