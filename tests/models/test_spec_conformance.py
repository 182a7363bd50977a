"""The models and resources agree with Twilio's OpenAPI description of Proxy v1.

Reads ``../shared/spec/twilio_proxy_v1.json`` and checks, for the four resources the
client handles: every schema property is a model field and vice versa, with a compatible
type and nullability; every enum matches; list pages use the spec's list key and ``meta``;
list operations take the paging parameters; the create form has ``Body`` and ``MediaUrl``;
and every example response in the spec structures into the model.
"""

from __future__ import annotations

import json
import types
import typing
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Union

import attrs
import pytest

from proxy_async.models import (
    Interaction,
    InteractionType,
    MessageInteraction,
    OpenEnum,
    PageMeta,
    Participant,
    ResourceStatus,
    Session,
    SessionMode,
    SessionStatus,
    structure,
    structure_page,
)
from proxy_async.resources.list_resource import (
    INTERACTIONS,
    MESSAGE_INTERACTIONS,
    PARTICIPANTS,
    SESSIONS,
    ResourceSpec,
)

SPEC_PATH = Path(__file__).resolve().parents[2].parent / "shared" / "spec" / "twilio_proxy_v1.json"
SCHEMA_REF_PREFIX = "#/components/schemas/"

MODEL_BY_SCHEMA: dict[str, type[Any]] = {
    "proxy.v1.service.session.interaction": Interaction,
    "proxy.v1.service.session.participant.message_interaction": MessageInteraction,
    "proxy.v1.service.session": Session,
    "proxy.v1.service.session.participant": Participant,
}

ENUM_BY_SCHEMA: dict[str, type[OpenEnum]] = {
    "interaction_enum_type": InteractionType,
    "interaction_enum_resource_status": ResourceStatus,
    "message_interaction_enum_type": InteractionType,
    "message_interaction_enum_resource_status": ResourceStatus,
    "session_enum_status": SessionStatus,
    "session_enum_mode": SessionMode,
}

RESOURCE_BY_SCHEMA: dict[str, ResourceSpec[Any]] = {
    "proxy.v1.service.session.interaction": INTERACTIONS,
    "proxy.v1.service.session.participant.message_interaction": MESSAGE_INTERACTIONS,
    "proxy.v1.service.session": SESSIONS,
    "proxy.v1.service.session.participant": PARTICIPANTS,
}

SESSIONS_PATH = "/v1/Services/{ServiceSid}/Sessions"
INTERACTIONS_PATH = SESSIONS_PATH + "/{SessionSid}/Interactions"
PARTICIPANTS_PATH = SESSIONS_PATH + "/{SessionSid}/Participants"
MESSAGE_INTERACTIONS_PATH = PARTICIPANTS_PATH + "/{ParticipantSid}/MessageInteractions"

EXPECTED_LIST_PATHS: dict[str, str] = {
    INTERACTIONS_PATH: "proxy.v1.service.session.interaction",
    MESSAGE_INTERACTIONS_PATH: "proxy.v1.service.session.participant.message_interaction",
    SESSIONS_PATH: "proxy.v1.service.session",
    PARTICIPANTS_PATH: "proxy.v1.service.session.participant",
}

EXPECTED_LIST_KEYS: dict[str, str] = {
    INTERACTIONS_PATH: "interactions",
    MESSAGE_INTERACTIONS_PATH: "interactions",
    SESSIONS_PATH: "sessions",
    PARTICIPANTS_PATH: "participants",
}

PAGING_PARAMETERS: dict[str, str] = {
    "PageSize": "integer",
    "Page": "integer",
    "PageToken": "string",
}


@cache
def load_spec() -> dict[str, Any]:
    """The OpenAPI document (read once per test session)."""
    with SPEC_PATH.open(encoding="utf-8") as handle:
        document: dict[str, Any] = json.load(handle)
    return document


def component_schema(name: str) -> dict[str, Any]:
    """``components.schemas.<name>``."""
    schema: dict[str, Any] = load_spec()["components"]["schemas"][name]
    return schema


