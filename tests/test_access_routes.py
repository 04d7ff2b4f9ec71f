"""No route lets an agent or manager of store A read or change store B's tickets, messages,
customers, orders, attachments, order actions or notifications.

The URL conf is walked programmatically: every route that takes an object id is called with store
B's objects, by every method, and must answer 404 (or 403) and change nothing; a route the walk does
not know how to fill fails the test until it is classified here, so a new route cannot skip the
check. Each refusal is paired with a control (someone who does see store B gets past the check),
so the test cannot pass because the URLs were wrong. List routes are checked in
`test_lists_show_only_visible_rows` and the routes below it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from tests.access_world import World, build_world
from tests.factories import ChannelAccountFactory, TicketFactory
from tickets.models import (
    Attachment,
    CannedResponse,
    Customer,
    Message,
    Notification,
    Order,
    Ticket,
    TicketEvent,
)

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Route:
    name: str
    route: str
    params: tuple[str, ...]


def _walk(patterns, prefix: str = "", namespace: str | None = None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(part for part in (namespace, pattern.namespace) if part) or None
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else (pattern.name or "")
            params = tuple(pattern.pattern.regex.groupindex)
            yield Route(name=name, route=prefix + str(pattern.pattern), params=params)


def all_routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns))


# Whole areas that read no store's tickets, customers or orders through an agent's session.
EXEMPT_PREFIXES = {
    "admin/": "the Django admin: staff only, with Django's own permissions",
    "hooks/": "providers' webhooks: signed by the provider, they store events and read nothing back",
    "shopify/": "Shopify's app install and OAuth callback",
    "s/": "the customers' survey page, opened by a signed link",
    "^media/": "development only (DEBUG): attachment files under unguessable random paths",
    "widget/<str:public_key>": "the shop's chat widget for visitors, keyed by the store's public key",
}

# Routes that take no object id: what they list is checked by the list tests below, or why they
# need no check.
WITHOUT_OBJECT_ID = {
    "healthz": "database and Redis health, no data",
    "login": "sign-in", "logout": "sign-out", "home": "a redirect to the inbox",
    "set_language": "language switch", "set_agent_language": "the agent's own language",
    "api-schema": "the OpenAPI schema", "api-docs": "the OpenAPI docs",
    "api:auth-token": "token for one's own password",
    "api:ticket-list": "list: test_lists_show_only_visible_rows; create: test_api_create_*",
    "api:customer-list": "list: test_lists_show_only_visible_rows",
    "api:order-list": "list: test_lists_show_only_visible_rows (create is for administrators)",
    "api:metrics-summary": "figures: metrics.scope (test_metrics_permissions, test_metrics_follow_memberships)",
    "api:metrics-rows": "figures: metrics.scope (test_metrics_permissions)",
    "api:metrics-comments": "list: test_survey_comments_of_other_stores_are_hidden",
    "tickets:inbox": "list: test_lists_show_only_visible_rows",
    "tickets:inbox_bulk": "ids in the body: test_bulk_actions_ignore_tickets_of_other_stores",
    "api:ticket-bulk": "ids in the body: test_bulk_actions_ignore_tickets_of_other_stores",
    "tickets:save_view": "the agent's own saved view; it is a filter over visible tickets",
    "routing:availability": "the agent's own availability",
    "channels_accounts:index": "list: test_lists_show_only_visible_rows",
    "channels_accounts:connect": "administrators only: connect a new account",
    "metrics:dashboard": "figures: metrics.scope (test_metrics_permissions)",
    "metrics:export": "figures: metrics.scope (test_metrics_permissions)",
    "metrics:customers": "segments of managed stores: test_customer_segments_follow_managed_stores",
    "notifications:list": "list: test_notifications_of_invisible_tickets_are_hidden",
    "notifications:read_all": "marks the user's own notifications",
    "widget:demo": "a pretend shop page with the store's public widget snippet",
}

# Routes whose ids are capabilities rather than lookups.
CAPABILITY_ROUTES = {
    "tickets:attachment_inline": "signed per attachment and hour, only in pages rendered for someone who sees "
                                 "the ticket: test_inline_image_token_opens_only_its_own_attachment",
}

# What each URL parameter names. `pk` depends on the route.
PARAM_KINDS = {
    "ticket_id": "ticket", "order_pk": "order", "order_id": "order", "customer_id": "customer",
    "message_pk": "message", "message_id": "message", "link_pk": "link", "link_id": "link", "canned_pk": "canned",
}
PK_KINDS = [  # (route name prefix, kind): the first that matches
    ("tickets:attachment", "attachment"), ("tickets:rename_view", "saved_view"), ("tickets:delete_view", "saved_view"),
    ("api:customer-", "customer"), ("api:order-", "order"), ("api:ticket-", "ticket"), ("tickets:", "ticket"),
    ("notifications:open", "notification"), ("channels_accounts:", "account"),
]
LITERALS = {"action": "note"}


def kind_of(route: Route, param: str) -> str | None:
    if param == "pk":
        return next((kind for prefix, kind in PK_KINDS if route.name.startswith(prefix)), None)
    return PARAM_KINDS.get(param)


def classified_elsewhere(route: Route) -> str | None:
    for prefix, why in EXEMPT_PREFIXES.items():
        if route.route.startswith(prefix):
            return why
    return WITHOUT_OBJECT_ID.get(route.name) or CAPABILITY_ROUTES.get(route.name)


@pytest.fixture
def world(settings, tmp_path) -> World:
    settings.MEDIA_ROOT = tmp_path
    return build_world()


def objects_of(world: World, side_name: str) -> dict[str, int]:
    """One object of each kind belonging to store `side_name` (and its people)."""
    from tickets.models import SavedView, TicketLink

    side = getattr(world, side_name)
    owner = world.andrei if side_name == "romania" else world.lucia
    account = ChannelAccountFactory(store=side.store, display_name=f"{side_name} mailbox")
    other = TicketFactory(store=side.store, customer=side.customer, subject=f"{side_name} other")
    link = TicketLink.objects.create(from_ticket=side.ticket, to_ticket=other)
    canned = CannedResponse.objects.create(title=f"{side_name} canned", body="Hola", store=side.store)
    view = SavedView.objects.create(owner=owner, name=f"{side_name} view", filters={"view": "open"})
    notification = Notification.objects.create(recipient=owner, ticket=side.ticket, kind="mention", text="look")
    return {
        "ticket": side.ticket.pk, "order": side.order.pk, "customer": side.customer.pk,
        "attachment": side.attachment.pk, "message": side.message.pk, "link": link.pk, "canned": canned.pk,
        "saved_view": view.pk, "notification": notification.pk, "account": account.pk,
    }


def url_for(route: Route, objects: dict[str, int], overrides: dict[str, int] | None = None) -> str:
    kwargs = {}
    for param in route.params:
        if param in LITERALS:
            kwargs[param] = LITERALS[param]
            continue
        kind = kind_of(route, param)
        assert kind is not None, (
            f"{route.name} ({route.route}) takes `{param}`: say in tests/test_access_routes.py what it names "
            "(PARAM_KINDS / PK_KINDS), or why it needs no check"
        )
        kwargs[param] = (overrides or {}).get(param, objects[kind])
    return reverse(route.name, kwargs=kwargs)


def state() -> tuple:
    """Everything a refused request must leave as it was."""
    from tickets.models import SavedView, TicketLink

    return (
        list(Ticket.objects.order_by("pk").values_list("pk", "status", "priority", "assignee_id", "team_id",
                                                       "merged_into_id", "customer_id", "store_id")),
        Message.objects.count(), TicketEvent.objects.count(), Attachment.objects.count(),
        sorted(Ticket.orders.through.objects.values_list("ticket_id", "order_id")),
        sorted(Ticket.tags.through.objects.values_list("ticket_id", "tag_id")),
        TicketLink.objects.count(),
        list(SavedView.objects.order_by("pk").values_list("pk", "name")),
        list(Customer.objects.order_by("pk").values_list("pk", "merged_into_id")),
        list(Order.objects.order_by("pk").values_list("pk", "status", "customer_id")),
        list(Notification.objects.order_by("pk").values_list("pk", "read_at")),
        _account_states(),
    )


def _account_states() -> list:
    from tickets.models import ChannelAccount

    return list(ChannelAccount.objects.order_by("pk").values_list("pk", "status"))


REFUSED = (403, 404)


def _call(client, method: str, url: str):
    if method == "get":
        return client.get(url)
    return getattr(client, method)(url, {}, format="json") if isinstance(client, APIClient) else client.post(url, {})


def _client_for(route: Route, user):
    client = APIClient() if route.name.startswith("api:") else __import__("django.test", fromlist=["Client"]).Client()
    client.force_login(user)
    return client


def _methods(route: Route) -> tuple[str, ...]:
    return ("get", "post", "patch", "put", "delete") if route.name.startswith("api:") else ("get", "post")


def id_routes() -> list[Route]:
    return [route for route in all_routes() if route.params and classified_elsewhere(route) is None]


def test_every_route_is_classified():
    """A route with parameters the walk cannot fill, or without an id and not listed here, fails."""
    unknown = []
    for route in all_routes():
        if classified_elsewhere(route):
            continue
        if not route.params:
            unknown.append(f"{route.name or '(unnamed)'} {route.route}: takes no id; add it to WITHOUT_OBJECT_ID")
            continue
        missing = [p for p in route.params if p not in LITERALS and kind_of(route, p) is None]
        if missing:
            unknown.append(f"{route.name} {route.route}: unknown parameters {missing}")
    assert unknown == []


@pytest.mark.parametrize("who", ["lucia", "marta"])
def test_no_route_opens_store_b_objects_to_store_a(world, who):
    romania = objects_of(world, "romania")
    objects_of(world, "spain")
    user = getattr(world, who)
    before = state()
    problems = []
    for route in id_routes():
        url = url_for(route, romania)
        client = _client_for(route, user)
        answered = {}
        for method in _methods(route):
            response = _call(client, method, url)
            answered[method] = response.status_code
        allowed = {m: s for m, s in answered.items() if s != 405}
        if not allowed or any(status not in REFUSED for status in allowed.values()):
            problems.append(f"{route.name} {url}: {answered}")
    assert problems == []
    assert state() == before


def test_mixed_routes_refuse_store_b_objects_under_a_store_a_ticket(world):
    """A's own ticket in the URL does not open B's order, message, link or canned response."""
    spain, romania = objects_of(world, "spain"), objects_of(world, "romania")
    before = state()
    problems = []
    for route in id_routes():
        if "pk" not in route.params or len(route.params) < 2 or kind_of(route, "pk") != "ticket":
            continue
        if all(p in LITERALS for p in route.params if p != "pk"):
            continue
        others = {p: romania[kind_of(route, p)] for p in route.params if p != "pk" and p not in LITERALS}
        url = url_for(route, spain, overrides=others)
        client = _client_for(route, world.lucia)
        answered = {method: _call(client, method, url).status_code for method in _methods(route)}
        allowed = {m: s for m, s in answered.items() if s != 405}
        if not allowed or any(status not in REFUSED for status in allowed.values()):
            problems.append(f"{route.name} {url}: {answered}")
    assert problems == []
    assert state() == before


def test_the_refused_urls_are_right_someone_of_store_b_gets_past_the_check(world):
    """The control: the same URLs answer someone who sees store B (its agent, manager or an
    administrator) with something other than 403/404, so the refusals above are the rule's doing."""
    romania = objects_of(world, "romania")
    problems = []
    for route in id_routes():
        url = url_for(route, romania)
        statuses = {}
        # Each route's calls are undone, so that one route (unlinking an order, say) leaves the
        # next one (an action on that order) its objects.
        with transaction.atomic():
            for user in (world.andrei, world.radu, world.admin):
                client = _client_for(route, user)
                for method in _methods(route):
                    status = _call(client, method, url).status_code
                    if status != 405:
                        statuses[(user.username, method)] = status
                        break
            transaction.set_rollback(True)
        if not any(status not in REFUSED for status in statuses.values()):
            problems.append(f"{route.name} {url}: {statuses}")
    assert problems == []


