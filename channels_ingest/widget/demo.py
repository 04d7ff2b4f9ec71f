"""The demo stores' chat widgets (`manage.py seed_demo`): each store's colours, language and
returns policy, its mailbox for replies by email, and origins that let the demo shop page
(/widget/demo/<store>/) of a local run embed it."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

from channels_ingest.widget.models import WidgetSettings
from tickets.models import Channel, ChannelAccount, Store

DEMO_WIDGETS = {
    "casa-lumbre": {
        "language": "es",
        "title": "Casa Lumbre · ayuda",
        "primary_colour": "#b4441c",
        "returns_policy_text": (
            "Tienes 30 días desde la entrega para devolver cualquier artículo sin usar, en su embalaje original. "
            "La devolución es gratuita en España peninsular: escríbenos con tu número de pedido y te enviamos "
            "la etiqueta. El reembolso llega en 5 días hábiles desde que recibimos el paquete."
        ),
    },
    "atelier-carpati": {
        "language": "ro",
        "title": "Atelier Carpați",
        "primary_colour": "#2f6d4f",
        "returns_policy_text": (
            "Poți returna orice produs nefolosit în 14 zile de la livrare, în ambalajul original. "
            "Scrie-ne numărul comenzii și îți trimitem instrucțiunile de retur; banii revin în contul tău "
            "în cel mult 10 zile de la primirea coletului."
        ),
    },
}


def _local_origins() -> str:
    origins = ["http://localhost:8000", "http://127.0.0.1:8000"]
    public = urlsplit(settings.PUBLIC_URL)
    if public.scheme and public.netloc:
        origins.append(f"{public.scheme}://{public.netloc}")
    return "\n".join(dict.fromkeys(origins))


def ensure_demo_widgets(stores: dict[str, Store]) -> list[WidgetSettings]:
    """Create the demo stores' widgets when missing; existing ones are left as an admin set them."""
    widgets = []
    for slug, values in DEMO_WIDGETS.items():
        store = stores.get(slug)
        if store is None:
            continue
        chat = ChannelAccount.objects.filter(store=store, channel=Channel.CHAT).order_by("pk").first()
        mailbox = ChannelAccount.objects.filter(store=store, channel=Channel.EMAIL).order_by("pk").first()
        widget, _created = WidgetSettings.objects.get_or_create(store=store, defaults={
            **values, "account": chat, "email_account": mailbox, "allowed_origins": _local_origins(),
        })
        widgets.append(widget)
    return widgets
