"""An agent's reply to a ticket as an e-mail: the reply, then the conversation so far (masked by the
caller as the hand-off packet is for other systems), plain text. Headers are checked here: the
recipient must be an address, the subject is one line (``bot.mail.address``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from bot.mail.address import address_problem, header_text, sender

MAX_SUBJECT_CHARS = 100


@dataclass(frozen=True)
class Line:
    """One line of the conversation so far: who said it (You, the bot's name, an agent), when, what."""

    who: str
    at: datetime
    text: str


def subject_for(question: str | None) -> str:
    """``Re: <the customer's first question>`` on one line, or a plain one without a question."""
    if not question or not question.strip():
        return "Re: your question to our support team"
    return "Re: " + header_text(question, MAX_SUBJECT_CHARS)


def body_for(reply: str, agent: str, lines: list[Line]) -> str:
    said = "\n\n".join(f"{line.who} ({line.at:%Y-%m-%d %H:%M} UTC):\n{_quoted(line.text)}" for line in lines)
    return (f"{reply.strip()}\n\n-- \n{agent}, customer support\n\n"
            f"Our conversation so far:\n\n{said or '(nothing yet)'}\n")


def _quoted(text: str) -> str:
    return "\n".join("> " + row for row in text.splitlines() or [""])


def compose(to: str, from_: str, subject: str, reply: str, agent: str, lines: list[Line],
            now: datetime) -> EmailMessage:
    """The message, ready for the outbox; ValueError says which address is wrong."""
    problem = address_problem(to)
    if problem:
        raise ValueError(problem)
    frm: Address = sender(from_)
    msg = EmailMessage(policy=SMTP)  # SMTP's policy also refuses CR/LF in any header value
    msg["From"] = frm
    msg["To"] = to
    msg["Subject"] = header_text(subject, MAX_SUBJECT_CHARS + 10)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=frm.domain)
    msg["Auto-Submitted"] = "no"  # written by a person
    msg.set_content(body_for(reply, agent, lines))
    return msg
