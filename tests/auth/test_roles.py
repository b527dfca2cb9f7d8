"""The three administrators' separation (三员分立) and what each role may do."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from auth.accounts import AccountError, Accounts
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


def test_a_unit_admins_data_scope_is_a_known_unit(idb: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import insert, select

    from warehouse.identity import auth_audit
    from warehouse.models import Building, Unit

    with idb.begin() as conn:
        conn.execute(insert(Building.__table__).values(id="B01", name="1号楼", floors=5, area_m2=1.0,
                                                       quota_kwh_m2_year=1.0, lat=36.6, lon=117.0))
        conn.execute(insert(Unit.__table__), [{"id": u, "name": u, "name_en": u, "building_id": "B01"}
                                              for u in ("U01", "U02")])
    accounts = Accounts(idb, make_backend("standard", tmp_path / "k.json"), policy_for("mlps"))
    with pytest.raises(AccountError, match="a unit admin needs a unit"):
        accounts.create("test", "zhao", ["unit_admin"])
    with pytest.raises(AccountError, match="no unit 'U99'"):
        accounts.create("test", "zhao", ["unit_admin"], unit_id="U99")
    accounts.create("test", "zhao", ["unit_admin"], unit_id="U01")
    moved = accounts.set_roles("test", "zhao", ["unit_admin"], unit_id="U02")
    assert moved.unit_id == "U02"
    assert accounts.set_roles("test", "zhao", ["manager"]).unit_id == "U02", "scope kept unless given"
    with pytest.raises(AccountError, match="a unit admin needs a unit"):
        accounts.set_roles("test", "zhao", ["unit_admin"], unit_id="")
    with idb.connect() as conn:
        details = conn.execute(select(auth_audit.c.detail).where(auth_audit.c.event == "role_change")).scalars().all()
    assert '"unit_after": "U02"' in details[0] and '"unit_before": "U01"' in details[0]
