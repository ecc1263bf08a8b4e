"""Carrier track & trace import: ``POST /oms/tracking``.

Authentication, either:

- ``X-OMS-Signature``: hex HMAC-SHA256 of the raw body with a company's
  ``oms_tracking_secret``; the company whose secret matches is the one the message is
  about, and the message is applied by the system user within that company;
- ``Authorization: Bearer <API key>`` of an active user in the Order Management user
  group; the message is applied as that user, within that user's companies.

Body: ``{"shipments": [{"shipment": "<number>" | "order": "<number>",
"tracking_ref": "...", "tracking_url": "https://..." (optional),
"status": "pre_announced" | "shipped" | "delivered", "date": "<ISO 8601>" (optional)}]}``.
"""

import hashlib
import hmac
import json
import logging
import re
import time
from datetime import UTC, datetime

from odoo import SUPERUSER_ID, http
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.http import request

_logger = logging.getLogger(__name__)

OMS_TRACKING_ENDPOINT = "/oms/tracking"
OMS_TRACKING_MAX_BODY = 1024 * 1024
OMS_TRACKING_MAX_ENTRIES = 500
OMS_TRACKING_STATUSES = ("pre_announced", "shipped", "delivered")
OMS_TRACKING_URL_RE = re.compile(r"^https?://[^\s]+$", re.IGNORECASE)
OMS_BEARER_RE = re.compile(r"^bearer\s+(\S+)$", re.IGNORECASE)