# --- Lists and request bodies ---------------------------------------------------------------


def test_lists_show_only_visible_rows(world):
    api = APIClient()
    api.force_login(world.lucia)
    tickets = {row["id"] for row in api.get("/api/v1/tickets/").json()["results"]}
    assert world.spain.ticket.pk in tickets and world.romania.ticket.pk not in tickets
    assert world.team_ticket.pk not in tickets and world.assigned_ticket.pk not in tickets
    customers = {row["id"] for row in api.get("/api/v1/customers/").json()["results"]}
    assert world.spain.customer.pk in customers and world.romania.customer.pk not in customers
    assert world.both.pk in customers
    orders = {row["id"] for row in api.get("/api/v1/orders/").json()["results"]}
    assert world.spain.order.pk in orders
    assert world.romania.order.pk not in orders and world.both_romania_order.pk not in orders
    # filters cannot widen the list
    assert api.get("/api/v1/tickets/", {"store": world.romania.store.pk}).json()["results"] == []
    assert api.get("/api/v1/orders/", {"customer": world.both.pk}).json()["results"] == []
    assert api.get("/api/v1/customers/", {"q": "Romania"}).json()["results"] == []

    page = _client_for(Route("tickets:inbox", "", ()), world.lucia)
    body = page.get(reverse("tickets:inbox")).content.decode()
    assert "Spain question" in body and "Romania question" not in body
    for query in ({"view": "all"}, {"store": world.romania.store.pk}, {"q": "Romania"}):
        assert "Romania question" not in page.get(reverse("tickets:inbox"), query).content.decode()

    # the Channels page (managers): the accounts of their stores only
    ChannelAccountFactory(store=world.spain.store, display_name="Spanish mailbox")
    ChannelAccountFactory(store=world.romania.store, display_name="Romanian mailbox")
    page.force_login(world.marta)
    body = page.get(reverse("channels_accounts:index")).content.decode()
    assert "Spanish mailbox" in body and "Romanian mailbox" not in body


