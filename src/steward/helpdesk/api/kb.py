"""API: knowledge base articles, full-text search, suggested articles."""

from __future__ import annotations

from datetime import datetime

from ninja import Field, Query, Router, Schema, Status

from steward.api.errors import bad_request
from steward.api.pagination import Page, paginate
from steward.helpdesk import markdown, search
from steward.helpdesk.models import Article, Category
from steward.helpdesk.visibility import visible_articles
from steward.tenancy.models import Organization
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import NotFound, get_for

router = Router(tags=["helpdesk"])


class ArticleOut(Schema):
    id: int
    organization_id: int
    title: str
    body: str
    body_html: str
    public: bool
    published: bool
    category_id: int | None
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def of(a: Article) -> ArticleOut:
        return ArticleOut(
            id=a.pk,
            organization_id=a.organization_id,
            title=a.title,
            body=a.body,
            body_html=markdown.render(a.body),
            public=a.public,
            published=a.published,
            category_id=a.category_id,
            created_at=a.created_at,
            updated_at=a.updated_at,
        )


class ArticlePatch(Schema):
    title: str | None = Field(None, min_length=1, max_length=255)
    body: str | None = Field(None, max_length=200_000)
    public: bool | None = None
    published: bool | None = None
    category_id: int | None = None


class ArticleIn(ArticlePatch):
    organization_id: int
    title: str = Field(min_length=1, max_length=255)


class HitOut(Schema):
    kind: str
    id: int
    ticket_id: int | None
    organization_id: int
    title: str
    snippet: str


class SearchQuery(Schema):
    q: str = Field("", max_length=200)
    kinds: str = "ticket,reply,article"
    limit: int = Field(20, ge=1, le=100)


def _get_article(request, article_id: int, capability: Capability | None = None) -> Article:
    article = visible_articles(request.auth).filter(pk=article_id).first()
    if article is None:
        raise NotFound
    if capability is not None:
        request.auth.require(capability, article.organization_id)
    return article


def _apply(article: Article, data: dict) -> None:
    if (
        data.get("category_id") is not None
        and not Category.objects.filter(
            pk=data["category_id"], organization_id=article.organization_id
        ).exists()
    ):
        raise bad_request("category_id: no such category in the organization")
    for field, value in data.items():
        if value is not None or field == "category_id":
            setattr(article, field, value)
    article.save()


@router.get("/kb/articles", response=Page[ArticleOut])
def list_articles(
    request, organization_id: int | None = None, q: str = "", limit: int = 50, offset: int = 0
):
    qs = visible_articles(request.auth)
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    if q.strip():
        ids = [h.id for h in search.search(request.auth, q, kinds=["article"], limit=100)]
        qs = qs.filter(pk__in=ids)
    return paginate(qs, limit, offset, ArticleOut.of)


@router.post("/kb/articles", response={201: ArticleOut})
def create_article(request, body: ArticleIn):
    data = body.dict()
    org = get_for(
        Organization.objects, request.auth, Capability.OPERATE, pk=data.pop("organization_id")
    )
    article = Article(organization=org, author=request.auth.user, body="")
    _apply(article, data)
    return Status(201, ArticleOut.of(article))


@router.get("/kb/articles/{article_id}", response=ArticleOut)
def get_article(request, article_id: int):
    return ArticleOut.of(_get_article(request, article_id))


@router.patch("/kb/articles/{article_id}", response=ArticleOut)
def update_article(request, article_id: int, body: ArticlePatch):
    article = _get_article(request, article_id, Capability.OPERATE)
    _apply(article, body.dict(exclude_unset=True))
    return ArticleOut.of(article)


@router.delete("/kb/articles/{article_id}", response={204: None})
def delete_article(request, article_id: int):
    _get_article(request, article_id, Capability.OPERATE).delete()
    return Status(204, None)


@router.get("/kb/suggest", response=list[ArticleOut])
def suggest(request, text: str = "", limit: int = 5):
    """Articles matching a draft ticket's text (the requester's new-ticket form)."""
    hits = search.suggest_articles(request.auth, text[:5000], max(1, min(limit, 20)))
    return [ArticleOut.of(a) for a in hits]


@router.get("/helpdesk/search", response=list[HitOut])
def search_all(request, query: Query[SearchQuery]):
    kinds = [k.strip() for k in query.kinds.split(",") if k.strip()]
    hits = search.search(request.auth, query.q, kinds=kinds, limit=query.limit)
    return [
        HitOut(
            kind=h.kind,
            id=h.id,
            ticket_id=h.ticket_id,
            organization_id=h.organization_id,
            title=h.title,
            snippet=h.snippet,
        )
        for h in hits
    ]
