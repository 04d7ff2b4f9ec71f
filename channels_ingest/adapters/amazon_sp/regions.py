"""Amazon marketplaces: their ids, the site a buyer sees and the SP-API region that serves them.

Source: SP-API "Marketplace IDs" and "SP-API Endpoints" in the developer guide
(https://developer-docs.amazon.com/sp-api/docs/marketplace-ids,
https://developer-docs.amazon.com/sp-api/docs/sp-api-endpoints).
"""

from __future__ import annotations

from channels_ingest.base import ChannelError

ENDPOINTS = {
    "na": "https://sellingpartnerapi-na.amazon.com",
    "eu": "https://sellingpartnerapi-eu.amazon.com",
    "fe": "https://sellingpartnerapi-fe.amazon.com",
}
# The AWS region of each SP-API region (where its SQS queues usually live).
AWS_REGIONS = {"na": "us-east-1", "eu": "eu-west-1", "fe": "us-west-2"}

# Marketplace id -> (site, SP-API region).
MARKETPLACES: dict[str, tuple[str, str]] = {
    # North America
    "ATVPDKIKX0DER": ("amazon.com", "na"),
    "A2EUQ1WTGCTBG2": ("amazon.ca", "na"),
    "A1AM78C64UM0Y8": ("amazon.com.mx", "na"),
    "A2Q3Y263D00KWC": ("amazon.com.br", "na"),
    # Europe, Middle East, Africa, India
    "A1RKKUPIHCS9HS": ("amazon.es", "eu"),
    "A1F83G8C2ARO7P": ("amazon.co.uk", "eu"),
    "A13V1IB3VIYZZH": ("amazon.fr", "eu"),
    "AMEN7PMS3EDWL": ("amazon.com.be", "eu"),
    "A1805IZSGTT6HS": ("amazon.nl", "eu"),
    "A1PA6795UKMFR9": ("amazon.de", "eu"),
    "APJ6JRA9NG5V4": ("amazon.it", "eu"),
    "A2NODRKZP88ZB9": ("amazon.se", "eu"),
    "AE08WJ6YKNBMC": ("amazon.co.za", "eu"),
    "A1C3SOZRARQ6R3": ("amazon.pl", "eu"),
    "ARBP9OOSHTCHU": ("amazon.eg", "eu"),
    "A33AVAJ2PDY3EV": ("amazon.com.tr", "eu"),
    "A17E79C6D8DWNP": ("amazon.sa", "eu"),
    "A2VIGQ35RCS4UG": ("amazon.ae", "eu"),
    "A21TJRUUN4KGV": ("amazon.in", "eu"),
    # Far East
    "A19VAU5U5O7RUS": ("amazon.sg", "fe"),
    "A39IBJ37TRP1C6": ("amazon.com.au", "fe"),
    "A1VC38T7YXB528": ("amazon.co.jp", "fe"),
}


def site_for(marketplace_id: str) -> str:
    """"amazon.es" for A1RKKUPIHCS9HS; "" for an id this table does not know."""
    return MARKETPLACES.get((marketplace_id or "").strip(), ("", ""))[0]


def region_for(marketplace_id: str) -> str:
    try:
        return MARKETPLACES[(marketplace_id or "").strip()][1]
    except KeyError:
        raise ChannelError(f"unknown Amazon marketplace id: {marketplace_id!r}", permanent=True) from None


def account_region(account) -> str:
    """The account's SP-API region: its `region` setting, else that of its first marketplace."""
    settings = account.settings or {}
    region = (settings.get("region") or "").strip().lower()
    if region:
        if region not in ENDPOINTS:
            raise ChannelError(f"unknown SP-API region: {region!r} (na, eu or fe)", permanent=True)
        return region
    marketplace_ids = settings.get("marketplace_ids") or []
    if not marketplace_ids:
        raise ChannelError("the Amazon account has neither a region nor marketplace ids", permanent=True)
    return region_for(marketplace_ids[0])


def endpoint_for(account) -> str:
    """The SP-API base URL of the account: its `api_base_url` setting (a proxy, or a local server
    in tests), else the regional endpoint."""
    override = (account.settings or {}).get("api_base_url")
    if override:
        return override.rstrip("/")
    return ENDPOINTS[account_region(account)]
