"""Lambda ``fleet``: fleet search for manufacturer support.

Route (API Gateway REST, AWS_IAM auth), support and operators only; a gateway is
refused by IAM and again here:

* ``GET /fleet/devices?category=&model=&firmware=|firmware_prefix=|firmware_from=&firmware_to=
  &site_id=&gateway_id=&status=&seen_after=&seen_before=&limit=&next_token=``: every
  filter optional and combinable; category (with firmware), model prefix
  (case-insensitive), gateway and site are served by indexes, anything else by a
  scan that the answer reports (``scanned``, ``note``). See
  ``wardlink.cloudapi.repositories.fleet``.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from wardlink.cloudapi.handlers.common import build_resolver, current_caller, logger, tracer
from wardlink.cloudapi.repositories.fleet import FleetSearch, FleetSearchRepository
from wardlink.cloudapi.services import get_services
from wardlink.contract.fleet import FleetSearchPage
from wardlink.contract.models import (
    FIRMWARE_PATTERN,
    GATEWAY_ID_PATTERN,
    MAX_PAGE_SIZE,
    SITE_ID_PATTERN,
    DeviceState,
)

app = build_resolver()

CATEGORY_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
ISO_INSTANT_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?$"
STATUS_PATTERN = "^(" + "|".join(s.value for s in DeviceState) + ")$"
FirmwareQuery = Annotated[str | None, Query(pattern=FIRMWARE_PATTERN)]
InstantQuery = Annotated[str | None, Query(pattern=ISO_INSTANT_PATTERN)]
FirmwarePrefixQuery = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}\*?$")]


@app.get("/fleet/devices")
def search_fleet(
    category: Annotated[str | None, Query(pattern=CATEGORY_PATTERN)] = None,
    model: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    firmware: FirmwareQuery = None,
    firmware_prefix: FirmwarePrefixQuery = None,
    firmware_from: FirmwareQuery = None,
    firmware_to: FirmwareQuery = None,
    site_id: Annotated[str | None, Query(pattern=SITE_ID_PATTERN)] = None,
    gateway_id: Annotated[str | None, Query(pattern=GATEWAY_ID_PATTERN)] = None,
    status: Annotated[str | None, Query(pattern=STATUS_PATTERN)] = None,
    seen_after: InstantQuery = None,
    seen_before: InstantQuery = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    next_token: Annotated[str | None, Query(min_length=1, max_length=2048)] = None,
) -> FleetSearchPage:
    """Fleet search across every gateway and the inventory: support and operators only."""
    current_caller(app).require_support()
    search = FleetSearch(
        category=category, model=model, firmware=firmware, firmware_prefix=firmware_prefix,
        firmware_from=firmware_from, firmware_to=firmware_to, site_id=site_id,
        gateway_id=gateway_id, status=status, seen_after=seen_after, seen_before=seen_before,
    )  # fmt: skip
    services = get_services()
    repository = FleetSearchRepository(
        services.dynamodb, services.settings.require("devices_table")
    )
    page = repository.search(search, limit, next_token)
    if page.scanned:
        filters = {k: v for k, v in vars(search).items() if v is not None}
        logger.info("fleet search scanned the Devices table", extra={"filters": filters})
    return page


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
