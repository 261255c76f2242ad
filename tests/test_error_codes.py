"""Every error code the SDK can report is in the spec, and every code in the spec has a message."""

from __future__ import annotations

from typing import get_args

from byourside._generated import KnownErrorCode, SdkErrorCode
from byourside.errors import CODE_MESSAGES, SERVER_TOKENS


def test_codes_and_messages_match_the_spec() -> None:
    spec_codes = set(get_args(KnownErrorCode.__value__)) | set(get_args(SdkErrorCode.__value__))
    # `error`: 0.1.0's code for an error reply without a token, kept for its programs.
    assert set(CODE_MESSAGES) == spec_codes | {"error"}
    assert set(get_args(KnownErrorCode.__value__)) == SERVER_TOKENS
    assert all(message.strip() for message in CODE_MESSAGES.values())
