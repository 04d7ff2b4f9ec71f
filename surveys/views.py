"""The public answer page: no login, reached by the signed link in the survey.

GET shows (never records, see `surveys.pages`); POST records a score, or a comment, then redirects
back to the page (POST/redirect/GET, so a reload does not send again). A forged or expired link
gets a page that says so, and nothing is stored.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import override
from django.views.decorators.http import require_http_methods

from surveys import actions, pages
from surveys.models import Survey
from surveys.tokens import ExpiredToken, InvalidToken, read_token


def _finish(response: HttpResponse) -> HttpResponse:
    # The link is the customer's key: not cached, not indexed, never sent to another site as a
    # Referer. "same-origin", not "no-referrer": with no referrer at all browsers send "Origin: null"
    # on the page's own form posts, which CSRF protection rightly refuses.
    add_never_cache_headers(response)
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "same-origin"
    return response


def _link_problem(request: HttpRequest, template: str, status: int, language: str | None) -> HttpResponse:
    if language:
        with override(language):
            response = render(request, template, status=status)
    else:
        response = render(request, template, status=status)
    return _finish(response)


@require_http_methods(["GET", "HEAD", "POST"])
def answer(request: HttpRequest, token: str) -> HttpResponse:
    try:
        survey_id = read_token(token)
    except ExpiredToken as exc:
        language = Survey.objects.filter(pk=exc.survey_id).values_list("language", flat=True).first()
        return _link_problem(request, "surveys/link_expired.html", 410, language)
    except InvalidToken:
        return _link_problem(request, "surveys/link_invalid.html", 404, None)
    survey = Survey.objects.select_related("store", "ticket").filter(pk=survey_id).first()
    if survey is None:
        return _link_problem(request, "surveys/link_invalid.html", 404, None)
    settings = actions.settings_for(survey.store_id)

    with override(survey.language):
        if request.method == "POST":
            kind = request.POST.get("kind", "")
            comment = request.POST.get("comment")
            try:
                actions.record_answer(survey=survey, kind=kind, score=request.POST.get("score"), comment=comment)
            except actions.AnswerRefused as exc:
                page = pages.answer_page(survey, settings)
                response = render(request, "surveys/answer.html", {"page": page, "error": str(exc)}, status=400)
                return _finish(response)
            query = {"kind": kind}
            if comment is not None:
                query["saved"] = "comment"
            url = reverse("surveys:answer", args=[token]) + "?" + urlencode(query)
            return _finish(HttpResponseRedirect(url))

        page = pages.answer_page(
            survey, settings,
            kind=request.GET.get("kind"),
            score=request.GET.get("score"),
            change=request.GET.get("change") == "1",
            comment_saved=request.GET.get("saved") == "comment",
        )
        return _finish(render(request, "surveys/answer.html", {"page": page}))
