"""The OpenAPI document at /api/openapi.json: valid OpenAPI 3.1, complete (every /api/v1 route in it, every
operation summarised and tagged, every reference resolvable) and honest about errors (our error shape; 401/403
where a token is needed, 404 where the path names something, 429 everywhere)."""
from __future__ import annotations

import re

import jsonschema_rs
import pytest
import schemathesis

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
ERROR_REF = "#/components/schemas/Error"


@pytest.fixture
def spec(api):
    r = api.get("/api/openapi.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    return r.get_json()


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation, item


def resolve(spec, ref: str):
    assert ref.startswith("#/"), ref
    node = spec
    for part in ref[2:].split("/"):
        assert part in node, f"dangling reference {ref}"
        node = node[part]
    return node


def refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def response(spec, operation, status: str):
    found = operation["responses"][status]
    return resolve(spec, found["$ref"]) if "$ref" in found else found


def test_the_document_is_valid_openapi_3_1(app, spec):
    assert spec["openapi"] == "3.1.0"
    schema = schemathesis.openapi.from_dict(spec)
    schema.validate()  # the OpenAPI 3.1 meta-schema (raises on any violation)
    for name, component in spec["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(component), name  # each a valid JSON Schema (2020-12)


def test_every_reference_resolves(spec):
    found = set(refs(spec))
    assert "#/components/responses/UNAUTHORIZED" in found
    for ref in found:
        resolve(spec, ref)


def test_every_api_route_is_documented(app, spec):
    documented = {(path, method.upper()) for path, method, _, _ in operations(spec)}
    routes = 0
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)  # <int:id> -> {id}
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routes += 1
                assert (path, method) in documented, f"{method} {rule.rule} is not in the document"
    assert routes == len(documented)


def test_operations_have_summaries_and_described_tags(spec):
    tags = {t["name"]: t.get("description") for t in spec["tags"]}
    assert all(tags.values()), tags
    assert "Auth" in tags and not any(name.startswith("api_") for name in tags)
    for path, method, operation, _ in operations(spec):
        label = f"{method.upper()} {path}"
        assert operation.get("summary", "").strip(), f"{label} has no summary (the view's docstring)"
        assert operation.get("tags") and set(operation["tags"]) <= set(tags), label


def test_the_bearer_scheme(spec):
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"]}
    secured = [(p, m, o) for p, m, o, _ in operations(spec) if o.get("security")]
    assert secured, "no operation needs a token"
    for path, method, operation in secured:
        assert operation["security"] == [{"bearerAuth": []}]
        assert "401" in operation["responses"], f"{method} {path}"
        unauthorized = response(spec, operation, "401")
        assert unauthorized["content"]["application/json"]["schema"]["$ref"] == ERROR_REF
        assert unauthorized["headers"]["WWW-Authenticate"]["required"] is True


def test_error_responses_are_documented_in_our_shape(spec):
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    body = resolve(spec, error["properties"]["error"]["$ref"])
    assert sorted(body["required"]) == ["code", "fields", "message"]
    for path, method, operation, item in operations(spec):
        label = f"{method.upper()} {path}"
        responses = operation["responses"]
        assert "429" in responses and "default" in responses, label
        assert response(spec, operation, "429")["headers"]["Retry-After"]["schema"]["type"] == "integer"
        path_parameters = [p for p in item.get("parameters", []) + operation.get("parameters", [])
                           if p.get("in") == "path"]
        if path_parameters:
            assert "404" in responses, label
        if "requestBody" in operation:
            assert {"400", "413", "415", "422"} <= set(responses), label
        for status in responses:
            if status == "default" or int(status) >= 400:
                content = response(spec, operation, status)["content"]
                assert content["application/json"]["schema"]["$ref"] == ERROR_REF, f"{label} {status}"


def test_money_is_integer_cents_and_a_currency(app):
    from webapp.api.schemas import MoneySchema, money

    api = app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    converted = api.ma_plugin.converter.schema2jsonschema(MoneySchema)
    assert converted["properties"]["cents"]["type"] == "integer"
    assert converted["properties"]["currency"]["type"] == "string"
    assert sorted(converted["required"]) == ["cents", "currency"]
    with app.app_context():
        assert money(1299) == {"cents": 1299, "currency": "USD"}
        assert money(None) is None


def test_the_docs_page_reads_the_document_from_here(api):
    r = api.get("/api/docs")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'data-spec-url="/api/openapi.json"' in html
    assert "https://" not in html.split("<body>")[0]  # vendored assets, no CDN
