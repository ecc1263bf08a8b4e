import logging
from datetime import timedelta

import psycopg2

from odoo import api, fields, models, modules
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL, format_amount

_logger = logging.getLogger(__name__)

REFUND_MODES = [
    ("automatic", "Automatic"),
    ("batch", "Batch"),
    ("manual", "Manual approval"),
]
REFUND_STATES = [
    ("to_approve", "To Approve"),
    ("queued", "Queued"),
    ("processing", "Processing"),
    ("done", "Done"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
]
# Refunds claimed and committed as 'processing' per round trip of the crons.
REFUND_CHUNK_SIZE = 100
# Chunks one cron run handles before it hands over to the next run (ir.cron progress).
REFUND_CHUNKS_PER_RUN = 10
# A refund still 'processing' without any outcome after this long was interrupted.
REFUND_INTERRUPTED_AFTER = timedelta(minutes=10)


class OmsRefund(models.Model):
    _name = "oms.refund"
    _description = "Order Refund"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "id desc"
    _check_company_auto = True

    name = fields.Char(
        string="Reference", required=True, readonly=True, copy=False, default="/", index="trigram"
    )
    company_id = fields.Many2one(
        "res.company",
        required=True,
        readonly=True,
        index=True,
        default=lambda self: self.env.company,
    )
    order_id = fields.Many2one(
        "sale.order",
        required=True,
        readonly=True,
        index=True,
        ondelete="restrict",
        check_company=True,
        tracking=True,
    )
    partner_id = fields.Many2one(
        related="order_id.partner_id", string="Customer", store=True, index=True
    )
    credit_note_id = fields.Many2one(
        "account.move",
        required=True,
        readonly=True,
        index=True,
        copy=False,
        ondelete="restrict",
        check_company=True,
        domain="[('move_type', '=', 'out_refund')]",
    )
    credit_note_user_id = fields.Many2one(
        related="credit_note_id.create_uid", string="Credit Note Created By"
    )
    invoice_id = fields.Many2one(
        "account.move",
        readonly=True,
        check_company=True,
        domain="[('move_type', '=', 'out_invoice')]",
    )
    amount = fields.Monetary(currency_field="currency_id", readonly=True, tracking=True)
    currency_id = fields.Many2one("res.currency", required=True, readonly=True)
    mode = fields.Selection(REFUND_MODES, required=True, readonly=True, tracking=True)
    state = fields.Selection(
        REFUND_STATES,
        string="Status",
        required=True,
        readonly=True,
        copy=False,
        index=True,
        tracking=True,
        default="to_approve",
    )
    transaction_id = fields.Many2one(
        "payment.transaction",
        string="Payment Transaction",
        readonly=True,
        copy=False,
        help="The customer's original payment that the refund is sent back through.",
    )
    refund_transaction_id = fields.Many2one(
        "payment.transaction",
        readonly=True,
        copy=False,
        index="btree_not_null",
    )
    provider_reference = fields.Char(
        related="refund_transaction_id.provider_reference", string="Provider Reference"
    )
    payment_id = fields.Many2one(
        "account.payment",
        readonly=True,
        copy=False,
        help="The outbound payment reconciled with the credit note.",
    )
    approved_by_id = fields.Many2one("res.users", readonly=True, copy=False)
    approved_date = fields.Datetime(string="Approved On", readonly=True, copy=False)
    processing_date = fields.Datetime(string="Processing Since", readonly=True, copy=False)
    done_date = fields.Datetime(string="Refunded On", readonly=True, copy=False)
    failure_reason = fields.Text(readonly=True, copy=False)

    _sql_constraints = [
        (
            "credit_note_uniq",
            "unique(credit_note_id)",
            "A credit note has only one refund.",
        ),
        ("amount_positive", "CHECK(amount > 0)", "The amount of a refund must be positive."),
    ]

    # ------------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name", "/") == "/":
                vals["name"] = self.env["ir.sequence"].next_by_code("oms.refund") or "/"
        return super().create(vals_list)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_not_cancelled(self):
        for refund in self:
            if refund.state != "cancelled":
                raise UserError(
                    self.env._(
                        "Refund %(name)s cannot be deleted: cancel it first.", name=refund.name
                    )
                )

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def action_approve(self):
        """Approve refunds waiting for a manager. A manual refund is then executed right
        away (after this transaction commits); a held batch refund goes back in the batch."""
        self._oms_check_manager()
        four_eyes_user = self.env.user
        for refund in self:
            if refund.state != "to_approve":
                raise UserError(
                    self.env._(
                        "Refund %(name)s is not waiting for approval (status: %(state)s).",
                        name=refund.name,
                        state=refund._oms_state_label(),
                    )
                )
            if (
                refund.company_id.oms_refund_four_eyes
                and refund.credit_note_id.create_uid == four_eyes_user
            ):
                raise UserError(
                    self.env._(
                        "Four-eyes approval: you created credit note %(credit_note)s, so another "
                        "manager has to approve refund %(name)s.",
                        credit_note=refund.credit_note_id.name,
                        name=refund.name,
                    )
                )
        self._oms_lock()
        self.sudo().write(
            {
                "state": "queued",
                "approved_by_id": self.env.uid,
                "approved_date": fields.Datetime.now(),
                "failure_reason": False,
            }
        )
        self._oms_trigger_execution()
        return True

    def action_hold(self):
        """Take a queued batch refund out of the next batch until a manager approves it."""
        self._oms_check_manager()
        for refund in self:
            if refund.state != "queued" or refund.mode != "batch":
                raise UserError(
                    self.env._(
                        "Only queued batch refunds can be held; refund %(name)s is %(state)s.",
                        name=refund.name,
                        state=refund._oms_state_label(),
                    )
                )
        self._oms_lock()
        self.sudo().write({"state": "to_approve", "approved_by_id": False, "approved_date": False})
        return True

    def action_cancel(self):
        self._oms_check_manager()
        for refund in self:
            if refund.state in ("processing", "done"):
                raise UserError(
                    self.env._(
                        "Refund %(name)s is %(state)s: it can no longer be cancelled.",
                        name=refund.name,
                        state=refund._oms_state_label(),
                    )
                )
        self._oms_lock()
        self.sudo().write({"state": "cancelled"})
        return True

    def action_retry(self):
        """Queue failed refunds again. A refund that reached the provider is settled from
        its refund transaction, never sent twice."""
        self._oms_check_manager()
        for refund in self:
            if refund.state != "failed":
                raise UserError(
                    self.env._(
                        "Only failed refunds can be retried; refund %(name)s is %(state)s.",
                        name=refund.name,
                        state=refund._oms_state_label(),
                    )
                )
        self._oms_lock()
        self.sudo().write({"state": "queued", "failure_reason": False})
        self._oms_trigger_execution()
        return True

    def action_view_credit_note(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "account.move",
            "res_id": self.credit_note_id.id,
            "view_mode": "form",
            "views": [(False, "form")],
        }

    # ------------------------------------------------------------------
    # Creation from posted credit notes
    # ------------------------------------------------------------------

    @api.model
    def _oms_create_for_credit_notes(self, credit_note_orders):
        """Create the refund of each posted credit note (``{credit_note: orders}``) in the
        company's refund mode. A credit note never gets two refunds: one that had its refund
        cancelled when it was reset to draft gets that refund back."""
        refunds = self.sudo()
        existing = {
            refund.credit_note_id: refund
            for refund in refunds.search(
                [("credit_note_id", "in", [move.id for move in credit_note_orders])]
            )
        }
        vals_list = []
        reopened = refunds
        for credit_note, orders in credit_note_orders.items():
            amount = credit_note.amount_residual
            if credit_note.currency_id.is_zero(amount):
                # fully settled when posted (reconciled with the open invoice): nothing to pay out
                continue
            mode = credit_note.company_id.oms_refund_mode or "manual"
            values = {
                "amount": amount,
                "currency_id": credit_note.currency_id.id,
                "mode": mode,
                "state": "to_approve" if mode == "manual" else "queued",
                "invoice_id": credit_note.reversed_entry_id.id or orders._oms_get_invoices()[:1].id,
                "transaction_id": False,
                "failure_reason": False,
            }
            refund = existing.get(credit_note)
            if refund:
                if refund.state == "cancelled":
                    refund.write({**values, "approved_by_id": False, "approved_date": False})
                    reopened |= refund
                continue
            vals_list.append(
                {
                    **values,
                    "order_id": orders[:1].id,
                    "credit_note_id": credit_note.id,
                    "company_id": credit_note.company_id.id,
                }
            )
        created = refunds.create(vals_list) if vals_list else refunds
        new_refunds = created | reopened
        new_refunds._oms_assign_transactions()
        for refund in new_refunds:
            refund.order_id.message_post(
                body=self.env._(
                    "Refund %(refund)s of %(amount)s created for credit note %(credit_note)s "
                    "(%(mode)s).",
                    refund=refund._get_html_link(),
                    amount=refund._oms_format_amount(),
                    credit_note=refund.credit_note_id._get_html_link(),
                    mode=dict(REFUND_MODES)[refund.mode],
                ),
            )
        new_refunds.filtered(lambda r: r.state == "queued")._oms_trigger_execution()
        return new_refunds

    # ------------------------------------------------------------------
    # Crons
    # ------------------------------------------------------------------

    @api.model
    def _cron_execute_refunds(self):
        """Execute queued refunds of modes automatic and manual (triggered after the
        transaction that queued them commits), and settle those left in processing."""
        return self._oms_run(["automatic", "manual"])

    @api.model
    def _cron_process_refunds(self):
        """The refund batch: execute the queued batch refunds."""
        return self._oms_run(["batch"])

    @api.model
    def _oms_run(self, modes, chunk_size=REFUND_CHUNK_SIZE, max_chunks=REFUND_CHUNKS_PER_RUN):
        """Settle refunds left in processing, then execute queued ones in bounded chunks,
        each committed on its own. Returns the number of refunds handled."""
        refunds = self.sudo()
        handled = 0
        processing = refunds.search(
            [("state", "=", "processing"), ("mode", "in", modes)], limit=chunk_size, order="id"
        )
        for refund in processing:
            refund._oms_settle()
            refunds._oms_commit()
        handled += len(processing)
        last_id = 0
        for _chunk in range(max_chunks):
            chunk = refunds.search(
                [("state", "=", "queued"), ("mode", "in", modes), ("id", ">", last_id)],
                limit=chunk_size,
                order="id",
            )
            if not chunk:
                break
            last_id = chunk[-1].id
            chunk._oms_execute()
            handled += len(chunk)
        remaining = refunds.search_count([("state", "=", "queued"), ("mode", "in", modes)])
        # tells Odoo's cron runner to run again soon while refunds are left
        self.env["ir.cron"]._notify_progress(done=handled, remaining=remaining)
        return handled

    # ------------------------------------------------------------------
    # Execution
    # ------------------------------------------------------------------

    def _oms_execute(self):
        """Execute queued refunds: claim them as 'processing' (committed before any
        provider call), then send each one and commit its outcome."""
        claimed = self._oms_claim()
        self._oms_commit()
        for refund in claimed:
            refund._oms_execute_one()
            self._oms_commit()
        return claimed

    def _oms_claim(self):
        """Lock the queued refunds not taken by another worker, check that the order's
        refunds stay within what was paid, and mark them processing."""
        if not self:
            return self
        self.flush_model()
        try:
            rows = self.env.execute_query(
                SQL(
                    "SELECT id FROM oms_refund WHERE id IN %s AND state = 'queued' "
                    "ORDER BY id FOR UPDATE SKIP LOCKED",
                    tuple(self.ids),
                )
            )
        except psycopg2.errors.SerializationFailure:
            # another worker changed them since this transaction started: leave them to it
            _logger.info("Refunds %s are handled by another worker.", self.ids)
            self._oms_rollback()
            return self.browse()
        refunds = self.browse([row[0] for row in rows])
        self.invalidate_recordset(["state"])
        refunds = refunds.filtered(lambda r: r.state == "queued")
        if not refunds:
            return refunds
        orders = refunds.order_id
        orders._oms_lock_rows()
        paid_by_order = orders._oms_get_amounts_paid()
        refunded_by_order = orders._oms_get_amounts_refunded(exclude=refunds)
        claimed = self.browse()
        now = fields.Datetime.now()
        for refund in refunds:
            order = refund.order_id
            amount = refund._oms_amount_in_order_currency()
            paid = paid_by_order.get(order.id, 0.0)
            refunded = refunded_by_order.get(order.id, 0.0)
            if order.currency_id.compare_amounts(refunded + amount, paid) > 0:
                refund._oms_fail(
                    self.env._(
                        "Refunding %(amount)s would bring the refunds of order %(order)s above "
                        "the %(paid)s paid (%(refunded)s refunded already).",
                        amount=refund._oms_format_amount(),
                        order=order.name,
                        paid=order._oms_format_amount(paid),
                        refunded=order._oms_format_amount(refunded),
                    )
                )
                continue
            refunded_by_order[order.id] = refunded + amount
            claimed |= refund
        claimed._oms_assign_transactions()
        claimed.write({"state": "processing", "processing_date": now})
        return claimed

    def _oms_execute_one(self):
        """Send one processing refund: through the original payment transaction when its
        provider refunds, otherwise as an outbound payment on the payout journal."""
        self.ensure_one()
        self.flush_model()
        rows = self.env.execute_query(
            SQL(
                "SELECT id FROM oms_refund WHERE id = %s AND state = 'processing' "
                "FOR UPDATE SKIP LOCKED",
                self.id,
            )
        )
        self.invalidate_recordset()
        if not rows or self.state != "processing":
            return
        if self.refund_transaction_id or self.payment_id:
            # it reached the provider (or the journal) before: settle, never send again
            self._oms_settle()
            return
        if self.transaction_id and not self._oms_transaction_covers(self.transaction_id):
            # refunded in the meantime (e.g. through Odoo's own wizard): another payment of
            # the order, or the payout journal
            self.transaction_id = self._oms_find_refundable_transaction()
        if self.transaction_id:
            try:
                with self.env.cr.savepoint():
                    refund_tx = self._oms_send_to_provider()
            except Exception as error:
                _logger.info("Refund %s failed at the provider: %s", self.name, error)
                self._oms_fail(
                    self.env._(
                        "The payment provider refused the refund: %(error)s",
                        error=self._oms_error_message(error),
                    )
                )
                return
            self.refund_transaction_id = refund_tx
            # the provider's reference is durable before anything else can go wrong
            self._oms_commit()
            self._oms_settle()
            return
        journal = self.company_id.oms_refund_journal_id
        if not journal:
            self._oms_fail(
                self.env._(
                    "Order %(order)s has no payment transaction that can be refunded and no "
                    "refund payout journal is set in the settings.",
                    order=self.order_id.name,
                )
            )
            return
        try:
            with self.env.cr.savepoint():
                self._oms_pay_out_on_journal(journal)
        except (UserError, AccessError, ValueError) as error:
            self._oms_fail(
                self.env._(
                    "The payout on journal %(journal)s failed: %(error)s",
                    journal=journal.display_name,
                    error=self._oms_error_message(error),
                )
            )
            return
        self._oms_set_done()

    def _oms_send_to_provider(self):
        """Refund through Odoo's ``action_refund`` of the original transaction and return
        the refund transaction, linked to the credit note so that its outbound payment is
        reconciled with it."""
        tx = self.transaction_id.sudo()
        before = tx.child_transaction_ids
        amount = self.amount
        if tx.currency_id != self.currency_id:
            raise UserError(
                self.env._(
                    "The payment was made in %(tx_currency)s, the credit note is in %(currency)s.",
                    tx_currency=tx.currency_id.name,
                    currency=self.currency_id.name,
                )
            )
        tx.action_refund(amount_to_refund=amount)
        tx.invalidate_recordset(["child_transaction_ids"])
        refund_tx = (tx.child_transaction_ids - before).filtered(lambda t: t.operation == "refund")
        if len(refund_tx) != 1:
            raise UserError(self.env._("The payment provider created no refund transaction."))
        refund_tx.invoice_ids = [fields.Command.link(self.credit_note_id.id)]
        return refund_tx

    def _oms_pay_out_on_journal(self, journal):
        credit_note = self.credit_note_id
        if self.currency_id.compare_amounts(credit_note.amount_residual, self.amount) < 0:
            raise UserError(
                self.env._(
                    "credit note %(credit_note)s has only %(residual)s left to pay.",
                    credit_note=credit_note.name,
                    residual=self._oms_format_amount(credit_note.amount_residual),
                )
            )
        wizard = (
            self.env["account.payment.register"]
            .with_context(active_model="account.move", active_ids=credit_note.ids)
            .create(
                {
                    "journal_id": journal.id,
                    "amount": self.amount,
                    "currency_id": self.currency_id.id,
                    "payment_date": fields.Date.context_today(self),
                    "communication": f"{self.name} - {credit_note.name}",
                }
            )
        )
        self.payment_id = wizard._create_payments()[:1]

    def _oms_settle(self):
        """Settle a processing refund from what it left behind: its refund transaction,
        or its payout payment. It is never sent again from here."""
        self.ensure_one()
        if self.state != "processing":
            return
        if self.payment_id and not self.refund_transaction_id:
            self._oms_set_done()
            return
        refund_tx = self.refund_transaction_id.sudo()
        if not refund_tx:
            if self.processing_date and (
                fields.Datetime.now() - self.processing_date >= REFUND_INTERRUPTED_AFTER
            ):
                self._oms_fail(
                    self.env._(
                        "The refund was interrupted before its outcome was recorded. Check with "
                        "the payment provider whether the money left before you retry."
                    )
                )
            return
        if refund_tx.state == "done":
            if not refund_tx.is_post_processed:
                try:
                    with self.env.cr.savepoint():
                        refund_tx._post_process()
                except Exception as error:
                    _logger.warning(
                        "Refund %s: post-processing of %s failed, left to the payment cron: %s",
                        self.name,
                        refund_tx.reference,
                        error,
                    )
            self.payment_id = refund_tx.payment_id
            self._oms_set_done()
        elif refund_tx.state in ("cancel", "error"):
            self._oms_fail(
                self.env._(
                    "The payment provider did not refund: %(reason)s",
                    reason=refund_tx.state_message or refund_tx.state,
                )
            )
        # draft, pending, authorized: the provider has not confirmed yet; settled on a later run

    def _oms_set_done(self):
        self.ensure_one()
        self.write({"state": "done", "done_date": fields.Datetime.now(), "failure_reason": False})
        self.order_id.message_post(
            body=self.env._(
                "Refund %(refund)s of %(amount)s done for credit note %(credit_note)s.",
                refund=self._get_html_link(),
                amount=self._oms_format_amount(),
                credit_note=self.credit_note_id._get_html_link(),
            )
        )
        template = self.env.ref(
            "nextchapter_oms.mail_template_oms_refund_done", raise_if_not_found=False
        )
        if template and self.order_id.partner_id.email:
            self.message_post_with_source(template, subtype_xmlid="mail.mt_comment")

    def _oms_fail(self, reason):
        self.ensure_one()
        self.write({"state": "failed", "failure_reason": reason})
        self.message_post(body=reason)

    def _oms_assign_transactions(self):
        """Remember which of the order's payments each refund goes back through: a done
        online payment whose provider and payment method refund, in the refund's currency,
        with enough left that was not refunded yet."""
        for refund in self:
            if refund.transaction_id or refund.refund_transaction_id:
                continue
            refund.transaction_id = refund._oms_find_refundable_transaction()

    def _oms_find_refundable_transaction(self):
        self.ensure_one()
        for tx in self.order_id.sudo().transaction_ids.sorted("id"):
            if self._oms_transaction_covers(tx):
                return tx
        return self.env["payment.transaction"]

    def _oms_transaction_covers(self, tx):
        """Whether ``tx`` can refund this refund's amount: done, not a refund itself, in the
        refund's currency, with a provider and payment method that refund, and enough left
        that was not refunded yet (all of it when they refund in full only)."""
        self.ensure_one()
        tx = tx.sudo()
        method = tx.payment_method_id.primary_payment_method_id or tx.payment_method_id
        supports = {tx.provider_id.support_refund, method.support_refund}
        if (
            tx.state != "done"
            or tx.operation == "refund"
            or tx.currency_id != self.currency_id
            or supports & {False, "none"}
        ):
            return False
        refunded = sum(
            -child.amount
            for child in tx.child_transaction_ids
            if child.operation == "refund" and child.state not in ("cancel", "error")
        )
        if "full_only" in supports and (
            refunded or tx.currency_id.compare_amounts(self.amount, tx.amount) != 0
        ):
            return False
        return tx.currency_id.compare_amounts(tx.amount - refunded, self.amount) >= 0

    # ------------------------------------------------------------------
    # Demo data
    # ------------------------------------------------------------------

    @api.model
    def _oms_demo_prepare(self):
        """Credit notes and refunds in each status on the paid demo orders (paid by bank
        transfer, so refunds are paid out on the payout journal)."""
        company = self.env.company
        company.oms_refund_journal_id = self.env["account.journal"].search(
            [("type", "=", "bank"), ("company_id", "=", company.id)], limit=1
        )

        def credit(xmlid, amount, reason):
            order = self.env.ref(f"nextchapter_oms.{xmlid}")
            invoice = order._oms_get_invoices().filtered(lambda m: m.state == "posted")[-1:]
            wizard = self.env["oms.credit.note.create"].create(
                {
                    "order_id": order.id,
                    "invoice_id": invoice.id,
                    "credit_type": "amount",
                    "amount": amount,
                    "reason": reason,
                }
            )
            credit_note = self.env["account.move"].browse(wizard.action_create()["res_id"])
            return credit_note.sudo().oms_refund_ids

        # manual approval (the default mode): one waiting, one approved and paid out
        credit("sale_order_awaiting_shipment_demo", 5.0, "Late delivery, goodwill")
        done = credit("sale_order_shipped_demo", 10.0, "Damaged cover")
        done.action_approve()
        done._oms_execute()
        # batch: one queued for the next batch, one cancelled before it
        company.oms_refund_mode = "batch"
        credit("sale_order_shipped_demo", 4.0, "Price match")
        credit("sale_order_shipped_demo", 3.0, "Entered twice").action_cancel()
        # a payout that failed: no payout journal at that time
        company.oms_refund_mode = "automatic"
        journal = company.oms_refund_journal_id
        company.oms_refund_journal_id = False
        credit("sale_order_awaiting_shipment_demo", 2.5, "Missing bookmark")._oms_execute()
        company.write({"oms_refund_mode": "manual", "oms_refund_journal_id": journal.id})

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def _oms_check_manager(self):
        if not self.env.user.has_group("nextchapter_oms.group_oms_manager"):
            raise AccessError(
                self.env._(
                    "Only Order Management managers can approve, hold, cancel or retry refunds."
                )
            )

    def _oms_lock(self):
        """Lock the refunds' rows: two users approving or retrying the same refund at once
        are serialised, and the second one sees the new status."""
        if self.ids:
            self.flush_recordset()
            self.env.cr.execute(
                SQL("SELECT id FROM oms_refund WHERE id IN %s FOR UPDATE", tuple(self.ids))
            )
            self.invalidate_recordset()

    def _oms_trigger_execution(self):
        """Run the execute cron once this transaction has committed (Odoo's cron trigger):
        the provider is never called inside the transaction that queues a refund."""
        if self.filtered(lambda r: r.state == "queued" and r.mode != "batch"):
            cron = self.env.ref(
                "nextchapter_oms.ir_cron_oms_refund_execute", raise_if_not_found=False
            )
            if cron:
                cron.sudo()._trigger()

    def _oms_commit(self):
        # The crons commit on purpose: 'processing' must be durable before a provider is
        # called, and the provider's answer right after, so that a crash or a second worker
        # never sends a refund twice, and one failing chunk does not undo the others. Tests run
        # in one transaction that must never be committed, so there the commit is skipped and
        # the same logic runs within the test's transaction.
        # Neither while the module is being installed (demo data).
        if not modules.module.current_test and self.env.registry.ready:
            self.env.cr.commit()  # pylint: disable=invalid-commit

    def _oms_rollback(self):
        # see _oms_commit: a test's transaction is never rolled back from here
        if not modules.module.current_test and self.env.registry.ready:
            self.env.cr.rollback()

    def _oms_amount_in_order_currency(self):
        self.ensure_one()
        order = self.order_id
        return self.currency_id._convert(
            self.amount,
            order.currency_id,
            order.company_id,
            self.credit_note_id.invoice_date or fields.Date.context_today(self),
        )

    def _oms_format_amount(self, amount=None):
        self.ensure_one()
        return format_amount(self.env, self.amount if amount is None else amount, self.currency_id)

    def _oms_state_label(self):
        self.ensure_one()
        return dict(self._fields["state"]._description_selection(self.env))[self.state]

    @api.model
    def _oms_error_message(self, error):
        return (getattr(error, "args", None) and str(error.args[0])) or str(error) or repr(error)