def test_the_team_and_assignment_cases_by_api(world):
    api = APIClient()
    api.force_login(world.tomas)
    assert api.get(f"/api/v1/tickets/{world.team_ticket.pk}/").status_code == 200
    assert api.get(f"/api/v1/tickets/{world.romania.ticket.pk}/").status_code == 404
    api.force_login(world.ioana)
    assert api.get(f"/api/v1/tickets/{world.assigned_ticket.pk}/messages/").status_code == 200
    assert api.get(f"/api/v1/tickets/{world.romania.ticket.pk}/messages/").status_code == 404
    # the no-store default and the admin see both stores
    for user in (world.emma, world.admin):
        api.force_login(user)
        assert api.get(f"/api/v1/tickets/{world.romania.ticket.pk}/").status_code == 200
        assert api.get(f"/api/v1/customers/{world.spain.customer.pk}/").status_code == 200
        assert api.get(f"/api/v1/orders/{world.romania.order.pk}/").status_code == 200


def test_api_create_ticket_in_a_store_the_agent_cannot_see_is_refused(world):
    api = APIClient()
    api.force_login(world.lucia)
    before = Ticket.objects.count()
    response = api.post("/api/v1/tickets/", {
        "store": world.romania.store.pk, "customer": world.spain.customer.pk, "channel": "email", "subject": "x",
    }, format="json")
    assert response.status_code == 400 and "store" in response.json()
    response = api.post("/api/v1/tickets/", {
        "store": world.spain.store.pk, "customer": world.romania.customer.pk, "channel": "email", "subject": "x",
    }, format="json")
    assert response.status_code == 400 and "customer" in response.json()
    account = ChannelAccountFactory(store=world.romania.store)
    response = api.post("/api/v1/tickets/", {
        "store": world.spain.store.pk, "customer": world.spain.customer.pk, "channel": "email",
        "channel_account": account.pk,
    }, format="json")
    assert response.status_code == 400 and "channel_account" in response.json()
    assert Ticket.objects.count() == before
    response = api.post("/api/v1/tickets/", {
        "store": world.spain.store.pk, "customer": world.spain.customer.pk, "channel": "email", "subject": "ok",
    }, format="json")
    assert response.status_code == 201


