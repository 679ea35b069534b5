"""The escalation policy pages through Flask's test client on real Postgres and Redis (README,
Web app): the list, a policy's page with its sentences and preview, creating a policy, editing
its details, the step editor's draft actions and saving, the target picker, deleting; and every
refusal: bad input (422), a non-manager (403), a missing policy (404), no CSRF token (403)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from app.directory import services
from app.escalation import policies
from tests.integration.test_web_pages import csrf_of, page_sign_in
from tests.support.api import Api
from tests.support.policy_world import policy_world


@pytest.fixture
def world(db_conn: psycopg.Connection[Any]) -> dict[str, Any]:
    found = policy_world(db_conn)
    found["policy"] = policies.create_policy(
        db_conn,
        {"name": f"Payments primary {found['tag']}", "description": "", "repeat_count": 1,
         "team_id": found["team"]["id"]},
        [{"delay_minutes": 5, "targets": [{"type": "schedule", "id": found["primary"]["id"]},
                                          {"type": "channel", "id": found["ops"]["id"]}]},
         {"delay_minutes": 10, "targets": [{"type": "user", "id": found["bo"]},
                                           {"type": "schedule", "id": found["nobody"]["id"]}]}],
    )  # fmt: skip
    return found


def as_user(client: Any, user: dict[str, Any]) -> str:
    assert page_sign_in(client, user).status_code == 303
    return csrf_of(client.get("/escalation-policies").get_data(as_text=True))


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def step_form(csrf: str, *steps: tuple[str, list[str]], **extra: str) -> dict[str, Any]:
    form: dict[str, Any] = {"csrf_token": csrf, "steps": str(len(steps)), **extra}
    for i, (delay, targets) in enumerate(steps):
        form[f"delay-{i}"] = delay
        form[f"target-{i}"] = targets
    return form


def test_the_list_names_team_steps_repeats_and_services(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    service = services.create_service(db_conn, f"checkout {world['tag']}", "", world["team"]["id"])
    services.update_service(db_conn, service["id"], {"escalation_policy_id": world["policy"]["id"]})
    as_user(client, world["other"])
    html = client.get("/escalation-policies").get_data(as_text=True)
    row = re.search(rf'<tr data-policy-id="{world["policy"]["id"]}">(.*?)</tr>', html, re.S)
    assert row, html
    cells = text_of(row.group(1))
    assert world["team"]["name"] in cells and f"/services/{service['id']}" in row.group(1)
    assert '<td data-label="Steps" class="count">2</td>' in row.group(1)
    # `other` manages a team: the create form offers that team only.
    assert "New escalation policy" in html and world["team"]["name"] not in html.split("new-h")[1]


def test_the_policy_page_reads_the_steps_and_previews_an_alert_raised_now(
    client: Any, world: dict[str, Any]
) -> None:
    as_user(client, world["other"])
    html = client.get(f"/escalation-policies/{world['policy']['id']}").get_data(as_text=True)
    words = text_of(html)
    primary, nobody, ops = world["primary"]["name"], world["nobody"]["name"], world["ops"]["name"]
    assert f"Immediately, notify whoever is on call in {primary} , and post to {ops} ." in words
    assert "After 5 minutes, notify" in words
    assert "10 minutes after the last step, it starts again from step 1, once more." in words
    # The preview: Ada is on call in Primary at minute 0, SMS at once, voice at minute 5 ...
    phone = world["ada_phone"]
    assert re.search(rf"Minute 0 .*? Ada \w+ : minute 0 by SMS \{phone}, minute 5 by voice", words)
    # ... and the repeat at minute 15 engages her again: minutes 15 and 20.
    assert f"minute 15 by SMS {phone}, minute 20 by voice call" in words
    assert f"Minute 5 (step 2): nobody is on call in schedule {nobody}." in words
    assert "Bo " in words and "cannot be notified: no usable contact method: not verified" in words
    assert "Step editor" not in html  # not a manager of the owning team: no controls


def test_the_preview_fragment_is_computed_again(client: Any, world: dict[str, Any]) -> None:
    as_user(client, world["manager"])
    response = client.get(f"/escalation-policies/{world['policy']['id']}/preview")
    assert response.status_code == 200
    assert 'id="preview-body"' in response.get_data(as_text=True)
    assert "<html" not in response.get_data(as_text=True)


def test_a_manager_creates_a_policy_for_their_team_and_edits_its_details(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    csrf = as_user(client, world["manager"])
    response = client.post("/escalation-policies", data={
        "csrf_token": csrf, "name": "Nights", "description": "after hours",
        "repeat_count": "2", "team_id": world["team"]["id"]})  # fmt: skip
    assert response.status_code == 303
    policy_id = response.headers["Location"].split("/")[-1].split("?")[0]
    created = policies.get_policy(db_conn, policy_id)
    assert created is not None and created["repeat_count"] == 2 and created["steps"] == []
    assert created["team_id"] == world["team"]["id"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "add its steps below" in page and "This policy has no steps" in page
    response = client.post(f"/escalation-policies/{policy_id}", data={
        "csrf_token": csrf, "name": "Nights and weekends", "description": "",
        "repeat_count": "0"})  # fmt: skip
    assert response.status_code == 303
    changed = policies.get_policy(db_conn, policy_id)
    assert changed is not None and changed["name"] == "Nights and weekends"
    assert changed["repeat_count"] == 0


def test_bad_input_is_a_422_page(client: Any, world: dict[str, Any]) -> None:
    csrf = as_user(client, world["manager"])
    one = f"/escalation-policies/{world['policy']['id']}"
    for path, form in (
        ("/escalation-policies", {"name": "", "team_id": world["team"]["id"]}),
        ("/escalation-policies", {"name": "x", "repeat_count": "many",
                                  "team_id": world["team"]["id"]}),
        ("/escalation-policies", {"name": "x", "team_id": str(uuid.uuid4())}),
        (one, {"name": "x", "repeat_count": "21"}),
        (one + "/steps/draft", {"steps": "1", "delay-0": "5", "op": "up:0"}),
        (one + "/steps/draft", {"steps": "1", "target-0": "team:" + str(uuid.uuid4()),
                                "op": "add-step"}),
        (one + "/steps/draft", {"steps": "99", "op": "add-step"}),
        (one + "/steps/draft", {"steps": "0", "op": "explode"}),
    ):  # fmt: skip
        response = client.post(path, data={"csrf_token": csrf, **form})
        assert response.status_code == 422, (path, form, response.get_data(as_text=True)[:300])
        assert "Check the form" in response.get_data(as_text=True)


def test_saving_a_bad_draft_keeps_it_on_the_page_with_the_reason(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    csrf = as_user(client, world["manager"])
    one = f"/escalation-policies/{world['policy']['id']}"
    ada = f"user:{world['ada']}"
    response = client.post(one, data=step_form(csrf, ("0", [ada]), ("5", []), part="steps"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "step 1 minutes to the next step: must be at least 1" in html
    assert 'name="target-0" value="' + ada in html  # the draft is still there
    saved = policies.get_policy(db_conn, world["policy"]["id"])
    assert saved is not None and len(saved["steps"]) == 2  # unchanged
    gone = f"user:{uuid.uuid4()}"
    response = client.post(one, data=step_form(csrf, ("3", [gone]), part="steps"))
    assert response.status_code == 422 and "no user with id" in response.get_data(as_text=True)


def test_the_step_editor_drafts_then_saves_the_steps_as_a_whole(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    csrf = as_user(client, world["manager"])
    one = f"/escalation-policies/{world['policy']['id']}"
    ada, ops = f"user:{world['ada']}", f"channel:{world['ops']['id']}"
    primary = f"schedule:{world['primary']['id']}"
    htmx = {"HX-Request": "true"}

    def act(op: str, *steps: tuple[str, list[str]]) -> Any:
        return client.post(one + "/steps/draft", headers=htmx, data=step_form(csrf, *steps, op=op))

    draft = act("add-step", ("5", [ada]))
    html = draft.get_data(as_text=True)
    assert draft.status_code == 200 and "<html" not in html
    assert "Step 2" in html and 'data-focus="q-1"' in html
    draft = act(f"add:1:{primary}", ("5", [ada]), ("7", []))
    assert world["primary"]["name"] in draft.get_data(as_text=True)
    draft = act("up:1", ("5", [ada]), ("7", [primary, ops]))
    html = draft.get_data(as_text=True)
    assert html.index('value="schedule:') < html.index('value="user:')  # moved up
    assert 'data-focus="down-0"' in html
    draft = act("drop:0:1", ("7", [primary, ops]), ("5", [ada]))
    assert 'value="' + ops not in draft.get_data(as_text=True)
    # Without a script the draft action answers the whole page, the draft in it.
    full = client.post(one + "/steps/draft", data=step_form(csrf, ("7", [primary]), op="remove:0"))
    assert full.status_code == 200 and "<html" in full.get_data(as_text=True)
    # A no-script search lists the targets found, as buttons that add them.
    found = client.post(one + "/steps/draft", data=step_form(
        csrf, ("7", [primary]), op="search:0", **{"q-0": "nobody"}))  # fmt: skip
    assert f"add:0:schedule:{world['nobody']['id']}" in found.get_data(as_text=True)
    assert len(policies.get_policy(db_conn, world["policy"]["id"])["steps"]) == 2  # nothing saved

    saved = client.post(one, data=step_form(csrf, ("7", [primary, ops]), ("5", [ada]),
                                            part="steps"))  # fmt: skip
    assert saved.status_code == 303 and saved.headers["Location"].endswith("#steps")
    steps = policies.get_policy(db_conn, world["policy"]["id"])["steps"]
    assert [s["delay_minutes"] for s in steps] == [7, 5]
    assert [[t["type"] for t in s["targets"]] for s in steps] == [["schedule", "channel"], ["user"]]


def test_the_target_picker_finds_each_kind_by_name_with_wildcards_taken_literally(
    client: Any, world: dict[str, Any]
) -> None:
    as_user(client, world["manager"])
    one = f"/escalation-policies/{world['policy']['id']}/targets"
    html = client.get(one, query_string={"step": "0", "q-0": world["tag"]}).get_data(as_text=True)
    for kind in ("schedule", "rotation", "channel"):
        assert f'value="add:0:{kind}:' in html, kind
    ada = client.get(one, query_string={"step": "1", "q-1": "ada"}).get_data(as_text=True)
    assert f"add:1:user:{world['ada']}" in ada
    none = client.get(one, query_string={"step": "0", "q-0": "%"}).get_data(as_text=True)
    assert "add:0:" not in none and "is named like" in none
    assert client.get(one, query_string={"step": "50"}).status_code == 422
    assert client.get(one, query_string={"step": "x"}).status_code == 422


def test_a_policy_a_service_uses_is_not_deleted_one_that_none_uses_is(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    csrf = as_user(client, world["manager"])
    policy_id = world["policy"]["id"]
    service = services.create_service(db_conn, f"checkout {world['tag']}", "", world["team"]["id"])
    services.update_service(db_conn, service["id"], {"escalation_policy_id": policy_id})
    refused = client.post(f"/escalation-policies/{policy_id}/delete", data={"csrf_token": csrf})
    assert refused.status_code == 409 and "checkout" in refused.get_data(as_text=True)
    services.update_service(db_conn, service["id"], {"escalation_policy_id": None})
    deleted = client.post(f"/escalation-policies/{policy_id}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 303 and policies.get_policy(db_conn, policy_id) is None
    assert "Escalation policy deleted." in client.get(deleted.headers["Location"]).get_data(
        as_text=True
    )


def test_refusals_a_non_manager_a_missing_policy_and_no_csrf_token(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    csrf = as_user(client, world["other"])
    one = f"/escalation-policies/{world['policy']['id']}"
    steps = step_form(csrf, ("5", [f"user:{world['ada']}"]))
    for path, form in (
        (one, {"csrf_token": csrf, "name": "mine now"}),
        (one, {**steps, "part": "steps"}),
        (one + "/steps/draft", {**steps, "op": "add-step"}),
        (one + "/delete", {"csrf_token": csrf}),
        ("/escalation-policies", {"csrf_token": csrf, "name": "x",
                                  "team_id": world["team"]["id"]}),
    ):  # fmt: skip
        response = client.post(path, data=form)
        assert response.status_code == 403, (path, response.get_data(as_text=True)[:300])
        assert "Not allowed" in response.get_data(as_text=True)
    missing = f"/escalation-policies/{uuid.uuid4()}"
    assert client.get(missing).status_code == 404
    assert client.get(missing + "/preview").status_code == 404
    assert client.post(missing + "/delete", data={"csrf_token": csrf}).status_code == 404
    as_user(client, world["manager"])
    no_token = client.post(one, data={"name": "no token"})
    assert no_token.status_code == 403
    policy = policies.get_policy(db_conn, world["policy"]["id"])
    assert policy is not None and policy["name"].startswith("Payments primary")


def test_the_api_answers_the_same_preview_as_json(
    client: Any, world: dict[str, Any], make_api_key: Callable[[str], str]
) -> None:
    api = Api(client, make_api_key("read"))
    found = api.get(f"/escalation-policies/{world['policy']['id']}/preview")
    assert found.status_code == 200, found.get_json()
    body = found.get_json()
    assert [(f["minute"], f["step_index"], f["repeat"]) for f in body["firings"]] == [
        (0, 0, 0), (5, 1, 0), (15, 0, 1), (20, 1, 1),
    ]  # fmt: skip
    primary = body["firings"][0]["targets"][0]
    assert primary["type"] == "schedule" and primary["people"][0]["user_id"] == world["ada"]
    assert [(c["minute"], c["method_type"]) for c in primary["people"][0]["contacts"]] == [
        (0, "sms"), (5, "voice"),
    ]  # fmt: skip
    assert any("nobody is on call in schedule" in w for w in body["warnings"])
    assert api.get(f"/escalation-policies/{uuid.uuid4()}/preview").status_code == 404
