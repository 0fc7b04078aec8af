"""SCIM 2.0 against a node, driven by clients we do not write: scim2-tester's conformance run,
and the provisioning flows of Okta and Microsoft Entra ID sent through scim2-client with the
exact bodies those identity providers send (their op names, paths and value shapes).

Environment (set by tests/api/scim.rs): ACCESS_URL, ACCESS_ADMIN_PASSWORD, and ACCESS_URLS (every
node of the cluster, comma-separated: a deprovisioned user's tokens are tried on each).
"""
import os

import pytest
import requests
from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import Group, User
from scim2_tester import Status, check_server

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture(scope="module")
def token(base, admin):
    r = requests.post(
        f"{base}/access/api/v1/tokens",
        auth=admin,
        data={"scope": "applied-permissions/admin", "expires_in": "3600"},
    )
    r.raise_for_status()
    return r.json()["access_token"]


@pytest.fixture(scope="module")
def scim(base, token):
    """The provisioning credential: a token scoped to SCIM only."""
    r = requests.post(
        f"{base}/access/api/v1/tokens",
        headers={"Authorization": f"Bearer {token}"},
        data={"scope": "system:scim:rw", "username": "okta-provisioner", "expires_in": "3600"},
    )
    r.raise_for_status()
    client = SyncSCIMClient(
        Client(
            base_url=f"{base}/access/api/v1/scim/v2",
            headers={"Authorization": f"Bearer {r.json()['access_token']}"},
        )
    )
    client.discover()
    return client


def nodes():
    return [u.rstrip("/") for u in os.environ.get("ACCESS_URLS", os.environ["ACCESS_URL"]).split(",")]


def user_token(base, token, name):
    r = requests.post(
        f"{base}/access/api/v1/tokens",
        headers={"Authorization": f"Bearer {token}"},
        data={"username": name, "expires_in": "0", "refreshable": "true"},
    )
    r.raise_for_status()
    return r.json()


def ping(url, token):
    return requests.get(f"{url}/access/api/v1/tokens/me", headers={"Authorization": f"Bearer {token}"}).status_code


def login(url, name, password):
    return requests.post(
        f"{url}/access/api/v1/tokens", auth=(name, password), data={"expires_in": "60"}
    ).status_code


def test_conformance_of_scim2_tester_finds_no_error(scim):
    results = check_server(scim)
    counts = {}
    for r in results:
        counts[r.status.name] = counts.get(r.status.name, 0) + 1
    failed = [
        f"{r.status.name} {r.resource_type} {r.title}: {r.reason}"
        for r in results
        if r.status in (Status.ERROR, Status.CRITICAL, Status.DEVIATION)
    ]
    skipped = [f"{r.resource_type} {r.title}: {r.reason}" for r in results if r.status == Status.SKIPPED]
    print(f"scim2-tester: {counts}; skipped: {skipped}")
    assert not failed, "\n".join(failed)
    assert counts.get("SUCCESS", 0) >= 60, counts


def test_okta_provisions_finds_replaces_deactivates_and_pushes_groups(base, token, scim):
    # Okta looks the user up first, then creates it.
    found = scim.query(User, query_parameters={"filter": 'userName eq "dana@example.com"', "startIndex": 1, "count": 100})
    assert found.total_results == 0
    created = scim.create(
        User,
        url="/Users",
        resource={
            "schemas": [USER],
            "userName": "dana@example.com",
            "name": {"givenName": "Dana", "familyName": "Scully"},
            "emails": [{"primary": True, "value": "dana@example.com", "type": "work"}],
            "displayName": "Dana Scully",
            "locale": "en-US",
            "externalId": "00u1dana",
            "groups": [],
            "password": "okta-sets-1-password",
            "active": True,
        },
        check_request_payload=False,
    )
    assert created["id"] == "dana@example.com" and created["active"] is True
    created = scim.query(User, created["id"])
    found = scim.query(User, query_parameters={"filter": 'userName eq "DANA@example.com"'})
    assert found.total_results == 1 and found.resources[0].external_id == "00u1dana"
    # The user is ours: it logs in with the password Okta set, and holds tokens.
    assert login(base, "dana@example.com", "okta-sets-1-password") == 200
    minted = user_token(base, token, "dana@example.com")
    assert all(ping(n, minted["access_token"]) == 200 for n in nodes())

    # Profile update: PUT of the whole user.
    replaced = scim.replace(
        User,
        url=f"/Users/{created.id}",
        resource={
            "schemas": [USER],
            "id": created.id,
            "userName": "dana@example.com",
            "name": {"givenName": "Dana", "familyName": "Mulder"},
            "emails": [{"primary": True, "value": "dana.m@example.com", "type": "work"}],
            "displayName": "Dana Mulder",
            "externalId": "00u1dana",
            "active": True,
        },
        check_request_payload=False,
    )
    assert replaced["name"]["familyName"] == "Mulder" and replaced["emails"][0]["value"] == "dana.m@example.com"

    # Deactivation: a replace without a path.
    deactivated = scim.modify(
        User, created.id, {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}
    )
    assert deactivated.active is False
    for n in nodes():
        assert ping(n, minted["access_token"]) == 401, n
        assert login(n, "dana@example.com", "okta-sets-1-password") == 401, n
    refreshed = requests.post(
        f"{base}/access/api/v1/tokens",
        data={"grant_type": "refresh_token", "refresh_token": minted["refresh_token"], "access_token": minted["access_token"]},
    )
    assert refreshed.status_code != 200, refreshed.text
    # Reactivation lets the user in again; the old token stays dead.
    scim.modify(User, created.id, {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": True}}]})
    assert login(base, "dana@example.com", "okta-sets-1-password") == 200
    assert ping(base, minted["access_token"]) == 401

    # Group push: create, add the member, rename, remove the member, delete.
    group = scim.create(
        Group, url="/Groups", resource={"schemas": [GROUP], "displayName": "Okta Engineers", "members": []}, check_request_payload=False
    )
    assert group["id"] == "Okta-Engineers" and group["displayName"] == "Okta Engineers"
    group = scim.query(Group, group["id"])
    scim.modify(
        Group,
        group.id,
        {"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": created.id, "display": "dana@example.com"}]}]},
    )
    groups = requests.get(f"{base}/access/api/v2/users/{created.id}", headers={"Authorization": f"Bearer {token}"}).json()["groups"]
    assert groups == ["Okta-Engineers"], groups
    renamed = scim.modify(
        Group,
        group.id,
        {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"id": group.id, "displayName": "Okta Platform Engineers"}}]},
    )
    assert renamed.display_name == "Okta Platform Engineers" and renamed.id == group.id
    assert [m.value for m in renamed.members] == [created.id]
    emptied = scim.modify(
        Group,
        group.id,
        {"schemas": [PATCH], "Operations": [{"op": "remove", "path": f'members[value eq "{created.id}"]'}]},
    )
    assert not emptied.members
    scim.delete(Group, group.id)
    assert scim.query(Group, query_parameters={"filter": 'displayName eq "Okta Platform Engineers"'}).total_results == 0