def test_api_link_order_of_another_store_is_refused(world):
    api = APIClient()
    api.force_login(world.ioana)  # sees the Romanian ticket assigned to her, not Romania's orders
    response = api.post(f"/api/v1/tickets/{world.assigned_ticket.pk}/orders/", {"order": world.romania.order.pk},
                        format="json")
    assert response.status_code == 400 and "order" in response.json()
    assert not world.assigned_ticket.orders.exists()
    response = api.post(f"/api/v1/tickets/{world.spain.ticket.pk}/orders/", {"order": world.both_romania_order.pk},
                        format="json")
    assert response.status_code == 400
    assert list(world.spain.ticket.orders.all()) == [world.spain.order]


def test_page_link_order_by_number_of_another_store_finds_nothing(world):
    from django.test import Client

    client = Client()
    client.force_login(world.ioana)
    response = client.post(reverse("tickets:link_order", args=[world.assigned_ticket.pk]),
                           {"reference": world.romania.order.number}, follow=True)
    assert response.status_code == 200
    assert not world.assigned_ticket.orders.exists()
    # someone who sees Romania links it
    client.force_login(world.andrei)
    client.post(reverse("tickets:link_order", args=[world.assigned_ticket.pk]), {"reference": world.romania.order.number})
    assert list(world.assigned_ticket.orders.all()) == [world.romania.order]


