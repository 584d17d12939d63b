"""The embedded engine: stdlib sqlite3, documents as JSON text, queried fields as indexed columns.

WAL mode lets every service process of one box share the file; a read borrows a connection from a
small pool (appliance.store.pool), a write takes the store's one writing connection (see
SQLiteStore.writer). Compare-and-set and claims are single `UPDATE ... RETURNING` statements, hence
atomic across threads and processes. The file, its -wal and -shm are private to the appliance
(0600, in a 0700 directory): they hold tokens and results.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Optional

from appliance import codec
from appliance.config import Config
from appliance.models import Entity, new_id
from appliance.private_files import private_file, tighten
from appliance.store.base import Collection, Conflict, Filters, Sort, Store, StoreError, dotted_value
from appliance.store.pool import Pool

_OPERATORS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<=", "$ne": "IS NOT"}


def _column(path: str) -> str:
    return "f_" + re.sub(r"[^A-Za-z0-9]", "_", path)


def _json_path(path: str) -> str:
    return "$." + path


def _regexp(pattern: str, value: Any) -> bool:
    return value is not None and re.search(pattern, str(value)) is not None


def _sql_value(value: Any) -> Any:
    """What json_extract yields for a JSON value: scalars as is, containers as JSON text."""
    if isinstance(value, (dict, list)):
        return codec.dumps(value)
    return value


class SQLiteCollection(Collection):
    def __init__(self, store: SQLiteStore, entity: Entity):
        super().__init__(entity)
        self._store = store
        self._table = entity.collection
        self._columns = {path: _column(path) for path in _indexed_paths(entity)}
        self._lineages = {path: _lineage(path) for path in self._columns}

    # -- SQL building -------------------------------------------------------------------------
    def _expr(self, path: str) -> str:
        if path == "id":
            return "id"
        if path in self._columns:
            return self._columns[path]
        return f"json_extract(doc, '{_json_path(path)}')"

    def _where(self, filters: Optional[Filters]) -> tuple[str, list]:
        clauses: list[str] = []
        params: list = []
        for path, condition in (filters or {}).items():
            expr = self._expr(path)
            if isinstance(condition, dict) and condition and all(k.startswith("$") for k in condition):
                for op, operand in condition.items():
                    self._clause(path, expr, op, operand, clauses, params)
            elif condition is None:
                clauses.append(f"{expr} IS NULL")
            else:
                clauses.append(f"{expr} = ?")
                params.append(_sql_value(condition))
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def _clause(self, path: str, expr: str, op: str, operand: Any, clauses: list, params: list) -> None:
        if op in ("$in", "$nin"):
            values = list(operand)
            has_null = None in values
            values = [_sql_value(v) for v in values if v is not None]
            marks = ",".join("?" * len(values))
            parts = [f"{expr} IN ({marks})"] if values else []
            if has_null:
                parts.append(f"{expr} IS NULL")
            inside = "(" + " OR ".join(parts) + ")" if parts else "0"
            # NULL IN (...) is NULL, not false: a missing field is "not in" a list without None.
            clauses.append(inside if op == "$in" else f"NOT COALESCE({inside}, 0)")
            params.extend(values)
        elif op in _OPERATORS:
            clauses.append(f"{expr} {_OPERATORS[op]} ?")
            params.append(_sql_value(operand))
        elif op == "$exists":
            test = "IS NOT NULL" if operand else "IS NULL"
            target = "id" if path == "id" else f"json_type(doc, '{_json_path(path)}')"
            clauses.append(f"{target} {test}")
        elif op == "$regex":
            clauses.append(f"{expr} REGEXP ?")
            params.append(operand)
        else:
            raise StoreError(f"unsupported filter operator {op!r} on {path!r}")

    def _order(self, sort: Optional[Sort]) -> str:
        terms = [f"{self._expr(path)} {'DESC' if direction < 0 else 'ASC'}" for path, direction in sort or []]
        last = "DESC" if sort and sort[-1][1] < 0 else "ASC"
        terms.append(f"id {last}")
        return " ORDER BY " + ", ".join(terms)

    def _set_args(self, set_fields: Optional[dict], push: Optional[dict]) -> tuple[str, list]:
        """The SET clause: the new document, plus the indexed columns the change touches (only
        those, so SQLite rewrites only their indexes)."""
        pairs: list[str] = []
        params: list = []
        for path, value in (set_fields or {}).items():
            pairs.append("?, json(?)")
            params.extend([_json_path(path), codec.dumps(value)])
        for path, value in (push or {}).items():
            jp = _json_path(path)
            pairs.append("?, json(json_insert(COALESCE(json_extract(doc, ?), '[]'), '$[#]', json(?)))")
            params.extend([jp, jp, codec.dumps(value)])
        new_doc = "json_set(doc, " + ", ".join(pairs) + ")"
        assignments = [f"doc = {new_doc}"]
        assignment_params = list(params)
        changed = list(set_fields or {}) + list(push or {})
        for column_path, column in self._columns.items():
            if self._lineages[column_path].isdisjoint(changed):
                continue  # neither its field nor a parent of it changes: most columns, most updates
            direct = _changed_value(set_fields or {}, column_path)
            if direct is not _UNTOUCHED:
                assignments.append(f"{column} = ?")
                assignment_params.append(_sql_value(direct))
            elif any(column_path.startswith(path + ".") for path in changed):
                assignments.append(f"{column} = json_extract({new_doc}, ?)")
                assignment_params.extend(params + [_json_path(column_path)])
        return ", ".join(assignments), assignment_params

    def create_table(self) -> None:
        """The table, its columns and indexes, created or completed (on one connection)."""
        table = self._table
        # Indexed fields are plain columns the engine writes with the document: generated columns
        # would make every document change rewrite every index of the table.
        columns = "".join(f", {column}" for column in self._columns.values())
        with self._connection(write=True) as conn:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, doc TEXT NOT NULL{columns})")
            existing = {row[1] for row in conn.execute(f"PRAGMA table_xinfo({table})")}
            for path, column in self._columns.items():
                if column not in existing:  # a field indexed by a newer release: fill it from the documents
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
                    conn.execute(f"UPDATE {table} SET {column} = json_extract(doc, ?)", (_json_path(path),))
            for path in self.entity.indexed:
                column = _column(path)
                conn.execute(f"CREATE INDEX IF NOT EXISTS ix_{table}_{column} ON {table} ({column})")
            for path in self.entity.unique:
                column = _column(path)
                conn.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS ux_{table}_{column} ON {table} ({column})")
            for group in self.entity.compound:
                names = [_column(p) for p in group]
                name = f"cx_{table}_" + "_".join(c[2:] for c in names)
                conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({', '.join(names)})")

    # -- operations ---------------------------------------------------------------------------
    @contextmanager
    def _connection(self, transaction: bool = False, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection for one operation, with sqlite's errors raised as the store's: the store's
        writer for a `write` (as every `transaction` is: inside BEGIN IMMEDIATE ... COMMIT), a
        pooled one otherwise."""
        try:
            with self._store.writer() if write or transaction else self._store.pool.connection() as conn:
                if not transaction:
                    yield conn
                    return
                # The connection is in autocommit mode: without BEGIN every row would be its own
                # transaction (slow, and a clash would leave the rows before it stored).
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                finally:
                    conn.rollback()  # only does something when the COMMIT was not reached
        except sqlite3.IntegrityError as exc:
            raise self._conflict(exc) from exc
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite {self._store.path}: {exc}") from exc

    def _run(self, sql: str, params: Iterable = (), write: bool = False) -> list[tuple]:
        """Every row one statement returns, read before its connection goes back to the pool; a
        statement that changes the database is a `write`."""
        with self._connection(write=write) as conn:
            return conn.execute(sql, tuple(params)).fetchall()

    def _conflict(self, exc: sqlite3.IntegrityError) -> Exception:
        match = re.search(r"UNIQUE constraint failed: \w+\.(\w+)", str(exc))
        if not match:
            return StoreError(f"sqlite {self._store.path}: {exc}")
        by_column = {column: path for path, column in self._columns.items()}
        return Conflict(self._table, by_column.get(match.group(1), "id"), None, None)

    def _with_conflict_details(self, doc: dict, exc: Conflict) -> Conflict:
        if exc.field == "id":
            return Conflict(self._table, "id", doc.get("id"), doc.get("id"))
        value = dotted_value(doc, exc.field)
        query: dict = {exc.field: value}
        if doc.get("id") is not None:
            query["id"] = {"$ne": doc["id"]}
        existing = self.find_one(query)
        return Conflict(self._table, exc.field, value, existing["id"] if existing else None)

    def _batch_conflict(self, docs: list[dict], exc: Conflict) -> Conflict:
        """Which document of a rolled-back batch clashed, with the stored or earlier batch holder."""
        held: dict[str, Any] = {}
        for doc in docs:
            value = dotted_value(doc, exc.field)
            if value is None or isinstance(value, (dict, list)):
                continue
            existing = self.find_one({exc.field: value})
            if existing is not None:
                return Conflict(self._table, exc.field, value, existing["id"])
            key = codec.dumps(value)
            if key in held:
                return Conflict(self._table, exc.field, value, held[key])
            held[key] = doc["id"]
        return exc

    @property
    def _insert_sql(self) -> str:
        columns = ", ".join(["id", "doc", *self._columns.values()])
        marks = ", ".join("?" * (2 + len(self._columns)))
        return f"INSERT INTO {self._table} ({columns}) VALUES ({marks})"

    def _row(self, doc: dict) -> tuple:
        return (doc["id"], _dumps(doc), *(_sql_value(dotted_value(doc, path)) for path in self._columns))

    def insert(self, doc: dict) -> dict:
        if "id" not in doc:
            doc = {"id": new_id(), **doc}
        try:
            self._run(self._insert_sql, self._row(doc), write=True)
        except Conflict as exc:
            raise self._with_conflict_details(doc, exc) from None
        return doc

    def insert_many(self, docs: Iterable[dict]) -> None:
        batch = [doc if "id" in doc else {"id": new_id(), **doc} for doc in docs]
        rows = [self._row(doc) for doc in batch]
        if not rows:
            return
        try:
            with self._connection(transaction=True) as conn:
                conn.executemany(self._insert_sql, rows)
        except Conflict as exc:  # looked into once the rolled-back connection is back in the pool
            raise self._batch_conflict(batch, exc) from None

    def get(self, doc_id: str) -> Optional[dict]:
        rows = self._run(f"SELECT doc FROM {self._table} WHERE id = ?", (doc_id,))
        return codec.loads(rows[0][0]) if rows else None

    def find(self, filters=None, sort=None, limit=None, offset=0) -> list[dict]:
        where, params = self._where(filters)
        sql = f"SELECT doc FROM {self._table}{where}{self._order(sort)}"
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            params += [-1 if limit is None else limit, offset]
        return [codec.loads(row[0]) for row in self._run(sql, params)]

    def ids(self, filters=None, sort=None) -> list[str]:
        where, params = self._where(filters)
        return [row[0] for row in self._run(f"SELECT id FROM {self._table}{where}{self._order(sort)}", params)]

    def count(self, filters=None) -> int:
        where, params = self._where(filters)
        return self._run(f"SELECT COUNT(*) FROM {self._table}{where}", params)[0][0]

    def update(self, doc_id, set_fields=None, push=None, expect=None) -> Optional[dict]:
        if not set_fields and not push:
            return self.get(doc_id) if not expect else self.find_one({"id": doc_id, **expect})
        new_doc, set_params = self._set_args(set_fields, push)
        where, params = self._where({"id": doc_id, **(expect or {})})
        try:
            rows = self._run(f"UPDATE {self._table} SET {new_doc}{where} RETURNING doc", set_params + params,
                             write=True)
        except Conflict as exc:
            raise self._with_conflict_details({"id": doc_id, **(set_fields or {})}, exc) from None
        return codec.loads(rows[0][0]) if rows else None

    def claim(self, filters, set_fields, sort=None) -> Optional[dict]:
        new_doc, set_params = self._set_args(set_fields, None)
        where, params = self._where(filters)
        sql = (
            f"UPDATE {self._table} SET {new_doc} WHERE id = "
            f"(SELECT id FROM {self._table}{where}{self._order(sort)} LIMIT 1){where.replace(' WHERE ', ' AND ', 1)}"
            " RETURNING doc"
        )
        rows = self._run(sql, set_params + params + params, write=True)
        return codec.loads(rows[0][0]) if rows else None

    def replace(self, doc: dict) -> dict:
        try:
            assignments = ", ".join(["doc = ?", *(f"{column} = ?" for column in self._columns.values())])
            row = self._row(doc)
            changed = self._run(
                f"UPDATE {self._table} SET {assignments} WHERE id = ? RETURNING id", (*row[1:], doc["id"]), write=True
            )
        except Conflict as exc:
            raise self._with_conflict_details(doc, exc) from None
        if not changed:
            raise StoreError(f"{self._table}: no document with id {doc['id']}")
        return doc

    def delete(self, doc_id: str) -> bool:
        return bool(self._run(f"DELETE FROM {self._table} WHERE id = ? RETURNING id", (doc_id,), write=True))

    def delete_many(self, filters: Filters) -> int:
        where, params = self._where(filters)
        return len(self._run(f"DELETE FROM {self._table}{where} RETURNING id", params, write=True))


