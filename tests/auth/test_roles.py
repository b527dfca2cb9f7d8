"""The three administrators' separation (三员分立) and what each role may do."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from auth.accounts import Accounts
from auth.crypto import make_backend
from auth.passwords import policy_for
from auth.roles import ADMINS, Perm, Role, RoleError, check_assignment, parse_roles, permissions


@pytest.mark.parametrize("pair", [(Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN), (Role.SYSTEM_ADMIN, Role.AUDIT_ADMIN),
                                  (Role.SECURITY_ADMIN, Role.AUDIT_ADMIN)])
def test_one_account_cannot_hold_two_administrator_roles(pair: tuple[Role, Role]) -> None:
    with pytest.raises(RoleError, match="cannot hold two of the three administrator roles"):
        check_assignment(pair)


def test_an_administrator_role_is_not_combined_with_a_viewer_role() -> None:
    with pytest.raises(RoleError, match="system_admin is a separated administrator role and cannot be combined "
                                        "with leadership"):
        check_assignment({Role.SYSTEM_ADMIN, Role.LEADERSHIP})


def test_one_person_cannot_combine_administrator_roles_across_accounts() -> None:
    with pytest.raises(RoleError, match="already holds audit_admin on another account"):
        check_assignment({Role.SECURITY_ADMIN}, [{Role.AUDIT_ADMIN}])
    check_assignment({Role.LEADERSHIP}, [{Role.AUDIT_ADMIN}])  # a viewer account beside an admin one is fine


def test_the_administrators_powers_do_not_overlap() -> None:
    sys_, sec, aud = (permissions({r}) for r in (Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN))
    assert sys_ & sec == sec & aud == sys_ & aud == {Perm.ACCOUNT_SELF}
    assert Perm.AUDIT_READ not in sys_ and Perm.AUDIT_EXPORT not in sys_, "the system admin cannot read audit"
    assert Perm.ROLES_MANAGE not in sys_ and Perm.USERS_MANAGE not in sec
    assert permissions({Role.AUDIT_ADMIN}) == {Perm.ACCOUNT_SELF, Perm.AUDIT_READ, Perm.AUDIT_EXPORT}
    for admin in ADMINS:
        assert Perm.LIVE_VIEW not in permissions({admin}), f"{admin} sees no compound data"


def test_unknown_role_names_list_the_known_ones() -> None:
    with pytest.raises(RoleError, match=r"unknown role 'boss'; known: leadership, duty_officer"):
        parse_roles(["boss"])


def test_accounts_enforce_the_separation_on_create_and_change(idb: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    crypto = make_backend("standard", tmp_path / "k.json")
    accounts = Accounts(idb, crypto, policy_for("mlps"))
    accounts.create("test", "wang.sec", ["security_admin"], person_id="P0001")
    with pytest.raises(RoleError, match="already holds security_admin on another account"):
        accounts.create("test", "wang.audit", ["audit_admin"], person_id="P0001")
    accounts.create("test", "li", ["leadership"], person_id="P0002")
    with pytest.raises(RoleError, match="cannot hold two"):
        accounts.set_roles("test", "li", ["system_admin", "audit_admin"])
    assert accounts.get("li").roles == {Role.LEADERSHIP}, "a refused change leaves the roles as they were"
