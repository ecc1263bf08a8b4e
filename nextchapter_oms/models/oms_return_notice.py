from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import float_compare

NOTICE_STATES = [
    ("announced", "Announced"),
    ("completed", "Completed"),
    ("cancelled", "Cancelled"),
]


class OmsReturnNotice(models.Model):
    _name = "oms.return.notice"
    _description = "Return Notice"
    _inherit = ["oms.order.document", "mail.thread", "mail.activity.mixin"]
    _order = "date desc, id desc"
    _check_company_auto = True
    _oms_sequence_code = "oms.return.notice"

    line_ids = fields.One2many(
        "oms.return.notice.line", "notice_id", string="Announced Items", copy=True
    )
    state = fields.Selection(
        NOTICE_STATES,
        string="Status",
        required=True,
        default="announced",
        copy=False,
        index=True,
        tracking=True,
    )
    source = fields.Selection(
        [("portal", "Portal"), ("manual", "Manual")],
        required=True,
        default="manual",
        help="Portal: announced by the customer on the customer portal. "
        "Manual: entered by customer service.",
    )
    date = fields.Datetime(required=True, default=fields.Datetime.now, copy=False)
    note = fields.Text(string="Customer Note")
    return_ids = fields.One2many("oms.return", "notice_id", string="Returns")
    return_count = fields.Integer(compute="_compute_return_count")
    comparison_ids = fields.One2many(
        "oms.return.notice.comparison",
        "notice_id",
        string="Announced vs. Received",
        readonly=True,
    )
    has_difference = fields.Boolean(
        string="Differences",
        compute="_compute_has_difference",
        help="What was received with the returns of this notice differs from what was announced.",
    )

    @api.depends("return_ids")
    def _compute_return_count(self):
        for notice in self:
            notice.return_count = len(notice.return_ids)

    @api.depends("comparison_ids.qty_difference", "state")
    def _compute_has_difference(self):
        for notice in self:
            notice.has_difference = notice.state == "completed" and any(
                float_compare(
                    row.qty_difference,
                    0.0,
                    precision_rounding=row.product_id.uom_id.rounding or 0.01,
                )
                for row in notice.comparison_ids
            )

    @api.ondelete(at_uninstall=False)
    def _unlink_except_completed(self):
        for notice in self:
            if notice.state == "completed":
                raise UserError(
                    self.env._(
                        "Return notice %(name)s is completed and cannot be deleted.",
                        name=notice.name,
                    )
                )

    # ------------------------------------------------------------------
    # actions
    # ------------------------------------------------------------------

    def action_cancel(self):
        for notice in self:
            if notice.state != "announced":
                raise UserError(
                    self.env._(
                        "Only announced return notices can be cancelled; %(name)s is %(state)s.",
                        name=notice.name,
                        state=dict(self._fields["state"]._description_selection(self.env))[
                            notice.state
                        ],
                    )
                )
        self.state = "cancelled"
        return True

    def action_create_return(self):
        """Open a new return for the notice's order, prefilled with its lines."""
        self.ensure_one()
        if self.state != "announced":
            raise UserError(
                self.env._(
                    "Return notice %(name)s is not announced any more: create the return "
                    "from the order instead.",
                    name=self.name,
                )
            )
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Return"),
            "res_model": "oms.return",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "current",
            "context": {
                "default_order_id": self.order_id.id,
                "default_notice_id": self.id,
                "default_company_id": self.company_id.id,
                "default_line_ids": [
                    (0, 0, line._prepare_return_line_vals()) for line in self.line_ids
                ],
            },
        }

    def action_view_returns(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("nextchapter_oms.oms_return_action")
        action["domain"] = [("notice_id", "=", self.id)]
        action["context"] = {"default_notice_id": self.id, "default_order_id": self.order_id.id}
        if self.return_count == 1:
            action.update(
                {"view_mode": "form", "views": [(False, "form")], "res_id": self.return_ids.id}
            )
        return action

    # ------------------------------------------------------------------
    # business methods
    # ------------------------------------------------------------------

    @api.model
    def _oms_get_announced_quantities(self, sale_lines, exclude_notices=None):
        """Quantities still announced (open notices) per sale line id."""
        domain = [
            ("sale_line_id", "in", sale_lines.ids),
            ("notice_id.state", "=", "announced"),
        ]
        if exclude_notices:
            domain.append(("notice_id", "not in", exclude_notices.ids))
        groups = (
            self.env["oms.return.notice.line"]
            .sudo()
            ._read_group(domain, ["sale_line_id"], ["quantity:sum"])
        )
        return {sale_line.id: quantity for sale_line, quantity in groups}

    @api.model
    def _oms_get_announceable_quantities(self, order, exclude_notices=None):
        """What the customer may still announce per sale line: shipped, less what was
        returned already, less what is announced in open notices."""
        lines = order.order_line.filtered(
            lambda line: (
                not line.display_type
                and not line.is_delivery
                and not line.is_downpayment
                and line.product_id.type == "consu"
            )
        )
        returnable = self.env["oms.return"]._oms_get_returnable_quantities(lines)
        announced = self._oms_get_announced_quantities(lines, exclude_notices=exclude_notices)
        result = {}
        for line in lines:
            quantity = returnable.get(line.id, 0.0) - announced.get(line.id, 0.0)
            if float_compare(quantity, 0.0, precision_rounding=line.product_uom.rounding) > 0:
                result[line] = quantity
        return result

    def _oms_send_confirmation(self):
        """E-mail the customer the confirmation of the notice."""
        template = self.env.ref("nextchapter_oms.mail_template_oms_return_notice")
        for notice in self:
            notice.with_context(mail_notify_author=True).message_post_with_source(
                template, subtype_xmlid="mail.mt_comment"
            )

    def _oms_complete(self):
        self.filtered(lambda n: n.state == "announced").state = "completed"


class OmsReturnNoticeLine(models.Model):
    _name = "oms.return.notice.line"
    _inherit = ["oms.order.document.line"]
    _description = "Return Notice Line"
    _order = "notice_id, id"
    _check_company_auto = True

    notice_id = fields.Many2one(
        "oms.return.notice",
        string="Return Notice",
        required=True,
        index=True,
        ondelete="cascade",
    )
    company_id = fields.Many2one(related="notice_id.company_id", store=True, index=True)
    order_id = fields.Many2one(related="notice_id.order_id")

    @api.constrains("quantity", "sale_line_id")
    def _check_quantity(self):
        for line in self:
            rounding = line.sale_line_id.product_uom.rounding or 0.01
            if float_compare(line.quantity, 0.0, precision_rounding=rounding) <= 0:
                raise ValidationError(
                    self.env._(
                        "The quantity of %(product)s on return notice %(notice)s must be positive.",
                        product=line.product_id.display_name,
                        notice=line.notice_id.name,
                    )
                )
            if line.sale_line_id.order_id != line.notice_id.order_id:
                raise ValidationError(
                    self.env._(
                        "%(product)s is not an item of order %(order)s.",
                        product=line.product_id.display_name,
                        order=line.notice_id.order_id.name,
                    )
                )
        # announced at most what was shipped and not returned or announced elsewhere
        for notice in self.notice_id.filtered(lambda n: n.state == "announced"):
            allowed = self.env["oms.return.notice"]._oms_get_announceable_quantities(
                notice.order_id, exclude_notices=notice
            )
            totals = {}
            for line in notice.line_ids:
                totals[line.sale_line_id] = totals.get(line.sale_line_id, 0.0) + line.quantity
            for sale_line, quantity in totals.items():
                maximum = allowed.get(sale_line, 0.0)
                if (
                    float_compare(
                        quantity, maximum, precision_rounding=sale_line.product_uom.rounding
                    )
                    > 0
                ):
                    raise ValidationError(
                        self.env._(
                            "You cannot announce %(qty)s %(uom)s of %(product)s: at most "
                            "%(max)s %(uom)s was shipped and not returned or announced yet.",
                            qty=quantity,
                            uom=sale_line.product_uom.name,
                            product=sale_line.product_id.display_name,
                            max=maximum,
                        )
                    )

    def _prepare_return_line_vals(self):
        self.ensure_one()
        return {
            "sale_line_id": self.sale_line_id.id,
            "quantity": self.quantity,
            "reason_id": self.reason_id.id,
            "note": self.note,
        }
