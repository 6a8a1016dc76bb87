"""CloudFormation intrinsics evaluated as far as synth time allows, unknowns kept visible."""

from __future__ import annotations

import pytest

from tools.api_model.intrinsics import (
    MARKER,
    UNKNOWN,
    Environment,
    literal_length,
    parse_json_text,
    resolve,
    show,
)

ENV = Environment(region="eu-west-1")


def test_join_keeps_literal_text_and_marks_tokens() -> None:
    value = resolve({"Fn::Join": ["", ["s3://", {"Ref": "Bucket"}, "/", {"Fn::GetAtt": ["R", "Arn"]}]]}, ENV)

    assert value == f"s3://{MARKER}/{MARKER}"
    assert literal_length(value) == 6


def test_pseudo_parameters() -> None:
    assert resolve({"Ref": "AWS::Partition"}, ENV) == "aws"
    assert resolve({"Ref": "AWS::Region"}, ENV) == "eu-west-1"
    assert resolve({"Ref": "AWS::Region"}, Environment()) is UNKNOWN
    assert resolve({"Ref": "AWS::AccountId"}, ENV) == "123456789012"  # every account ID has 12 digits
    assert resolve({"Ref": "AWS::URLSuffix"}, ENV) == "amazonaws.com"
    assert resolve({"Ref": "AWS::StackName"}, ENV) is UNKNOWN


def test_standalone_tokens_are_unknown_values() -> None:
    for token in (
        {"Ref": "Bucket"},
        {"Fn::GetAtt": ["R", "Arn"]},
        {"Fn::ImportValue": "x"},
        {"Fn::GetAZs": ""},
    ):
        assert resolve(token, ENV) is UNKNOWN


def test_sub_select_split_and_no_value() -> None:
    assert resolve({"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}/${!Literal}"}, ENV) == (
        f"arn:aws:s3:::{MARKER}/${{Literal}}"
    )
    assert resolve({"Fn::Sub": ["${A}-${B}", {"A": "x", "B": {"Ref": "B"}}]}, ENV) == f"x-{MARKER}"
    assert resolve({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}, ENV) == "b"
    assert resolve({"Fn::Select": [0, {"Fn::Split": [",", {"Ref": "List"}]}]}, ENV) is UNKNOWN
    assert resolve({"A": {"Ref": "AWS::NoValue"}, "B": [1, {"Ref": "AWS::NoValue"}]}, ENV) == {"B": [1]}


def test_find_in_map_with_known_keys() -> None:
    env = Environment(region="eu-west-1", mappings={"Images": {"eu-west-1": {"Uri": "img"}}})

    assert resolve({"Fn::FindInMap": ["Images", {"Ref": "AWS::Region"}, "Uri"]}, env) == "img"
    assert resolve({"Fn::FindInMap": ["Images", {"Ref": "Other"}, "Uri"]}, env) is UNKNOWN


def test_parse_json_text_handles_tokens_inside_and_outside_strings() -> None:
    text = f'{{"Uri":"s3://{MARKER}/x","Count":{MARKER},"Quoted":"a\\"{MARKER}"}}'

    assert parse_json_text(text) == {"Uri": f"s3://{MARKER}/x", "Count": UNKNOWN, "Quoted": f'a"{MARKER}'}


def test_parse_json_text_rejects_text_that_is_not_json() -> None:
    with pytest.raises(ValueError):
        parse_json_text('{"a": ')


def test_show_marks_unknown_pieces_and_truncates() -> None:
    assert show(f"s3://{MARKER}/x") == '"s3://<?>/x"'
    assert show("y" * 100) == '"' + "y" * 56 + "..."
    assert show("café") == '"caf\\u00e9"'
    assert show(UNKNOWN) == "<unknown>"