def ref_name(ref: str) -> str:
    """``"#/components/schemas/x"`` -> ``"x"``."""
    assert ref.startswith(SCHEMA_REF_PREFIX), f"unexpected $ref {ref!r}"
    return ref.removeprefix(SCHEMA_REF_PREFIX)


def schema_properties(schema_name: str) -> dict[str, dict[str, Any]]:
    """The properties of a component schema."""
    properties: dict[str, dict[str, Any]] = component_schema(schema_name)["properties"]
    return properties


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    """Every (path, HTTP method, operation) in the spec."""
    found = []
    for path, path_item in load_spec()["paths"].items():
        for method in ("get", "post", "delete", "put", "patch"):
            if method in path_item:
                found.append((path, method, path_item[method]))
    return found


def json_response_schema(operation: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema of the operation's 2xx response, if it has one."""
    for status, response in operation["responses"].items():
        content = response.get("content", {}).get("application/json")
        if status.startswith("2") and content is not None:
            schema: dict[str, Any] = content["schema"]
            return schema
    return None


def list_item_schema(response_schema: dict[str, Any]) -> tuple[str, str] | None:
    """``(list key, item schema name)`` when the response is a list page of a known model."""
    if "meta" not in response_schema.get("properties", {}):
        return None
    for key, prop in response_schema["properties"].items():
        if prop.get("type") == "array" and "$ref" in prop.get("items", {}):
            return key, ref_name(prop["items"]["$ref"])
    return None


def list_operations() -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Path -> (list key, item schema, response schema) of list GETs of the four models."""
    found = {}
    for path, method, operation in operations():
        schema = json_response_schema(operation)
        listed = None if schema is None or method != "get" else list_item_schema(schema)
        if listed is not None and listed[1] in MODEL_BY_SCHEMA:
            assert schema is not None
            found[path] = (listed[0], listed[1], schema)
    return found


def is_optional(annotation: object) -> bool:
    """Whether a resolved annotation is ``X | None``."""
    origin = typing.get_origin(annotation)
    return origin in (Union, types.UnionType) and type(None) in typing.get_args(annotation)


def without_none(annotation: object) -> object:
    """``X`` of ``X | None`` (the annotation itself when not Optional)."""
    if not is_optional(annotation):
        return annotation
    (inner,) = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    return inner


def field_types(model: type[Any]) -> dict[str, object]:
    """Each attrs field of ``model`` with its annotation resolved (string annotations too)."""
    hints = typing.get_type_hints(model)
    return {field.name: hints[field.name] for field in attrs.fields(model)}


def expected_python_type(prop: dict[str, Any]) -> object:
    """The Python type a model field needs to hold the values a spec property allows."""
    if "$ref" in prop:
        name = ref_name(prop["$ref"])
        assert name in ENUM_BY_SCHEMA, f"no model enum is mapped to spec schema {name!r}"
        return ENUM_BY_SCHEMA[name]
    kind, form = prop.get("type"), prop.get("format")
    if kind == "string":
        return datetime if form == "date-time" else str
    if kind == "integer":
        return int
    if kind == "object" and form == "uri-map":
        return dict[str, str]
    raise AssertionError(f"property type {kind!r}/{form!r} has no mapping in this test")


MODEL_SCHEMA_PARAMS = [
    pytest.param(schema, model, id=model.__name__) for schema, model in MODEL_BY_SCHEMA.items()
]


def model_properties() -> list[tuple[str, type[Any], str, dict[str, Any]]]:
    """(schema, model, property name, property) for every property of the four schemas."""
    return [
        (schema, model, name, prop)
        for schema, model in MODEL_BY_SCHEMA.items()
        for name, prop in schema_properties(schema).items()
    ]


MODEL_PROPERTY_PARAMS = [
    pytest.param(model, name, prop, id=f"{model.__name__}.{name}")
    for _, model, name, prop in model_properties()
]


# --------------------------------------------------------------------------- schemas


def test_spec_has_every_schema_the_models_mirror() -> None:
    schemas = load_spec()["components"]["schemas"]
    assert set(MODEL_BY_SCHEMA) <= set(schemas)
    assert set(ENUM_BY_SCHEMA) <= set(schemas)


@pytest.mark.parametrize(("schema", "model"), MODEL_SCHEMA_PARAMS)
def test_model_fields_are_exactly_the_schema_properties(schema: str, model: type[Any]) -> None:
    spec_names = set(schema_properties(schema))
    model_names = {field.name for field in attrs.fields(model)}
    assert spec_names - model_names == set(), "spec properties missing from the model"
    assert model_names - spec_names == set(), "model fields the spec does not have"


@pytest.mark.parametrize(("model", "name", "prop"), MODEL_PROPERTY_PARAMS)
def test_field_type_is_compatible_with_the_property(
    model: type[Any], name: str, prop: dict[str, Any]
) -> None:
    annotation = field_types(model)[name]
    assert without_none(annotation) == expected_python_type(prop), (
        f"{model.__name__}.{name} is {annotation}, the spec says {prop}"
    )


@pytest.mark.parametrize(
    ("model", "name"),
    [
        pytest.param(model, name, id=f"{model.__name__}.{name}")
        for _, model, name, prop in model_properties()
        if prop.get("nullable", False)
    ],
)
def test_nullable_properties_are_optional_fields(model: type[Any], name: str) -> None:
    annotation = field_types(model)[name]
    assert is_optional(annotation), f"{model.__name__}.{name}: nullable in the spec, {annotation}"


def test_non_nullable_plain_properties_are_not_optional() -> None:
    checked = []
    for _, model, name, prop in model_properties():
        if "$ref" in prop or prop.get("nullable", False):
            continue  # enum refs carry no nullable flag, yet the API returns null for them
        annotation = field_types(model)[name]
        assert not is_optional(annotation), f"{model.__name__}.{name} is {annotation}"
        checked.append(f"{model.__name__}.{name}")
    assert checked == ["Session.ttl"]


def test_spec_defaults_are_the_model_defaults() -> None:
    checked = []
    for _, model, name, prop in model_properties():
        if "default" in prop:
            assert attrs.fields_dict(model)[name].default == prop["default"], name
            checked.append(f"{model.__name__}.{name}")
    assert checked == ["Session.ttl"]


# --------------------------------------------------------------------------- enums


def referenced_enum_schemas() -> list[str]:
    """Every enum schema a property of the four model schemas refers to."""
    names = {ref_name(prop["$ref"]) for _, _, _, prop in model_properties() if "$ref" in prop}
    return sorted(names)


def test_every_referenced_enum_schema_has_a_model_enum() -> None:
    referenced = referenced_enum_schemas()
    assert referenced, "the schemas refer to no enums: the spec file looks wrong"
    assert set(referenced) == set(ENUM_BY_SCHEMA)


@pytest.mark.parametrize(("enum_schema", "enum_type"), sorted(ENUM_BY_SCHEMA.items()))
def test_enum_values_match_the_spec_exactly(enum_schema: str, enum_type: type[OpenEnum]) -> None:
    spec_values = component_schema(enum_schema)["enum"]
    assert len(spec_values) == len(set(spec_values))
    assert {member.value for member in enum_type} == set(spec_values)


@pytest.mark.parametrize(
    ("enum_type", "value"),
    [
        pytest.param(enum_type, value, id=f"{enum_schema}:{value}")
        for enum_schema, enum_type in sorted(ENUM_BY_SCHEMA.items())
        for value in component_schema(enum_schema)["enum"]
    ],
)
def test_every_spec_enum_value_is_a_known_member(enum_type: type[OpenEnum], value: str) -> None:
    member = enum_type(value)
    assert member.is_known
    assert member.value == value
    assert member in list(enum_type)


# --------------------------------------------------------------------------- lists


def test_spec_lists_exactly_the_four_collections() -> None:
    assert {path: listed[1] for path, listed in list_operations().items()} == EXPECTED_LIST_PATHS


@pytest.mark.parametrize("path", sorted(EXPECTED_LIST_PATHS))
def test_resource_list_key_and_model_match_the_spec(path: str) -> None:
    list_key, item_schema, _ = list_operations()[path]
    resource = RESOURCE_BY_SCHEMA[item_schema]
    assert list_key == EXPECTED_LIST_KEYS[path]
    assert resource.list_key == list_key
    assert resource.model is MODEL_BY_SCHEMA[item_schema]


def test_resource_list_keys_are_the_documented_ones() -> None:
    assert INTERACTIONS.list_key == "interactions"
    assert MESSAGE_INTERACTIONS.list_key == "interactions"
    assert SESSIONS.list_key == "sessions"
    assert PARTICIPANTS.list_key == "participants"


@pytest.mark.parametrize("path", sorted(EXPECTED_LIST_PATHS))
def test_list_meta_matches_page_meta(path: str) -> None:
    _, _, response_schema = list_operations()[path]
    meta_properties: dict[str, dict[str, Any]] = response_schema["properties"]["meta"]["properties"]
    meta_fields = field_types(PageMeta)
    assert set(meta_properties) == set(meta_fields)
    for name, prop in meta_properties.items():
        annotation = meta_fields[name]
        assert without_none(annotation) == expected_python_type(prop), name
        assert is_optional(annotation) == prop.get("nullable", False), name


@pytest.mark.parametrize("path", sorted(EXPECTED_LIST_PATHS))
def test_list_get_takes_the_paging_parameters(path: str) -> None:
    operation = load_spec()["paths"][path]["get"]
    query = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
    for name, kind in PAGING_PARAMETERS.items():
        assert name in query, f"GET {path} lacks {name}"
        assert query[name]["schema"]["type"] == kind
    page_size = query["PageSize"]["schema"]
    assert (page_size["minimum"], page_size["maximum"]) == (1, 1000)


def test_create_message_interaction_form_has_body_and_media_url_array() -> None:
    operation = load_spec()["paths"][MESSAGE_INTERACTIONS_PATH]["post"]
    form = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    properties = form["properties"]
    assert set(properties) == {"Body", "MediaUrl"}
    assert properties["Body"]["type"] == "string"
    assert properties["MediaUrl"]["type"] == "array"
    assert properties["MediaUrl"]["items"]["type"] == "string"
    response = json_response_schema(operation)
    assert response is not None
    assert ref_name(response["$ref"]) == "proxy.v1.service.session.participant.message_interaction"


# --------------------------------------------------------------------------- examples


def example_responses() -> list[Any]:
    """Every example response of an operation returning one of the four models (or a list)."""
    cases = []
    for path, method, operation in operations():
        schema = json_response_schema(operation)
        if schema is None:
            continue
        listed = list_item_schema(schema)
        if listed is not None and listed[1] in MODEL_BY_SCHEMA:
            list_key, item_schema = listed
        elif "$ref" in schema and ref_name(schema["$ref"]) in MODEL_BY_SCHEMA:
            list_key, item_schema = None, ref_name(schema["$ref"])
        else:
            continue
        for status, response in operation["responses"].items():
            examples = response.get("content", {}).get("application/json", {}).get("examples", {})
            for example_name, example in examples.items():
                cases.append(
                    pytest.param(
                        example["value"],
                        MODEL_BY_SCHEMA[item_schema],
                        list_key,
                        id=f"{method.upper()} {path} {status} {example_name}",
                    )
                )
    return cases


EXAMPLE_RESPONSES = example_responses()


def test_spec_has_examples_for_every_model() -> None:
    models = {case.values[1] for case in EXAMPLE_RESPONSES}
    assert models == set(MODEL_BY_SCHEMA.values())


@pytest.mark.parametrize(("body", "model", "list_key"), EXAMPLE_RESPONSES)
def test_spec_example_structures_into_the_model(
    body: Any, model: type[Any], list_key: str | None
) -> None:
    if list_key is None:
        record = structure(body, model)
        assert isinstance(record, model)
        assert record.sid == body["sid"]
    else:
        page = structure_page(body, model, list_key)
        assert len(page) == len(body[list_key])
        assert page.meta.key == body["meta"]["key"]
