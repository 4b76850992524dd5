"""Full-text search over tickets, replies and articles, within what the caller may see.

The text lives in ``SearchDocument`` (one row per ticket, reply and article), written here
on save and delete. The index is the database's own: FTS5 on SQLite, a generated tsvector
with a GIN index on PostgreSQL (migration 0002). Visibility is not re-implemented: every
match is joined to ``visibility.visible_documents`` (the rules of ``visible_tickets`` and
``visible_articles`` on the document's columns, plus "internal notes only for staff").

Ranking: of the visible matches, the newest ``WINDOW`` are ranked (bm25 / ts_rank) and
the best returned; below that size every match is ranked. Snippets are computed for the
returned documents only.

Queries are words (``\\w+``), all required, the last one as a prefix (typing "print"
finds "printer"); ``suggest_articles`` asks for any of the significant words instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.signals import post_delete, post_save

from steward.helpdesk.models import Article, Reply, SearchDocument, Ticket
from steward.helpdesk.visibility import requester_organizations, visible_documents
from steward.tenancy.scoping import Principal

KINDS = ("ticket", "reply", "article")
MAX_BODY = 100_000
MAX_TERMS = 12
# Matches ranked per query: the newest this many visible ones (see ``_window``). A query
# matching more is not specific enough for rank to tell much, and the newest are the
# likeliest wanted; narrower queries are ranked over every match.
WINDOW = 2000
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "cannot",
        "cant",
        "dont",
        "hello",
        "hi",
        "please",
        "thanks",
        "thank",
    ]
)


@dataclass(frozen=True)
class Hit:
    kind: str
    id: int
    ticket_id: int | None
    organization_id: int
    title: str
    snippet: str
    rank: float


# ---------------------------------------------------------------- keeping the index


def _document(obj) -> dict | None:
    if isinstance(obj, Ticket):
        return {
            "kind": "ticket",
            "organization_id": obj.organization_id,
            "ticket_id": obj.pk,
            "public": True,
            "title": obj.subject,
            "body": obj.description[:MAX_BODY],
        }
    if isinstance(obj, Reply):
        return {
            "kind": "reply",
            "organization_id": Ticket.objects.values_list("organization_id", flat=True).get(
                pk=obj.ticket_id
            ),
            "ticket_id": obj.ticket_id,
            "public": obj.public,
            "title": "",
            "body": obj.body[:MAX_BODY],
        }
    if isinstance(obj, Article):
        return {
            "kind": "article",
            "organization_id": obj.organization_id,
            "ticket_id": None,
            "public": obj.public and obj.published,
            "title": obj.title,
            "body": obj.body[:MAX_BODY],
        }
    return None


def index(obj) -> None:
    doc = _document(obj)
    if doc is None:
        return
    kind = doc.pop("kind")
    SearchDocument.objects.update_or_create(kind=kind, object_id=obj.pk, defaults=doc)


def _on_save(sender, instance, raw=False, **kwargs) -> None:
    if not raw:
        index(instance)


def _on_delete(sender, instance, **kwargs) -> None:
    kind = {Ticket: "ticket", Reply: "reply", Article: "article"}[sender]
    SearchDocument.objects.filter(kind=kind, object_id=instance.pk).delete()


def connect_signals() -> None:
    for model in (Ticket, Reply, Article):
        uid = f"helpdesk-search-{model._meta.model_name}"
        post_save.connect(_on_save, sender=model, dispatch_uid=uid)
        post_delete.connect(_on_delete, sender=model, dispatch_uid=uid + "-del")


def reindex(batch: int = 2000) -> int:
    """Rebuild every search document (after bulk imports that bypass signals)."""
    SearchDocument.objects.all().delete()
    count = 0
    for model in (Ticket, Article, Reply):
        qs = model.objects.all()
        if model is Reply:
            qs = qs.select_related("ticket")
        docs: list[SearchDocument] = []
        for obj in qs.iterator(chunk_size=batch):
            if isinstance(obj, Reply):
                doc = {
                    "kind": "reply",
                    "organization_id": obj.ticket.organization_id,
                    "ticket_id": obj.ticket_id,
                    "public": obj.public,
                    "title": "",
                    "body": obj.body[:MAX_BODY],
                }
            else:
                doc = _document(obj) or {}
            docs.append(SearchDocument(object_id=obj.pk, **doc))
            if len(docs) >= batch:
                SearchDocument.objects.bulk_create(docs)
                count += len(docs)
                docs = []
        SearchDocument.objects.bulk_create(docs)
        count += len(docs)
    return count


# ---------------------------------------------------------------- querying


def terms(text: str, significant: bool = False) -> list[str]:
    words = [w for w in re.findall(r"\w+", text.lower()) if len(w) <= 64]
    if significant:
        words = [w for w in words if len(w) > 2 and w not in STOPWORDS]
    return list(dict.fromkeys(words))[:MAX_TERMS]


def _match(words: Sequence[str], any_word: bool) -> str:
    """The engine's query text; words are ``\\w+`` so they carry no query syntax."""
    if connection.vendor == "postgresql":
        if any_word:
            return " | ".join(words)
        return " & ".join([*words[:-1], words[-1] + ":*"])
    quoted = [f'"{w}"' for w in words]
    if any_word:
        return " OR ".join(quoted)
    return " ".join([*quoted[:-1], quoted[-1] + "*"])


