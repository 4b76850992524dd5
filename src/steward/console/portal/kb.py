"""The public knowledge base in the portal, and the suggestions on the new-ticket form."""

from __future__ import annotations

import re

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from steward.console.common import principal
from steward.console.portal.common import portal_view
from steward.helpdesk import markdown, search
from steward.helpdesk.models import Article
from steward.helpdesk.visibility import visible_articles
from steward.tenancy.scoping import NotFound

PER_PAGE = 30
SUGGESTIONS = 5
EXCERPT = 160


def public_articles(request: HttpRequest):
    """Published public articles the user may read: the portal shows no drafts and no
    internal articles, even to staff."""
    qs = visible_articles(principal(request), Article.objects.select_related("category"))
    return qs.filter(public=True, published=True)


def excerpt(body: str, length: int = EXCERPT) -> str:
    """The start of an article as plain text (Markdown punctuation dropped)."""
    text = re.sub(r"[*_`]+", "", body)  # emphasis and code marks: drop, keep the words
    text = re.sub(r"[#>|\[\]()!]+", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= length else text[: length - 1].rsplit(" ", 1)[0] + "…"


@portal_view
def article_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    articles = public_articles(request)
    hits = []
    if query:
        found = search.search(principal(request), query, kinds=["article"], limit=50)
        by_id = {a.pk: a for a in articles.filter(pk__in=[h.id for h in found])}
        hits = [(by_id[h.id], excerpt(h.snippet, 240)) for h in found if h.id in by_id]
    page = Paginator(articles.order_by("title", "id"), PER_PAGE).get_page(request.GET.get("page"))
    for article in page:
        article.excerpt = excerpt(article.body)  # type: ignore[attr-defined]
    return render(
        request,
        "console/portal/kb_list.html",
        {
            "q": query,
            "hits": hits,
            "page_obj": page,
            "portal_current": "kb",
        },
    )


@portal_view
def article_detail(request: HttpRequest, pk: int) -> HttpResponse:
    article = public_articles(request).filter(pk=pk).first()
    if article is None:
        raise NotFound
    return render(
        request,
        "console/portal/kb_article.html",
        {"article": article, "html": markdown.render(article.body), "portal_current": "kb"},
    )


@portal_view
@require_GET
def suggest(request: HttpRequest) -> JsonResponse:
    """Articles for the draft of a new ticket (the form's script asks as the user types)."""
    text = request.GET.get("text", "")[:5000]
    found = search.suggest_articles(principal(request), text, SUGGESTIONS * 2)
    allowed = set(
        public_articles(request).filter(pk__in=[a.pk for a in found]).values_list("pk", flat=True)
    )
    articles = [a for a in found if a.pk in allowed][:SUGGESTIONS]
    return JsonResponse(
        {
            "articles": [
                {
                    "title": a.title,
                    "url": reverse("console:portal-article", args=[a.pk]),
                    "excerpt": excerpt(a.body, 120),
                }
                for a in articles
            ]
        }
    )
