"""Every option of the support commands says what it takes (`--help`), generated over the
commands rather than checked for a hand-picked few."""

from __future__ import annotations

import pytest
from django.core.management import get_commands, load_command_class
from django.core.management.base import BaseCommand

from events.outbox import EventType

SUPPORT_COMMANDS = [
    "company_create",
    "company_list",
    "company_scim",
    "company_seats",
    "company_status",
    "portal_user_add",
    "token_issue",
    "vendor_key_issue",
    "webhook_add",
]


def options_of(name: str) -> dict[str, str | None]:
    command = load_command_class(get_commands()[name], name)
    parser = command.create_parser("manage.py", name)
    # Django's own options (--verbosity, --settings …) come with BaseCommand's help.
    own = {action.dest for action in BaseCommand().create_parser("manage.py", "x")._actions}
    return {
        action.option_strings[0]: action.help
        for action in parser._actions
        if action.dest not in own and action.option_strings
    }


@pytest.mark.parametrize("name", SUPPORT_COMMANDS)
def test_every_option_has_a_help_text(name: str) -> None:
    missing = [option for option, text in options_of(name).items() if not text]

    assert missing == []


def test_webhook_add_lists_the_event_types() -> None:
    text = " ".join(str(options_of("webhook_add")["--events"]).split())

    assert all(kind in text for kind in EventType.ALL)