class OmsTrackingError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class OmsTrackingController(http.Controller):
    @http.route(
        OMS_TRACKING_ENDPOINT,
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def oms_tracking(self, **kwargs):
        start = time.monotonic()
        try:
            body = self._oms_read_body()
            env, companies = self._oms_authenticate(body)
            entries = self._oms_parse(env, body)
        except OmsTrackingError as error:
            self._oms_log(
                [
                    {
                        "status_code": error.status,
                        "error": error.message,
                        "duration": (time.monotonic() - start) * 1000,
                    }
                ]
            )
            return request.make_json_response({"error": error.message}, status=error.status)

        results = []
        log_vals = []
        for index, entry in enumerate(entries):
            entry_start = time.monotonic()
            result, picking = self._oms_apply_entry(env, companies, index, entry)
            results.append(result)
            log_vals.append(
                {
                    "company_id": (picking.company_id or companies[:1]).id,
                    "status_code": result["code"],
                    "reference": result.get("shipment") or result.get("order"),
                    "error": result.get("error", False),
                    "duration": (time.monotonic() - entry_start) * 1000,
                    "picking_id": picking.id,
                    "order_id": picking.sale_id.id,
                }
            )
        self._oms_log(log_vals)
        codes = [result["code"] for result in results]
        errors = [code for code in codes if code >= 400]
        if not errors:
            status = 200
        elif len(errors) < len(codes):
            status = 207
        else:
            status = errors[0] if len(set(errors)) == 1 else 400
        return request.make_json_response({"results": results}, status=status)

    # ------------------------------------------------------------------
    # request
    # ------------------------------------------------------------------

    def _oms_read_body(self):
        httprequest = request.httprequest
        if (httprequest.content_length or 0) > OMS_TRACKING_MAX_BODY:
            raise OmsTrackingError(413, request.env._("The message is too large."))
        body = httprequest.get_data()
        if len(body) > OMS_TRACKING_MAX_BODY:
            raise OmsTrackingError(413, request.env._("The message is too large."))
        return body

    def _oms_authenticate(self, body):
        """Return the environment to apply the message with and the companies whose
        shipments it may touch."""
        headers = request.httprequest.headers
        authorization = headers.get("Authorization", "")
        signature = headers.get("X-OMS-Signature", "")
        if authorization:
            match = OMS_BEARER_RE.match(authorization.strip())
            uid = match and request.env["res.users.apikeys"]._check_credentials(
                scope="oms_tracking", key=match.group(1)
            )
            if not uid:
                raise OmsTrackingError(401, request.env._("Invalid API key."))
            user = request.env["res.users"].sudo().browse(uid)
            if not user._is_internal() or not user.has_group("nextchapter_oms.group_oms_user"):
                raise OmsTrackingError(
                    403,
                    request.env._("This API key's user may not import track & trace."),
                )
            companies = user.company_ids
            env = request.env(
                user=user.id,
                su=False,
                context=dict(request.env.context, allowed_company_ids=companies.ids),
            )
            return env, env["res.company"].browse(companies.ids)
        if not signature:
            raise OmsTrackingError(
                401,
                request.env._("Sign the message (X-OMS-Signature) or give an API key."),
            )
        provided = signature.strip().lower().encode()
        matches = request.env["res.company"]
        all_companies = (
            request.env["res.company"].sudo().search([("oms_tracking_secret", "!=", False)])
        )
        for company in all_companies:
            expected = hmac.new(
                company.oms_tracking_secret.encode(), body, hashlib.sha256
            ).hexdigest()
            # every company is checked, in constant time each
            if hmac.compare_digest(expected.encode(), provided):
                matches |= company
        if len(matches) != 1:
            raise OmsTrackingError(401, request.env._("Invalid signature."))
        env = request.env(
            user=SUPERUSER_ID,
            su=True,
            context=dict(request.env.context, allowed_company_ids=matches.ids),
        )
        return env, env["res.company"].browse(matches.ids)

    def _oms_parse(self, env, body):
        try:
            message = json.loads(body)
        except ValueError:
            raise OmsTrackingError(400, env._("The message is not valid JSON.")) from None
        shipments = message.get("shipments") if isinstance(message, dict) else None
        if not isinstance(shipments, list) or not shipments:
            raise OmsTrackingError(
                400, env._('The message must hold a non-empty list "shipments".')
            )
        if len(shipments) > OMS_TRACKING_MAX_ENTRIES:
            raise OmsTrackingError(
                413,
                env._(
                    "A message holds at most %(count)s shipments.",
                    count=OMS_TRACKING_MAX_ENTRIES,
                ),
            )
        return shipments

    def _oms_log(self, vals_list):
        for vals in vals_list:
            vals.setdefault("company_id", request.env.company.id)
            vals.update(direction="incoming", endpoint=OMS_TRACKING_ENDPOINT)
        request.env["oms.integration.log"]._oms_log(vals_list)

    # ------------------------------------------------------------------
    # entries
    # ------------------------------------------------------------------

    def _oms_apply_entry(self, env, companies, index, entry):
        """Apply one entry in its own savepoint: a bad entry writes nothing and never
        stops the others. Return its result and its shipment."""
        picking = env["stock.picking"]
        result = {"index": index}
        try:
            values = self._oms_validate_entry(env, entry)
            result.update({key: values[key] for key in ("shipment", "order") if values.get(key)})
            with env.cr.savepoint():
                picking = picking._oms_find_tracking_shipment(
                    values["shipment"],
                    values["order"],
                    values["tracking_ref"],
                    values["status"],
                    companies,
                )
                if not picking:
                    raise OmsTrackingError(
                        404,
                        env._(
                            "Unknown shipment %(reference)s.",
                            reference=values["shipment"] or values["order"],
                        ),
                    )
                changed = picking._oms_apply_tracking(
                    values["status"],
                    tracking_ref=values["tracking_ref"],
                    tracking_url=values["tracking_url"],
                    date=values["date"],
                )
            result.update(
                {
                    "shipment": picking.name,
                    "order": picking.sale_id.name or None,
                    "result": "applied" if changed else "unchanged",
                    "code": 200,
                }
            )
        except OmsTrackingError as error:
            result.update({"result": "error", "code": error.status, "error": error.message})
        except (UserError, ValidationError) as error:
            result.update({"result": "error", "code": 409, "error": str(error)})
        except AccessError as error:
            result.update({"result": "error", "code": 403, "error": str(error)})
        if result["code"] >= 400:
            picking = env["stock.picking"]
        return result, picking

    def _oms_validate_entry(self, env, entry):
        if not isinstance(entry, dict):
            raise OmsTrackingError(400, env._("Each shipment entry must be a JSON object."))
        shipment = entry.get("shipment")
        order = entry.get("order")
        if bool(shipment) == bool(order) or not isinstance(shipment or order, str):
            raise OmsTrackingError(400, env._('Give either "shipment" or "order", as a text.'))
        status = entry.get("status")
        if status not in OMS_TRACKING_STATUSES:
            raise OmsTrackingError(
                400,
                env._(
                    'Unknown status %(status)s: use "pre_announced", "shipped" or "delivered".',
                    status=json.dumps(status),
                ),
            )
        tracking_ref = entry.get("tracking_ref") or False
        if tracking_ref is not False and (
            not isinstance(tracking_ref, str) or len(tracking_ref) > 128
        ):
            raise OmsTrackingError(400, env._("The tracking number must be a short text."))
        if not tracking_ref and status != "delivered":
            raise OmsTrackingError(400, env._("The tracking number is missing."))
        tracking_url = entry.get("tracking_url") or False
        if tracking_url is not False and (
            not isinstance(tracking_url, str)
            or len(tracking_url) > 2048
            or not OMS_TRACKING_URL_RE.match(tracking_url)
        ):
            raise OmsTrackingError(400, env._("The tracking URL must be an http(s) address."))
        date = entry.get("date") or False
        if date is not False:
            try:
                date = datetime.fromisoformat(date)
            except (TypeError, ValueError):
                raise OmsTrackingError(
                    400, env._("The date must be an ISO 8601 date and time.")
                ) from None
            if date.tzinfo:
                date = date.astimezone(UTC).replace(tzinfo=None)
            date = date.replace(microsecond=0)
        return {
            "shipment": shipment or False,
            "order": order or False,
            "status": status,
            "tracking_ref": tracking_ref and tracking_ref.strip(),
            "tracking_url": tracking_url,
            "date": date,
        }
