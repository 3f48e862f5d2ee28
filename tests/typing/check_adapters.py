"""Type-checked only (mypy): every built-in adapter is an ``Adapter``."""

from __future__ import annotations

from dunning_rules import Adapter
from dunning_rules.actions.approval import SlackApproval
from dunning_rules.actions.email import Email
from dunning_rules.actions.http import HTTP
from dunning_rules.actions.llm import LLM
from dunning_rules.actions.slack import Slack
from dunning_rules.actions.sms import TwilioSMS
from dunning_rules.actions.stripe import InvoiceRetrieve, PortalLink
from dunning_rules.actions.teams import Teams
from dunning_rules.actions.tickets import Ticket
from dunning_rules.testing import RecordingAdapter

adapters: list[Adapter] = [
    Email(),
    TwilioSMS(),
    Slack(),
    Teams(),
    Ticket(),
    HTTP(),
    LLM(),
    SlackApproval(),
    InvoiceRetrieve(),
    PortalLink(),
    RecordingAdapter(),
]
