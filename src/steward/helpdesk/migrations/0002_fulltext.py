"""Full-text index over helpdesk_searchdocument, per database vendor.

SQLite: an FTS5 external-content table (the text lives once, in the ORM table) kept in step
by triggers (https://sqlite.org/fts5.html#external_content_tables). Porter stemming so
"printing" finds "printer"-less "print" like PostgreSQL's english configuration does.
Caution: a later AlterField on SearchDocument makes Django rebuild the table on SQLite,
which drops these triggers; such a migration must re-create them.

PostgreSQL: a stored generated tsvector column (title weighted A, body B) with a GIN
index; the ORM never writes it.
"""

from django.db import migrations

SQLITE = [
    "CREATE VIRTUAL TABLE helpdesk_fts USING fts5(title, body, "
    "content='helpdesk_searchdocument', content_rowid='id', "
    "tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER helpdesk_fts_ai AFTER INSERT ON helpdesk_searchdocument BEGIN "
    "INSERT INTO helpdesk_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
    "CREATE TRIGGER helpdesk_fts_ad AFTER DELETE ON helpdesk_searchdocument BEGIN "
    "INSERT INTO helpdesk_fts(helpdesk_fts, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); END",
    "CREATE TRIGGER helpdesk_fts_au AFTER UPDATE ON helpdesk_searchdocument BEGIN "
    "INSERT INTO helpdesk_fts(helpdesk_fts, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); "
    "INSERT INTO helpdesk_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
    "INSERT INTO helpdesk_fts(helpdesk_fts) VALUES ('rebuild')",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS helpdesk_fts_ai",
    "DROP TRIGGER IF EXISTS helpdesk_fts_ad",
    "DROP TRIGGER IF EXISTS helpdesk_fts_au",
    "DROP TABLE IF EXISTS helpdesk_fts",
]
POSTGRESQL = [
    "ALTER TABLE helpdesk_searchdocument ADD COLUMN search_vector tsvector "
    "GENERATED ALWAYS AS ("
    "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(body, '')), 'B')) STORED",
    "CREATE INDEX helpdesk_searchdocument_fts ON helpdesk_searchdocument "
    "USING GIN (search_vector)",
]
POSTGRESQL_REVERSE = [
    "DROP INDEX IF EXISTS helpdesk_searchdocument_fts",
    "ALTER TABLE helpdesk_searchdocument DROP COLUMN IF EXISTS search_vector",
]


def _run(statements: dict[str, list[str]]):
    def run(apps, schema_editor) -> None:
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRESQL}),
            _run({"sqlite": SQLITE_REVERSE, "postgresql": POSTGRESQL_REVERSE}),
        )
    ]
