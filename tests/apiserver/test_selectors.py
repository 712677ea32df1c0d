"""Label and field selectors: syntax, matching and errors."""

from __future__ import annotations

import pytest

from serverops.apiserver import errors, resources
from serverops.apiserver.builtins import EVENT_FIELD_GETTERS
from serverops.apiserver.selectors import parse_field_selector, parse_label_selector

LABELS = {"app": "web", "tier": "front", "version": "3", "app.kubernetes.io/name": "serverops"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app!=web", False),
        ("app=db", False),
        ("missing!=x", True),
        ("app", True),
        ("!app", False),
        ("!missing", True),
        ("app in (web,db)", True),
        ("app in (db)", False),
        ("app notin (db, cache)", True),
        ("missing notin (x)", True),
        ("missing in (x)", False),
        ("version>2", True),
        ("version<3", False),
        ("app=web,tier=front", True),
        ("app=web,tier=back", False),
        ("app.kubernetes.io/name=serverops", True),
        ("app in (web), !missing, tier", True),
    ],
)
def test_label_selector_matches(selector: str, matches: bool) -> None:
    assert parse_label_selector(selector).matches(LABELS) is matches


def test_label_selector_on_object_without_labels() -> None:
    assert parse_label_selector("!app").matches(None)
    assert not parse_label_selector("app").matches(None)


@pytest.mark.parametrize(
    "selector", ["app=web,", "app in web", "app in (web", "=web", "app=we b", "version>x"]
)
def test_label_selector_syntax_errors(selector: str) -> None:
    with pytest.raises(errors.APIError) as raised:
        parse_label_selector(selector)
    assert raised.value.code == 400


def test_field_selector_on_metadata() -> None:
    obj = {"metadata": {"name": "w1", "namespace": "default"}}
    getters = resources.METADATA_FIELD_GETTERS
    assert parse_field_selector("metadata.name=w1", getters).matches(obj, getters)
    assert parse_field_selector("metadata.name==w1,metadata.namespace=default", getters).matches(
        obj, getters
    )
    assert not parse_field_selector("metadata.name!=w1", getters).matches(obj, getters)
    assert parse_field_selector("metadata.name=w1", getters).exact_name() == "w1"


def test_field_selector_on_events() -> None:
    event = {
        "metadata": {"name": "e", "namespace": "ns"},
        "involvedObject": {"kind": "Server", "name": "web-1", "uid": "u-1", "namespace": "ns"},
        "reason": "Deleting",
        "type": "Normal",
    }
    selector = parse_field_selector(
        "involvedObject.kind=Server,involvedObject.name=web-1,involvedObject.uid=u-1,type=Normal",
        EVENT_FIELD_GETTERS,
    )
    assert selector.matches(event, EVENT_FIELD_GETTERS)
    assert not parse_field_selector("reason=Other", EVENT_FIELD_GETTERS).matches(
        event, EVENT_FIELD_GETTERS
    )


def test_field_selector_escapes() -> None:
    getters = resources.METADATA_FIELD_GETTERS
    selector = parse_field_selector(r"metadata.name=a\,b", getters)
    assert selector.matches({"metadata": {"name": "a,b"}}, getters)


def test_unsupported_field_is_rejected() -> None:
    with pytest.raises(errors.APIError) as raised:
        parse_field_selector("spec.size=3", resources.METADATA_FIELD_GETTERS)
    assert raised.value.code == 400
    assert raised.value.message == "field label not supported: spec.size"
