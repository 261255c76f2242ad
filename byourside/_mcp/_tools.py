"""The tools `byourside mcp` offers an agent, on the typed client and under the operator's policy.

Each tool returns structured content (the call as the service sends it, `to_wire()`) and a short
text summary. A failure is a tool error (``isError``) whose structured content is
``{"error": {"code", "message", "may_have_placed", "call_id"}}``, so an agent can act on the code.

Placement safety is the SDK's: a placement is never resent once it may have reached the service,
and this server never places again on the agent's behalf. A placement whose outcome is unknown is
reported with ``may_have_placed: true`` (and its id when known), telling the agent to look with
`list_calls` before placing again.
"""

# No `from __future__ import annotations`: the tools' signatures are read at run time to build
# their input schemas, and some of their bounds are the policy's values.

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import ConfigDict, Field

from byourside._generated import E164Number, PlaceCallRequest
from byourside._generated import FieldSpec as WireFieldSpec
from byourside._mcp._policy import Ledger, Policy, PolicyRefusal
from byourside._models import Call, PlacedCall
from byourside._validation import place_call_body
from byourside._version import __version__
from byourside.client import Client
from byourside.errors import ByoursideError

__all__ = ["INSTRUCTIONS", "POLL_INTERVAL", "build_server"]

POLL_INTERVAL = 5.0
"""Seconds between polls of `wait_for_call`: gentle on the service however long the agent waits."""

MAX_FIELDS: int = next(
    m.max_length for m in PlaceCallRequest.model_fields["fields"].metadata if hasattr(m, "max_length")
)
"""At most this many fields per call, as the spec says."""

INSTRUCTIONS = (
    "Places real outbound phone calls through the By Your Side Agent API: a real person answers. "
    "Calls may go only to numbers on the operator's allow-list, within the operator's caps. "
    "Use place_call once per intended call, then wait_for_call or get_call for the outcome. "
    "If place_call reports may_have_placed=true, the call may exist: look with list_calls "
    "before placing it again, never place it again blindly."
)


class ToolField(WireFieldSpec):
    """One value for the AI on the call to extract: a name, a type and a description."""

    model_config = ConfigDict(extra="forbid")


def _result(structured: dict[str, Any], text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)


def _failure(
    code: str, message: str, *, may_have_placed: bool = False, call_id: str | None = None
) -> CallToolResult:
    text = f"{code}: {message}"
    if may_have_placed:
        text += (
            f" The call MAY HAVE BEEN PLACED{f' (id {call_id})' if call_id else ''}: do not place it "
            "again; look for it with list_calls (or get_call with its id) first."
        )
    error = {"code": code, "message": message, "may_have_placed": may_have_placed, "call_id": call_id}
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content={"error": error}, is_error=True
    )


def _from_error(error: ByoursideError) -> CallToolResult:
    return _failure(
        error.code or "error", error.message, may_have_placed=error.may_have_placed, call_id=error.call_id
    )


def _describe_call(call: Call) -> str:
    lines = [f"Call {call.call_id} to {call.to or '?'}: {call.status}"]
    if call.summary:
        lines.append(f"Summary: {call.summary}")
    if isinstance(call.extracted, dict) and call.extracted:
        lines.append("Extracted: " + ", ".join(f"{k}={v!r}" for k, v in call.extracted.items()))
    return "\n".join(lines)


def _call_result(call: Call) -> CallToolResult:
    return _result(call.to_wire(), _describe_call(call))


