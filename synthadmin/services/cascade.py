"""What deleting a user would also delete or change, from the catalog: the cascade closure.

Deleting an Auth user deletes every row that reaches it through foreign keys with ``ON DELETE
CASCADE`` (its profile, check-ins, therapist links, notes, plans, and whatever else a project
added), sets columns to NULL/default where a key says so, and fails where a key restricts.
``deletion_holds`` follows every foreign key from ``auth.users`` (``Target.foreign_keys``)
and, for a set of users about to be deleted, finds the rows that would go or change although
they also belong to someone who is not synthetic — a real patient's therapist link, a note
about a real patient, a row in a table synthadmin has never seen — and the rows that would
block the delete. It reads, in one query per table and rule, all sent in one round trip; it
writes nothing.

What it does not see: rows that point at a user without a foreign key (an audit log's
``user_id``) — those are never followed, and never deleted by the database either; and a
cascade that loops back into a table already reached is followed one level only.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

from psycopg import sql

from synthadmin.db.pipeline import statements_pipelined
from synthadmin.db.session import DJANGO_SCHEMA
from synthadmin.models import SyntheticUser
from synthadmin.target import AUTH_USERS, ForeignKey, TableName, Target

UNSAFE = "unsafe"  # would delete or change a row that also belongs to a real user
BLOCKED = "blocked"  # a foreign key without cascade would make the delete fail
UNREADABLE = "unreadable"  # the delete reaches a table this role cannot read: cannot prove safe


@dataclass(frozen=True)
class Hold:
    """Why one user is left alone."""

    kind: str
    table: TableName
    rows: int = 0

    def __str__(self) -> str:
        if self.kind == BLOCKED:
            return f"blocked by {self.table} ({self.rows} row(s) reference it without ON DELETE CASCADE)"
        if self.kind == UNREADABLE:
            return f"the delete would reach {self.table}, which this database role cannot read"
        return f"{self.table} ({self.rows} row(s) that the delete would take also belong to a real user)"


def deletion_holds(target: Target, user_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, list[Hold]]:
    """For ``user_ids`` about to be deleted: every user that must be left alone, with why.

    A referenced user counts as synthetic when it is one of ``user_ids`` or a profile with
    ``is_test_patient = true`` whose ledger entry is ``complete``. Users absent from the result
    may be deleted.
    """
    if not user_ids:
        return {}
    plan = _Plan(target)
    holds: dict[uuid.UUID, list[Hold]] = {}
    unreadable = sorted(plan.reached() & target.unreadable, key=str)
    if unreadable:
        return {user_id: [Hold(UNREADABLE, table) for table in unreadable] for user_id in user_ids}
    params = {"roots": list(user_ids)}
    asked: list[tuple[str, TableName, sql.Composable]] = []
    for table in plan.order:
        for column in target.user_reference_columns(table):
            asked.append((UNSAFE, table, _foreign_rows(plan.affected(table), column)))
    for fk in plan.changed:
        for column in target.user_reference_columns(fk.table):
            asked.append((UNSAFE, fk.table, _foreign_rows(plan.referencing(fk), column)))
    for fk in plan.restricting:
        asked.append((BLOCKED, fk.table, _count_rows(plan.referencing(fk))))
    # Every question in one round trip: they are independent reads.
    answers = statements_pipelined([(query, params) for _kind, _table, query in asked])
    for (kind, table, _query), answer in zip(asked, answers, strict=True):
        for root, count in answer.rows:
            user_id = root if isinstance(root, uuid.UUID) else uuid.UUID(str(root))
            holds.setdefault(user_id, []).append(Hold(kind, table, int(count)))
    return holds


class _Plan:
    """The cascade closure of ``auth.users`` and a SQL query for the rows it reaches per table."""

    def __init__(self, target: Target) -> None:
        self.target = target
        incoming: dict[TableName, list[ForeignKey]] = {AUTH_USERS: []}
        queue = [AUTH_USERS]
        while queue:
            parent = queue.pop(0)
            for fk in target.references_to(parent):
                if fk.on_delete != "CASCADE":
                    continue
                if fk.table not in incoming:
                    incoming[fk.table] = []
                    queue.append(fk.table)
                incoming[fk.table].append(fk)
        self.order = _topological(incoming)
        self.incoming = incoming
        outgoing = [fk for table in self.order for fk in target.references_to(table)]
        self.changed = [fk for fk in outgoing if fk.on_delete in ("SET NULL", "SET DEFAULT")]
        self.restricting = [fk for fk in outgoing if fk.on_delete in ("RESTRICT", "NO ACTION")]
        self._affected: dict[TableName, sql.Composable] = {}

    def reached(self) -> set[TableName]:
        return set(self.order) | {fk.table for fk in self.changed + self.restricting}

    def affected(self, table: TableName) -> sql.Composable:
        """``SELECT __root, __ctid, t.*`` of the rows of ``table`` the delete removes."""
        if table not in self._affected:
            if table == AUTH_USERS:
                query: sql.Composable = sql.SQL(
                    "SELECT t.id AS __root, t.ctid AS __ctid, t.* FROM {} t WHERE t.id = ANY(%(roots)s)"
                ).format(AUTH_USERS.sql)
            else:
                position = self.order.index(table)
                parts = [
                    self.referencing(fk)
                    for fk in self.incoming[table]
                    if fk.ref_table != table and self.order.index(fk.ref_table) < position
                ]
                query = (
                    sql.SQL(" UNION ALL ").join(parts)
                    if parts
                    else sql.SQL(
                        "SELECT NULL::uuid AS __root, t.ctid AS __ctid, t.* FROM {} t WHERE false"
                    ).format(table.sql)
                )
            self._affected[table] = query
        return self._affected[table]

    def referencing(self, fk: ForeignKey) -> sql.Composable:
        """The rows of ``fk.table`` whose key points at a row the delete removes."""
        on = sql.SQL(" AND ").join(
            sql.SQL("c.{} = p.{}").format(sql.Identifier(child), sql.Identifier(parent))
            for child, parent in zip(fk.columns, fk.ref_columns, strict=True)
        )
        return sql.SQL("SELECT p.__root, c.ctid AS __ctid, c.* FROM {} c JOIN ({}) p ON {}").format(
            fk.table.sql, self.affected(fk.ref_table), on
        )


def _topological(incoming: dict[TableName, list[ForeignKey]]) -> list[TableName]:
    """Parents before children; a table on a cascade cycle comes after what it could."""
    order: list[TableName] = []
    pending = dict(incoming)
    while pending:
        ready = [
            table
            for table, edges in pending.items()
            if all(fk.ref_table in order or fk.ref_table == table for fk in edges)
        ]
        if not ready:  # a cycle: take the table with the most parents already placed
            ready = [max(pending, key=lambda t: sum(fk.ref_table in order for fk in pending[t]))]
        for table in sorted(ready, key=str):
            order.append(table)
            del pending[table]
    return order


_SYNTHETIC_USERS = sql.SQL(
    "SELECT s.user_id FROM {} s JOIN public.profiles sp ON sp.id = s.user_id "
    "WHERE s.state = 'complete' AND sp.is_test_patient IS TRUE"
    # The ledger, in synthadmin's own schema.
).format(sql.Identifier(DJANGO_SCHEMA, SyntheticUser._meta.db_table))


def _foreign_rows(rows: sql.Composable, column: str) -> sql.Composable:
    """Per root: how many of ``rows`` reference, in ``column``, a user who is not synthetic."""
    col = sql.Identifier(column)
    return sql.SQL(
        "SELECT a.__root, count(DISTINCT a.__ctid) FROM ({}) a "
        "WHERE a.{col} IS NOT NULL AND NOT (a.{col} = ANY(%(roots)s) OR a.{col} IN ({synthetic})) "
        "GROUP BY a.__root"
    ).format(rows, col=col, synthetic=_SYNTHETIC_USERS)


def _count_rows(rows: sql.Composable) -> sql.Composable:
    return sql.SQL("SELECT a.__root, count(DISTINCT a.__ctid) FROM ({}) a GROUP BY a.__root").format(rows)