def test_entra_id_provisions_with_capitalised_ops_and_external_ids(base, token, scim):
    # Entra ID probes with a filter on a random userName, then creates with externalId.
    assert scim.query(User, query_parameters={"filter": 'userName eq "7b8b1d3e-probe"'}).total_results == 0
    created = scim.create(
        User,
        url="/Users",
        resource={
            "schemas": [USER, ENTERPRISE],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7e271e3f2d5c",
            "userName": "erin@contoso.com",
            "active": True,
            "displayName": "Erin Tan",
            "emails": [{"primary": True, "type": "work", "value": "erin@contoso.com"}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "Erin Tan", "familyName": "Tan", "givenName": "Erin"},
            "roles": [],
            ENTERPRISE: {"department": "Finance"},
        },
        check_request_payload=False,
    )
    created = scim.query(User, created["id"])
    found = scim.query(User, query_parameters={"filter": 'externalId eq "0a21f0f2-8d2a-4f8e-bf98-7e271e3f2d5c"'})
    assert found.total_results == 1 and found.resources[0].id == created.id
    # Entra capitalises op names and writes paths, value filters included.
    changed = scim.modify(
        User,
        created.id,
        {
            "schemas": [PATCH],
            "Operations": [
                {"op": "Replace", "path": "displayName", "value": "Erin Tan-Lee"},
                {"op": "Add", "path": 'emails[type eq "work"].value', "value": "erin.lee@contoso.com"},
                {"op": "Replace", "path": "name.familyName", "value": "Tan-Lee"},
            ],
        },
    )
    assert changed.display_name == "Erin Tan-Lee" and changed.name.family_name == "Tan-Lee"
    assert [e.value for e in changed.emails] == ["erin.lee@contoso.com"]
    # And replaces without a path: a map whose keys may be paths themselves.
    changed = scim.modify(
        User,
        created.id,
        {
            "schemas": [PATCH],
            "Operations": [
                {"op": "Replace", "value": {"displayName": "Erin Lee", "name.givenName": "Erin M.", "externalId": "0a21-moved"}}
            ],
        },
    )
    assert (changed.display_name, changed.name.given_name, changed.external_id) == ("Erin Lee", "Erin M.", "0a21-moved")
    assert scim.query(User, query_parameters={"filter": 'externalId eq "0a21-moved"'}).total_results == 1
    minted = user_token(base, token, created.id)
    assert ping(base, minted["access_token"]) == 200
    # Entra soft-deletes with the string "False".
    disabled = scim.modify(User, created.id, {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})
    assert disabled.active is False
    assert all(ping(n, minted["access_token"]) == 401 for n in nodes())

    group = scim.create(
        Group,
        url="/Groups",
        resource={"schemas": [GROUP], "externalId": "f1d2c3b4", "displayName": "Finance Team", "meta": {"resourceType": "Group"}},
        check_request_payload=False,
    )
    group = scim.query(Group, group["id"])
    assert scim.query(Group, query_parameters={"filter": 'externalId eq "f1d2c3b4"'}).total_results == 1
    scim.modify(Group, group.id, {"schemas": [PATCH], "Operations": [{"op": "Add", "path": "members", "value": [{"value": created.id}]}]})
    assert [m.value for m in scim.query(Group, group.id).members] == [created.id]
    # Entra removes members by value, not by filter.
    scim.modify(Group, group.id, {"schemas": [PATCH], "Operations": [{"op": "Remove", "path": "members", "value": [{"value": created.id}]}]})
    assert not scim.query(Group, group.id).members
    scim.modify(Group, group.id, {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "displayName", "value": "Finance"}]})
    assert scim.query(Group, group.id).display_name == "Finance"

    # Hard delete, after the soft one: the user is gone everywhere.
    scim.delete(User, created.id)
    for n in nodes():
        r = requests.get(f"{n}/access/api/v2/users/{created.id}", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 404, n
