from werkzeug.exceptions import NotFound

from odoo import Command, http
from odoo.exceptions import AccessError, MissingError, ValidationError
from odoo.http import request
from odoo.tools import float_compare

from odoo.addons.sale.controllers import portal as sale_portal


class OmsReturnPortal(sale_portal.CustomerPortal):
    @http.route(
        ["/my/orders/<int:order_id>/return"],
        type="http",
        auth="public",
        methods=["GET", "POST"],
        website=True,
    )
    def portal_order_return(self, order_id, access_token=None, **post):
        """Announce a return of shipped items of the order: the logged-in customer, or
        anyone with the order's access token."""
        try:
            order_sudo = self._document_check_access(
                "sale.order", order_id, access_token=access_token
            )
        except (AccessError, MissingError) as error:
            raise NotFound() from error
        if order_sudo.state != "sale":
            raise NotFound()
        Notice = request.env["oms.return.notice"].sudo()
        is_post = request.httprequest.method == "POST"
        if is_post:
            # serialise announcements of the same order before checking the quantities
            order_sudo._oms_lock_rows()
        returnable = Notice._oms_get_announceable_quantities(order_sudo)
        errors = []
        if is_post:
            line_values, errors = self._oms_parse_return_form(order_sudo, returnable, post)
            if not errors:
                try:
                    with request.env.cr.savepoint():
                        notice = Notice.with_context(mail_create_nosubscribe=True).create(
                            {
                                "order_id": order_sudo.id,
                                "company_id": order_sudo.company_id.id,
                                "source": "portal",
                                "note": (post.get("note") or "").strip()[:2000] or False,
                                "line_ids": [Command.create(vals) for vals in line_values],
                            }
                        )
                except ValidationError as error:
                    errors.append(error.args[0])
                else:
                    notice._oms_send_confirmation()
                    return request.redirect(
                        order_sudo.get_portal_url(query_string="&message=oms_return_ok")
                    )
        values = {
            "sale_order": order_sudo,
            "page_name": "order",
            "returnable": returnable,
            "reasons": self._oms_get_return_reasons(order_sudo),
            "errors": errors,
            "form": post if is_post else {},
            "access_token": access_token,
        }
        return request.render("nextchapter_oms.portal_order_return", values)

    def _oms_get_return_reasons(self, order_sudo):
        return (
            request.env["oms.return.reason"]
            .sudo()
            .search([("company_id", "=", order_sudo.company_id.id)])
        )

    def _oms_parse_return_form(self, order_sudo, returnable, post):
        """Read the chosen quantities, reasons and notes; return the notice line values
        and the errors to show (no line values when there are errors)."""
        env = request.env
        errors = []
        line_values = []
        reasons = self._oms_get_return_reasons(order_sudo)
        returnable_by_id = {line.id: (line, quantity) for line, quantity in returnable.items()}
        for key, raw_quantity in post.items():
            if not key.startswith("qty_"):
                continue
            try:
                line_id = int(key[4:])
                quantity = float((raw_quantity or "0").strip() or "0")
            except ValueError:
                errors.append(env._("Enter the quantities as numbers."))
                continue
            if quantity == 0:
                continue
            if line_id not in returnable_by_id:
                errors.append(env._("One of the chosen items cannot be returned."))
                continue
            line, maximum = returnable_by_id[line_id]
            product = line.product_id.display_name
            if quantity < 0:
                errors.append(
                    env._("The quantity of %(product)s cannot be negative.", product=product)
                )
                continue
            if float_compare(quantity, maximum, precision_rounding=line.product_uom.rounding) > 0:
                errors.append(
                    env._(
                        "You can return at most %(max)s of %(product)s.",
                        max=maximum,
                        product=product,
                    )
                )
                continue
            reason = reasons.browse()
            reason_raw = post.get(f"reason_{line_id}")
            if reason_raw:
                if reason_raw.isdigit():
                    reason = reasons.browse(int(reason_raw)) & reasons
                if not reason:
                    errors.append(
                        env._("Choose a reason from the list for %(product)s.", product=product)
                    )
                    continue
            elif reasons:
                errors.append(env._("Choose a reason for returning %(product)s.", product=product))
                continue
            line_values.append(
                {
                    "sale_line_id": line.id,
                    "quantity": quantity,
                    "reason_id": reason.id,
                    "note": (post.get(f"note_{line_id}") or "").strip()[:500] or False,
                }
            )
        if not errors and not line_values:
            errors.append(env._("Choose at least one item to return."))
        return ([] if errors else line_values), errors