def build_server(client: Client, policy: Policy, ledger: Ledger) -> MCPServer:
    """An MCP server whose tools act through `client` under `policy`, counting in `ledger`."""
    server: MCPServer = MCPServer(name="byourside", version=__version__, instructions=INSTRUCTIONS)

    def place_call(
        to: Annotated[E164Number, Field(description="The number to call, E.164 (+14155550123).")],
        objective: Annotated[str, Field(min_length=1, description="What the call must achieve, plain text.")],
        context: Annotated[
            str | None, Field(description="Background for the AI; never told to the callee.")
        ] = None,
        fields: Annotated[
            list[ToolField] | None,
            Field(max_length=MAX_FIELDS, description="Values to extract from the conversation."),
        ] = None,
        voice: Annotated[str | None, Field(description="The AI's voice, e.g. Aoede, Kore, Puck.")] = None,
        language: Annotated[str | None, Field(description="BCP-47 tag (en-US) or auto.")] = None,
    ) -> CallToolResult:
        wire_fields = [f.model_dump(exclude_none=True) for f in fields] if fields is not None else None
        try:
            policy.check_destination(to)
            body = place_call_body(
                to=to,
                objective=objective,
                context=context,
                fields=wire_fields,
                voice=voice,
                language=language,
            )
            if policy.dry_run:
                return _result(
                    {"dryRun": True, "wouldPlace": body},
                    f"Dry run: would call {to} (nothing was placed). Objective: {objective}",
                )
            ledger.reserve(to)
        except PolicyRefusal as refusal:
            return _failure(refusal.code, refusal.message)
        except ByoursideError as error:
            return _from_error(error)
        try:
            placed: PlacedCall = client.place_call(
                to, objective, context, wire_fields, voice=voice, language=language
            )
        except ByoursideError as error:
            if not error.may_have_placed:
                ledger.release(to)  # certainly nothing placed: the slot is free again
            return _from_error(error)
        return _result(placed.to_wire(), f"Placed call {placed.call_id} to {to}: {placed.status}")

    server.add_tool(
        place_call,
        description=(
            "Place one real outbound phone call. Only numbers on the operator's allow-list, within "
            "the operator's caps. Returns the call id; use wait_for_call or get_call for the outcome."
        ),
        annotations=ToolAnnotations(destructive_hint=True, idempotent_hint=False, open_world_hint=True),
    )

    def get_call(
        call_id: Annotated[str, Field(min_length=1, description="The call id place_call returned.")],
    ) -> CallToolResult:
        try:
            return _call_result(client.get_call(call_id))
        except ByoursideError as error:
            return _from_error(error)

    server.add_tool(
        get_call,
        description="Read one call: status, summary, extracted values, transcript.",
        annotations=ToolAnnotations(read_only_hint=True, open_world_hint=True),
    )

    def list_calls(
        limit: Annotated[int, Field(ge=1, le=100, description="How many recent calls, 1 to 100.")] = 20,
    ) -> CallToolResult:
        try:
            calls = client.list_calls(limit)
        except ByoursideError as error:
            return _from_error(error)
        text = "\n".join(f"{c.call_id} {c.to or '?'} {c.status}" for c in calls) or "No calls."
        return _result({"calls": [c.to_wire() for c in calls]}, text)

    server.add_tool(
        list_calls,
        description="List recent calls, newest first as the service orders them.",
        annotations=ToolAnnotations(read_only_hint=True, open_world_hint=True),
    )

    default_wait = min(180.0, policy.max_wait)

    def wait_for_call(
        call_id: Annotated[str, Field(min_length=1, description="The call id place_call returned.")],
        timeout: Annotated[
            float,
            Field(gt=0, le=policy.max_wait, description=f"Seconds to wait, at most {policy.max_wait:g}."),
        ] = default_wait,
    ) -> CallToolResult:
        try:
            policy.check_wait(timeout)
            return _call_result(client.wait_for_call(call_id, timeout=timeout, interval=POLL_INTERVAL))
        except PolicyRefusal as refusal:
            return _failure(refusal.code, refusal.message)
        except ByoursideError as error:
            return _from_error(error)

    server.add_tool(
        wait_for_call,
        description=(
            "Wait until a call ends (polling every 5 s), then return it. If the timeout passes first, "
            "the call goes on: call wait_for_call or get_call again later."
        ),
        annotations=ToolAnnotations(read_only_hint=True, open_world_hint=True),
    )
    return server