def _sql(qs: QuerySet, *fields: str) -> tuple[str, tuple]:
    """The SQL of ``qs`` selecting ``fields``; ``EmptyResultSet`` when it matches nothing."""
    return qs.values(*fields).query.sql_with_params()


def _window(
    match: str, documents: list[QuerySet[SearchDocument]], window: int, few: bool
) -> tuple[str, list] | None:
    """SQL of the ``window`` newest matches among ``documents``: columns id, ticket_id and
    rank (bm25, lower is better, on SQLite; ts_rank, higher is better, on PostgreSQL).
    ``documents``: disjoint parts of what the caller may read (one, unless ``few``);
    ``None`` when they can hold nothing.

    Walking the index newest first stops after ``window`` visible rows: a word found in
    half of 300,000 documents then costs a few ms, where ranking every match costs well
    over 100 ms (bm25 and ts_rank read every matching document's positions).

    How each match is checked against ``documents`` depends on their number. Many (staff,
    ``few`` false): joined, a primary-key lookup of the match's document, and nothing
    collects the ids of everything visible. Few (a requester's own tickets): the ids are
    collected once by index and each match is looked up in them, which spares reading
    the document of every match of a common word.
    """
    parts, params = [], []
    for part in documents:
        try:
            sql, p = _sql(part, *(("pk",) if few else ("pk", "ticket_id")))
        except EmptyResultSet:
            continue
        parts.append(sql)
        params += p
    if not parts:
        return None
    # Several parts (a requester's tickets, their organization's articles) are united
    # rather than ORed: each part then reads its own index, where an OR of them makes
    # PostgreSQL scan every document.
    vis = " UNION ALL ".join(parts)
    # The f-strings only splice in SQL compiled by Django; every value is a parameter.
    if connection.vendor == "postgresql":
        check = "d.id IN ({})" if few else "EXISTS (SELECT 1 FROM ({}) v WHERE v.pk = d.id)"
        check = check.format(vis)
        # For a requester's few documents, "d.id + 0" keeps the planner from walking the
        # primary key backwards testing every document's tsvector until enough visible
        # ones match (seconds when few do); it reads the few documents instead.
        newest = "d.id + 0 DESC" if few else "d.id DESC"
        sql = (
            "SELECT d.id, d.ticket_id, ts_rank(d.search_vector, q) AS rank "  # noqa: S608
            "FROM helpdesk_searchdocument d CROSS JOIN to_tsquery('english', %s) q "
            f"WHERE d.search_vector @@ q AND {check} ORDER BY {newest} LIMIT %s"
        )
        return sql, [match, *params, window]
    if few:
        # "+rowid": filter the match's rows; a bare rowid IN would make FTS5 re-run the
        # match once per id.
        sql = (
            "SELECT d.id, d.ticket_id, bm25(helpdesk_fts, 4.0, 1.0) AS rank "  # noqa: S608
            "FROM helpdesk_fts JOIN helpdesk_searchdocument d ON d.id = helpdesk_fts.rowid "
            f"WHERE helpdesk_fts MATCH %s AND +helpdesk_fts.rowid IN ({vis}) "
            "ORDER BY helpdesk_fts.rowid DESC LIMIT %s"
        )
        return sql, [match, *params, window]
    sql = (
        "SELECT v.pk AS id, v.ticket_id, bm25(helpdesk_fts, 4.0, 1.0) AS rank "  # noqa: S608
        f"FROM helpdesk_fts JOIN ({vis}) v ON v.pk = helpdesk_fts.rowid "
        "WHERE helpdesk_fts MATCH %s ORDER BY helpdesk_fts.rowid DESC LIMIT %s"
    )
    return sql, [*params, match, window]