def _dumps(doc: dict) -> str:
    return codec.dumps(doc)



_UNTOUCHED = object()


def _changed_value(set_fields: dict, column_path: str) -> Any:
    """The new value of `column_path` if set_fields sets it or one of its parents, else _UNTOUCHED."""
    if column_path in set_fields:
        return set_fields[column_path]
    for path, value in set_fields.items():
        if column_path.startswith(path + "."):
            rest = column_path[len(path) + 1:]
            return dotted_value(value, rest) if isinstance(value, dict) else None
    return _UNTOUCHED


def _lineage(path: str) -> frozenset:
    """`path` and every parent of it: a.b.c -> {a, a.b, a.b.c}."""
    parts = path.split(".")
    return frozenset(".".join(parts[:end]) for end in range(1, len(parts) + 1))


def _indexed_paths(entity: Entity) -> list[str]:
    paths = list(entity.indexed) + list(entity.unique)
    for group in entity.compound:
        paths.extend(group)
    return list(dict.fromkeys(paths))


def _private_file(path: str) -> None:
    """The database file 0600 in a private folder before sqlite3 opens it (SQLite gives the -wal
    and -shm files the database file's mode)."""
    private_file(path)
    for name in (path + "-wal", path + "-shm"):
        tighten(name)


class SQLiteStore(Store):
    """A database file shared by every thread and process of one box."""

    POOL_SIZE = 16  # pooled connections open at once, at most (the writer is one more)
    POOL_IDLE = 12  # kept open between operations, the writer included: enough for the busy threads
    WAIT_SECONDS = 30  # for a busy database (busy_timeout) or a free connection

    def __init__(self, path: str, synchronous: str = "NORMAL"):
        if path != ":memory:":
            try:
                _private_file(path)
            except OSError as exc:
                raise StoreError(f"cannot create sqlite database {path}: {exc.strerror}") from exc
        self.path = path
        self._synchronous = synchronous.upper()
        self._collections: dict[str, SQLiteCollection] = {}
        self._lock = threading.Lock()
        self._writer_lock = threading.Lock()
        self._writing: Optional[sqlite3.Connection] = None
        self._closed = False
        self.pool = Pool(self._connect, self.POOL_SIZE, self.POOL_IDLE - 1, self.WAIT_SECONDS)
        self._connect().close()  # a new file becomes WAL here, before threads race for the mode switch

    @classmethod
    def from_url(cls, url: str, config: Config) -> SQLiteStore:
        """sqlite:///path/to/st2.db, with [database] synchronous."""
        return cls(url[len("sqlite://"):], config.get("database", "synchronous"))

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, timeout=self.WAIT_SECONDS, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open sqlite database {self.path}: {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {self.WAIT_SECONDS * 1000}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"cannot open sqlite database {self.path}: {exc}") from exc
        conn.create_function("REGEXP", 2, _regexp, deterministic=True)
        return conn

    @contextmanager
    def writer(self) -> Iterator[sqlite3.Connection]:
        """The store's one writing connection, for the caller alone until the block ends.

        SQLite admits one writer at a time anyway, but a writer it turns away sleeps a millisecond
        or more (busy_timeout) before it tries again, where a thread waiting here goes on the moment
        the write before it is done; and no other connection of the store writes, so this one's
        page cache stays warm. After close() each write opens a connection and closes it."""
        with self._writer_lock:
            if self._writing is None:
                self._writing = self._connect()
            conn = self._writing
            try:
                yield conn
            finally:
                if self._closed or conn.in_transaction:  # an open transaction was not rolled back
                    self._writing = None
                    conn.close()

    def collection(self, entity: Entity) -> SQLiteCollection:
        with self._lock:
            found = self._collections.get(entity.collection)
            if found is None:
                found = SQLiteCollection(self, entity)
                found.create_table()
                self._collections[entity.collection] = found
            return found

    def close(self) -> None:
        with self._writer_lock:
            self._closed = True
            if self._writing is not None:
                self._writing.close()
                self._writing = None
        self.pool.close()