def test_api_merge_into_a_customer_of_another_store_is_refused(world):
    api = APIClient()
    api.force_login(world.marta)
    response = api.post(f"/api/v1/customers/{world.spain.customer.pk}/merge/", {"into": world.romania.customer.pk},
                        format="json")
    assert response.status_code == 400 and "into" in response.json()
    assert Customer.objects.get(pk=world.spain.customer.pk).merged_into_id is None


def test_metrics_customer_value_counts_only_visible_stores(world):
    api = APIClient()
    api.force_login(world.lucia)
    values = api.get(f"/api/v1/metrics/customers/{world.both.pk}/value/").json()["values"]
    assert values == []  # "both" bought only in Romania
    assert api.get(f"/api/v1/metrics/customers/{world.romania.customer.pk}/value/").status_code == 404
    api.force_login(world.andrei)
    values = api.get(f"/api/v1/metrics/customers/{world.both.pk}/value/").json()["values"]
    assert [v["currency"] for v in values] == ["RON"]


def test_notifications_of_invisible_tickets_are_hidden(world):
    from django.test import Client

    stale = Notification.objects.create(recipient=world.lucia, ticket=world.romania.ticket, kind="mention",
                                        text="Romania question needs you")
    mine = Notification.objects.create(recipient=world.lucia, ticket=world.spain.ticket, kind="mention",
                                       text="Spain question needs you")
    client = Client()
    client.force_login(world.lucia)
    body = client.get(reverse("notifications:list")).content.decode()
    assert "Spain question needs you" in body and "Romania question needs you" not in body
    response = client.post(reverse("notifications:open", args=[stale.pk]))
    assert response["Location"] == reverse("notifications:list")
    response = client.post(reverse("notifications:open", args=[mine.pk]))
    assert response["Location"] == reverse("tickets:detail", args=[world.spain.ticket.pk])


def test_inline_image_token_opens_only_its_own_attachment(world):
    from django.test import Client

    from tickets import display

    client = Client()
    spanish_url = display.inline_image_url(world.spain.attachment)
    token = re.search(r"/inline/([^/]+)/$", spanish_url).group(1)
    forged = reverse("tickets:attachment_inline", args=[world.romania.attachment.pk, token])
    assert client.get(forged).status_code == 404


def test_ticket_page_shows_no_other_store_data_of_a_shared_customer(world):
    """A customer of both stores: the Spanish ticket page shows neither the Romanian order nor
    its value."""
    from django.test import Client

    client = Client()
    client.force_login(world.lucia)
    body = client.get(reverse("tickets:detail", args=[world.both_spain_ticket.pk])).content.decode()
    assert "#RO-BOTH" not in body
    assert "RON" not in body
    client.force_login(world.emma)
    body = client.get(reverse("tickets:detail", args=[world.both_spain_ticket.pk])).content.decode()
    assert "#RO-BOTH" in body