def _snippets(match: str, ids: list[int]) -> dict[int, str]:
    """Highlighted excerpts of these (already visible) documents."""
    placeholders = ", ".join(["%s"] * len(ids))
    if connection.vendor == "postgresql":
        sql = (
            "SELECT d.id, ts_headline('english', left(d.body, 5000), "  # noqa: S608
            "to_tsquery('english', %s), 'MaxWords=18, MinWords=6') "
            f"FROM helpdesk_searchdocument d WHERE d.id IN ({placeholders})"
        )
    else:
        # "+rowid" keeps SQLite from handing each id to FTS5 as a rowid constraint, which
        # re-runs the whole match per id; filtering the match's rows is one pass.
        sql = (
            "SELECT rowid, snippet(helpdesk_fts, 1, '[', ']', '…', 16) "  # noqa: S608
            f"FROM helpdesk_fts WHERE helpdesk_fts MATCH %s AND +rowid IN ({placeholders})"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, [match, *ids])
        return {row[0]: row[1] or "" for row in cursor.fetchall()}


def _run(principal: Principal, words, kinds, limit: int, any_word: bool) -> list[Hit]:
    match = _match(words, any_word)
    few = bool(requester_organizations(principal))
    if few:
        groups = [g for g in (set(kinds) & {"ticket", "reply"}, set(kinds) & {"article"}) if g]
        parts = [visible_documents(principal, g) for g in groups]
    else:
        parts = [visible_documents(principal, kinds)]
    window = _window(match, parts, WINDOW, few)
    if window is None:
        return []
    sql, params = window
    best = "rank DESC" if connection.vendor == "postgresql" else "rank"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, rank FROM ({sql}) w ORDER BY {best}, id DESC LIMIT %s",  # noqa: S608
            [*params, limit],
        )
        ranked = cursor.fetchall()
    if not ranked:
        return []
    ids = [row[0] for row in ranked]
    snippets = _snippets(match, ids)
    docs = SearchDocument.objects.in_bulk(ids)
    return [
        Hit(
            docs[i].kind,
            docs[i].object_id,
            docs[i].ticket_id,
            docs[i].organization_id,
            docs[i].title,
            snippets.get(i, ""),
            float(rank),
        )
        for i, rank in ranked
        if i in docs
    ]


def search(
    principal: Principal, query: str, kinds: Iterable[str] = KINDS, limit: int = 20
) -> list[Hit]:
    """Best matches first. Requesters find their visible tickets, those tickets' public
    replies, and published public articles; staff also internal notes and drafts."""
    words = terms(query)
    kinds = [k for k in kinds if k in KINDS]
    if not words or not kinds:
        return []
    return _run(principal, words, kinds, max(1, min(limit, 100)), any_word=False)


def suggest_articles(principal: Principal, text: str, limit: int = 5) -> list[Article]:
    """Articles for a requester's new-ticket form: any significant word of the text."""
    words = terms(text, significant=True)
    if not words:
        return []
    hits = _run(principal, words, ["article"], limit, any_word=True)
    found = {a.pk: a for a in Article.objects.filter(pk__in=[h.id for h in hits])}
    return [found[h.id] for h in hits if h.id in found]


@dataclass(frozen=True)
class TicketMatches:
    """Ticket ids for the list filter ``q``; ``complete`` is false when more documents
    matched than the window holds (the list then says "N+" rather than counting)."""

    ids: list[int]
    complete: bool


def matching_tickets(
    principal: Principal, query: str, where: Q | None = None, window: int | None = None
) -> TicketMatches | None:
    """Tickets whose text or readable replies match, for the ticket list's ``q``.

    ``where`` is a condition on the documents' ticket (``ticket__status`` ...): the list's
    other filters, so that the window holds only tickets the list shows. Of a query that
    matches more than ``window`` documents, the tickets of the newest ``window`` are
    returned and ``complete`` is false. ``None``: the query has no words.
    """
    words = terms(query)
    if not words:
        return None
    window = window or WINDOW
    docs = visible_documents(principal, ("ticket", "reply"))
    if where is not None:
        docs = docs.filter(where)
    few = bool(requester_organizations(principal))
    found = _window(_match(words, any_word=False), [docs], window, few)
    if found is None:
        return TicketMatches([], complete=True)
    sql, params = found
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return TicketMatches(list(dict.fromkeys(r[1] for r in rows)), complete=len(rows) < window)
