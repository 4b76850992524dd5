"""Full-text search over tickets, replies and articles, within what the caller may see.

The text lives in ``SearchDocument`` (one row per ticket, reply and article), written here
on save and delete. The index is the database's own: FTS5 on SQLite, a generated tsvector
with a GIN index on PostgreSQL (migration 0002). Visibility is not re-implemented: the
query is restricted with the SQL of ``visibility.visible_tickets`` / ``visible_articles``,
plus "internal notes only for staff".

Queries are words (``\\w+``), all required, the last one as a prefix (typing "print"
finds "printer"); ``suggest_articles`` asks for any of the significant words instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.signals import post_delete, post_save

from steward.helpdesk.models import Article, Reply, SearchDocument, Ticket
from steward.helpdesk.visibility import visible_articles, visible_tickets
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import Principal

KINDS = ("ticket", "reply", "article")
MAX_BODY = 100_000
MAX_TERMS = 12
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


def _sql(qs: QuerySet) -> tuple[str, tuple]:
    return qs.values("pk").query.sql_with_params()


def _visibility(principal: Principal, kinds: Iterable[str]) -> tuple[str, list]:
    """SQL restricting ``d`` (search documents) to what the principal may read."""
    clauses, params = [], []
    kinds = set(kinds)
    ticket_kinds = sorted(kinds & {"ticket", "reply"})
    if ticket_kinds:
        sql, p = _sql(visible_tickets(principal))
        internal_ok = "1=1"
        staff = principal.organization_ids(Capability.VIEW)
        if staff is not None:
            internal_ok = (
                f"d.organization_id IN ({', '.join(['%s'] * len(staff))})" if staff else "1=0"
            )
        placeholders = ", ".join(["%s"] * len(ticket_kinds))
        clauses.append(
            f"(d.kind IN ({placeholders}) AND d.ticket_id IN ({sql}) "
            f"AND (d.kind = 'ticket' OR d.public OR {internal_ok}))"
        )
        params += [*ticket_kinds, *p, *(staff or [])]
    if "article" in kinds:
        sql, p = _sql(visible_articles(principal))
        clauses.append(f"(d.kind = 'article' AND d.object_id IN ({sql}))")
        params += list(p)
    if not clauses:
        return "1=0", []
    return "(" + " OR ".join(clauses) + ")", params


def _run(principal: Principal, words, kinds, limit: int, any_word: bool) -> list[Hit]:
    # The f-strings below only splice in SQL compiled by Django and "%s" placeholders;
    # every value travels as a parameter.
    where, params = _visibility(principal, kinds)
    match = _match(words, any_word)
    if connection.vendor == "postgresql":
        sql = (
            "SELECT kind, object_id, ticket_id, organization_id, title, "  # noqa: S608
            "ts_headline('english', left(body, 5000), q, 'MaxWords=18, MinWords=6'), rank "
            "FROM (SELECT d.kind, d.object_id, d.ticket_id, d.organization_id, d.title, d.body, "
            "q, ts_rank(d.search_vector, q) AS rank "
            "FROM helpdesk_searchdocument d, to_tsquery('english', %s) q "
            f"WHERE d.search_vector @@ q AND {where} ORDER BY rank DESC, d.id DESC LIMIT %s) s "
            "ORDER BY rank DESC"
        )
        args = [match, *params, limit]
    else:
        sql = (
            "SELECT d.kind, d.object_id, d.ticket_id, d.organization_id, d.title, "  # noqa: S608
            "snippet(helpdesk_fts, 1, '[', ']', '…', 16), bm25(helpdesk_fts, 4.0, 1.0) AS rank "
            "FROM helpdesk_fts JOIN helpdesk_searchdocument d ON d.id = helpdesk_fts.rowid "
            f"WHERE helpdesk_fts MATCH %s AND {where} ORDER BY rank LIMIT %s"
        )
        args = [match, *params, limit]
    sql = (
        sql.replace("TRUE", "1=1").replace("FALSE", "1=0")
        if connection.vendor != "postgresql"
        else sql
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
        rows = cursor.fetchall()
    return [Hit(r[0], r[1], r[2], r[3], r[4], r[5] or "", float(r[6])) for r in rows]


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


def matching_ticket_ids(principal: Principal, query: str) -> RawSQL | None:
    """A subquery of ticket ids whose text or readable replies match (list filter ``q``).

    Visibility of the tickets themselves is left to the caller's queryset.
    """
    words = terms(query)
    if not words:
        return None
    staff = principal.organization_ids(Capability.VIEW)
    internal_ok, params = "1=1", []
    if staff is not None:
        internal_ok = f"d.organization_id IN ({', '.join(['%s'] * len(staff))})" if staff else "1=0"
        params = list(staff)
    match = _match(words, any_word=False)
    if connection.vendor == "postgresql":
        sql = (
            "SELECT d.ticket_id FROM helpdesk_searchdocument d "
            "WHERE d.search_vector @@ to_tsquery('english', %s) "
        )
    else:
        sql = (
            "SELECT d.ticket_id FROM helpdesk_fts "
            "JOIN helpdesk_searchdocument d ON d.id = helpdesk_fts.rowid "
            "WHERE helpdesk_fts MATCH %s "
        )
    sql += f"AND d.kind IN ('ticket', 'reply') AND (d.kind = 'ticket' OR d.public OR {internal_ok})"
    return RawSQL(sql, (match, *params))  # noqa: S611 - placeholders only, values are params
