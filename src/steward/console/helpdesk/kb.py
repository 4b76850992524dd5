"""Knowledge base administration for staff: list, search, create and edit articles."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from steward.console.common import in_current_org, principal
from steward.console.helpdesk import choices
from steward.console.helpdesk.common import staff_view
from steward.console.helpdesk.forms import ArticleForm
from steward.console.helpdesk.queues import sidebar
from steward.console.manage.helpers import require_somewhere
from steward.helpdesk import markdown, search
from steward.helpdesk.models import Article
from steward.helpdesk.visibility import visible_articles
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import NotFound

PER_PAGE = 50


def _articles(request: HttpRequest):
    qs = visible_articles(principal(request), Article.objects.select_related("organization"))
    return in_current_org(request, qs)


@staff_view
def article_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    state = request.GET.get("state", "")
    articles = _articles(request).select_related("category")
    if query:
        hits = search.search(principal(request), query, kinds=["article"], limit=100)
        articles = articles.filter(pk__in=[h.id for h in hits])
    if state == "public":
        articles = articles.filter(public=True, published=True)
    elif state == "internal":
        articles = articles.filter(public=False)
    elif state == "draft":
        articles = articles.filter(published=False)
    page = Paginator(articles.order_by("title", "id"), PER_PAGE).get_page(request.GET.get("page"))
    who = principal(request)
    return render(
        request,
        "console/helpdesk/kb_list.html",
        {
            **sidebar(request, "kb"),
            "page_obj": page,
            "q": query,
            "state": state,
            "can_write": who.organization_ids(Capability.OPERATE) != [],
        },
    )


def _form(request: HttpRequest, article: Article | None = None) -> ArticleForm:
    orgs = list(require_somewhere(request, Capability.OPERATE).order_by("name"))
    initial = {}
    if article is not None:
        initial = {
            "organization": article.organization_id,
            "title": article.title,
            "body": article.body,
            "category": article.category_id,
            "public": article.public,
            "published": article.published,
        }
    form = ArticleForm(request.POST or None, initial=initial)
    form.fields["organization"].choices = [(o.pk, o.name) for o in orgs]
    if len(orgs) == 1 or article is not None:
        form.fields["organization"].widget = form.fields["organization"].hidden_widget()
        form.fields["organization"].initial = article.organization_id if article else orgs[0].pk
    several = len(orgs) > 1
    form.fields["category"].choices = [("", "No category")] + [
        (c.pk, f"{c.name} ({c.organization.name})" if several else c.name)
        for c in choices.categories(request)
    ]
    return form


def _save(request: HttpRequest, form: ArticleForm, article: Article | None) -> Article | None:
    data = form.cleaned_data
    who = principal(request)
    org = article.organization_id if article else data["organization"]
    if not who.can(Capability.OPERATE, org):
        form.add_error("organization", "You cannot write articles in this organization.")
        return None
    category = None
    if data["category"] is not None:
        category = choices.categories(request, org).filter(pk=data["category"]).first()
        if category is None:
            form.add_error("category", "Choose a category of the article's organization.")
            return None
    article = article or Article(organization_id=org, author=who.user)
    article.title = data["title"]
    article.body = data["body"]
    article.category = category
    article.public = data["public"]
    article.published = data["published"]
    article.save()
    return article


@staff_view
def article_create(request: HttpRequest) -> HttpResponse:
    form = _form(request)
    if request.method == "POST" and form.is_valid():
        article = _save(request, form, None)
        if article is not None:
            messages.success(request, f"Article “{article.title}” created.")
            return redirect("console:kb-article-edit", article.pk)
    return render(
        request,
        "console/helpdesk/kb_form.html",
        {**sidebar(request, "kb"), "form": form, "article": None},
    )


@staff_view
def article_edit(request: HttpRequest, pk: int) -> HttpResponse:
    article = _articles(request).filter(pk=pk).first()
    if article is None:
        raise NotFound
    principal(request).require(Capability.VIEW, article.organization_id)
    can_write = principal(request).can(Capability.OPERATE, article.organization_id)
    form = _form(request, article) if can_write else None
    if request.method == "POST":
        principal(request).require(Capability.OPERATE, article.organization_id)
        if form is not None and form.is_valid() and _save(request, form, article):
            messages.success(request, f"Article “{article.title}” saved.")
            return redirect("console:kb-article-edit", article.pk)
    return render(
        request,
        "console/helpdesk/kb_form.html",
        {
            **sidebar(request, "kb"),
            "form": form,
            "article": article,
            "preview": markdown.render(article.body),
            "can_write": can_write,
        },
    )


@staff_view
@require_POST
def article_delete(request: HttpRequest, pk: int) -> HttpResponse:
    article = _articles(request).filter(pk=pk).first()
    if article is None:
        raise NotFound
    principal(request).require(Capability.OPERATE, article.organization_id)
    title = article.title
    article.delete()
    messages.success(request, f"Article “{title}” deleted.")
    return redirect("console:kb-articles")
