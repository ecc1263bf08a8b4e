from collections import defaultdict

from odoo import fields, models
from odoo.exceptions import UserError


class AccountMove(models.Model):
    _inherit = "account.move"

    # ---- Money ----

    oms_refund_ids = fields.One2many(
        "oms.refund", "credit_note_id", string="Refunds", groups="nextchapter_oms.group_oms_user"
    )

    def _post(self, soft=True):
        """Enforce the credit ceiling on every posting path of a customer credit note
        linked to an order (the credit note wizard, returns, Odoo's reversal wizard, the
        auto-post cron), then create each posted credit note's refund."""
        to_post = self
        if soft:
            # future-dated moves are only scheduled when posted softly: checked when posted
            today = fields.Date.context_today(self)
            to_post = self.filtered(lambda move: move.date <= today)
        credit_notes = to_post.filtered(
            lambda move: move.move_type == "out_refund" and move.state == "draft"
        )
        credit_note_orders = credit_notes._oms_get_linked_orders()
        if credit_note_orders:
            credit_notes._oms_check_credit_ceiling(credit_note_orders)
        posted = super()._post(soft=soft)
        if credit_note_orders:
            posted_orders = {
                move: orders
                for move, orders in credit_note_orders.items()
                if move in posted and move.state == "posted"
            }
            if posted_orders:
                self.env["oms.refund"]._oms_create_for_credit_notes(posted_orders)
        return posted

    def _reconcile_reversed_moves(self, reverse_moves, move_reverse_cancel):
        """Odoo reconciles a posted reversal with the invoice it reverses. A credit note of
        an order is paid out by its refund instead: it stays open so that the refund's
        outbound payment is reconciled with it (the credit never exceeds what was paid).
        Reversals that cancel an invoice (``move_reverse_cancel``) keep Odoo's behaviour."""
        if not move_reverse_cancel:
            refunded = reverse_moves.filtered(
                lambda move: (
                    move.move_type == "out_refund" and move in move._oms_get_linked_orders()
                )
            )
            if refunded:
                # pair each other reversal with the move it reverses (``self`` holds each
                # reversed move once, however many reversals it has)
                for reverse in reverse_moves - refunded:
                    super(AccountMove, reverse.reversed_entry_id)._reconcile_reversed_moves(
                        reverse, move_reverse_cancel
                    )
                return reverse_moves
        return super()._reconcile_reversed_moves(reverse_moves, move_reverse_cancel)

    def button_draft(self):
        self._oms_release_refunds()
        return super().button_draft()

    def button_cancel(self):
        self._oms_release_refunds()
        return super().button_cancel()

    def _oms_release_refunds(self):
        """A credit note whose refund left (or is leaving) stays posted; other refunds of
        a credit note reset to draft or cancelled are cancelled with it."""
        refunds = self.sudo().oms_refund_ids
        if not refunds:
            return
        refunds._oms_lock()
        refunds.invalidate_recordset(["state"])
        for refund in refunds:
            if refund.state in ("processing", "done"):
                raise UserError(
                    self.env._(
                        "Credit note %(credit_note)s was refunded (%(refund)s): it can no "
                        "longer be reset to draft or cancelled.",
                        credit_note=refund.credit_note_id.name,
                        refund=refund.name,
                    )
                )
        for refund in refunds.filtered(lambda r: r.state != "cancelled"):
            refund.write({"state": "cancelled"})
            refund.message_post(
                body=self.env._(
                    "Cancelled: credit note %(credit_note)s was reset to draft or cancelled.",
                    credit_note=refund.credit_note_id.name,
                )
            )

    def _oms_get_linked_orders(self):
        """Orders each customer credit note of ``self`` is linked to: ``{move: orders}``,
        by its lines' order lines or by the invoice it reverses."""
        result = {}
        for move in self.filtered(lambda m: m.move_type == "out_refund"):
            orders = move.invoice_line_ids.sale_line_ids.order_id
            orders |= move.reversed_entry_id.invoice_line_ids.sale_line_ids.order_id
            if orders:
                result[move] = orders
        return result

    def _oms_get_amounts_by_order(self, orders):
        """What this credit note credits each of ``orders``, in each order's currency. One
        order: the whole credit note. Several: the lines linked to each order, and the lines
        linked to none of them for each."""
        self.ensure_one()
        amounts = defaultdict(float)
        if len(orders) == 1:
            amounts[orders] = self.amount_total
        else:
            unlinked = 0.0
            for line in self.invoice_line_ids.filtered(lambda li: li.display_type == "product"):
                line_orders = line.sale_line_ids.order_id & orders
                if not line_orders:
                    unlinked += line.price_total
                for order in line_orders:
                    amounts[order] += line.price_total
            for order in orders:
                amounts[order] += unlinked
        date = self.invoice_date or self.date or fields.Date.context_today(self)
        return {
            order: self.currency_id._convert(amount, order.currency_id, order.company_id, date)
            for order, amount in amounts.items()
        }

    def _oms_check_credit_ceiling(self, credit_note_orders):
        """Lock the orders and refuse when these draft credit notes, once posted, would
        take an order's credited amount above what was paid for it."""
        # sudo: whoever posts (an accountant, customer service) gets the same verdict, which
        # only reads the order's payments and credit notes
        orders = self.env["sale.order"].sudo()
        for linked in credit_note_orders.values():
            orders |= linked
        orders.sorted("id")._oms_lock_for_credit()
        extra_by_order = defaultdict(float)
        for move, linked in credit_note_orders.items():
            for order, amount in move._oms_get_amounts_by_order(linked).items():
                extra_by_order[order.sudo()] += amount
        # the draft credit notes themselves are counted through extra_by_order only
        orders._oms_check_credit_ceilings(extra_by_order)