def test_survey_comments_of_other_stores_are_hidden(world):
    from django.utils import timezone

    from surveys.models import Survey, SurveyAnswer

    for side in (world.spain, world.romania):
        survey = Survey.objects.create(ticket=side.ticket, store=side.store, customer=side.customer, channel="email",
                                       kinds=["csat"], due_at=timezone.now(), status="answered")
        SurveyAnswer.objects.create(survey=survey, kind="csat", score=2, comment=f"{side.store.name} was slow",
                                    store=side.store, channel="email", ticket=side.ticket, customer=side.customer)
    api = APIClient()
    api.force_login(world.marta)
    results = api.get("/api/v1/metrics/comments/").json()["results"]
    assert [row["comment"] for row in results] == ["Spain was slow"]
    assert api.get("/api/v1/metrics/comments/", {"store": world.romania.store.pk}).status_code == 403
    api.force_login(world.admin)
    assert len(api.get("/api/v1/metrics/comments/").json()["results"]) == 2


def test_customer_segments_follow_managed_stores(world):
    from django.test import Client

    client = Client()
    client.force_login(world.marta)
    page = client.get(reverse("metrics:customers"), {"currency": "EUR"})
    assert page.status_code == 200
    names = {row["customer"].name for seg in page.context["summary"]["segments"] for row in seg["top"]}
    assert "Spain customer" in names and "Romania customer" not in names
    assert client.get(reverse("metrics:customers"), {"currency": "RON"}).status_code == 400


def test_bulk_actions_ignore_tickets_of_other_stores(world):
    from django.test import Client

    client = Client()
    client.force_login(world.lucia)
    before = Ticket.objects.get(pk=world.romania.ticket.pk).status
    client.post(reverse("tickets:inbox_bulk"), {
        "ticket": [world.romania.ticket.pk, world.spain.ticket.pk], "action": "status", "status": "solved",
    })
    assert Ticket.objects.get(pk=world.romania.ticket.pk).status == before
    assert Ticket.objects.get(pk=world.spain.ticket.pk).status == "solved"
    api = APIClient()
    api.force_login(world.lucia)
    response = api.post("/api/v1/tickets/bulk/", {
        "action": "status", "status": "pending", "tickets": [world.romania.ticket.pk, world.spain.ticket.pk],
    }, format="json")
    assert response.status_code == 200
    assert response.json()["done"] == [world.spain.ticket.pk]
    assert [row["ticket"] for row in response.json()["refused"]] == [
        world.romania.ticket.pk]
    assert Ticket.objects.get(pk=world.romania.ticket.pk).status == before


def test_widget_demo_page_shows_sample_orders_only_of_visible_stores(world):
    from django.test import Client

    from channels_ingest.widget.models import WidgetSettings

    WidgetSettings.objects.create(store=world.romania.store, language="ro")
    client = Client()
    client.force_login(world.lucia)
    response = client.get(reverse("widget:demo", args=[world.romania.store.slug]))
    assert response.status_code == 200
    assert world.romania.order.number not in response.content.decode()
    client.force_login(world.andrei)
    assert world.romania.order.number in client.get(reverse("widget:demo", args=[world.romania.store.slug])).content.decode()


def test_ticket_forms_naming_a_ticket_of_another_store_change_nothing(world):
    """Merge and link take the other ticket's number in the body: another store's is unknown."""
    from django.test import Client

    client = Client()
    client.force_login(world.lucia)
    before = state()
    for name, body in (("tickets:merge", {"other": world.romania.ticket.pk, "direction": "into"}),
                       ("tickets:merge", {"other": world.romania.ticket.pk, "direction": "from"}),
                       ("tickets:link_ticket", {"other": world.romania.ticket.pk, "kind": "related"})):
        response = client.post(reverse(name, args=[world.spain.ticket.pk]), body)
        assert response.status_code in (302, 400, 404)
    assert state() == before
    api = APIClient()
    api.force_login(world.lucia)
    assert api.post(f"/api/v1/tickets/{world.spain.ticket.pk}/merge/", {"target": world.romania.ticket.pk},
                    format="json").status_code in (400, 404)
    assert api.post(f"/api/v1/tickets/{world.spain.ticket.pk}/links/", {"ticket": world.romania.ticket.pk},
                    format="json").status_code in (400, 404)
    assert state() == before
