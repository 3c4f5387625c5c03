"""Users, roles and PIN login on SQLite and PostgreSQL (attendant/core/users.py).

Rules under test: 3 consecutive wrong PINs lock a user for one hour from the
third failure; a locked user is refused even with the right PIN; a supervisor
unlocks; roles are checked by the services (PermissionDenied), not only the UI;
the first user is created in setup mode and must be an admin.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from attendant.core import users
from attendant.core.auth import Actor, PermissionDenied, Role
from attendant.core.errors import InputError, Refused
from db.models import AuditEvent, User

U, AUD = User.__table__, AuditEvent.__table__


def audit_actions(engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(AUD.c.action).where(AUD.c.entity == "app_user").order_by(AUD.c.id)).scalars())


def user_row(engine, username):
    with engine.connect() as conn:
        return conn.execute(select(U).where(U.c.username == username)).one()


@pytest.fixture
def staff(small_engine, clock):
    """An admin (9999), a supervisor (2222) and an attendant (1111); returns their actors."""
    admin = users.create_user(small_engine, users.setup_actor(small_engine), "admin", "Ada Admin", "admin", "9999",
                              now=clock())
    admin_actor = admin.actor()
    users.create_user(small_engine, admin_actor, "sue", "Sue Supervisor", "supervisor", "2222", now=clock())
    users.create_user(small_engine, admin_actor, "alice", "Alice Attendant", "attendant", "1111", now=clock())
    return {
        "admin": admin_actor,
        "sue": users.authenticate(small_engine, "sue", "2222", now=clock()),
        "alice": users.authenticate(small_engine, "alice", "1111", now=clock()),
    }


def test_first_user_bootstrap_in_setup_mode(small_engine, clock):
    assert users.any_users(small_engine) is False
    setup = users.setup_actor(small_engine)
    assert setup == Actor("setup", Role.ADMIN)
    with pytest.raises(Refused, match="first user must be an admin"):
        users.create_user(small_engine, setup, "bob", None, "attendant", "1234", now=clock())
    assert users.any_users(small_engine) is False  # nothing written
    # A plain string actor is attendant-level: it cannot create even the first user.
    with pytest.raises(PermissionDenied):
        users.create_user(small_engine, "script", "bob", None, "admin", "1234", now=clock())

    admin = users.create_user(small_engine, setup, " Boss ", "The Boss", "admin", "1234", now=clock())
    assert (admin.username, admin.role, admin.display_name) == ("boss", Role.ADMIN, "The Boss")
    assert users.any_users(small_engine) is True
    with pytest.raises(users.LoginRequired, match="log in with --user and --pin"):
        users.setup_actor(small_engine)
    # Setup mode is over: the setup actor can no longer create users.
    with pytest.raises(users.LoginRequired):
        users.create_user(small_engine, setup, "eve", None, "admin", "1234", now=clock())
    row = user_row(small_engine, "boss")
    assert row.pin_hash.startswith("$argon2id$") and "1234" not in row.pin_hash
    assert PasswordHasher().verify(row.pin_hash, "1234")
    with small_engine.connect() as conn:
        event = conn.execute(select(AUD).where(AUD.c.action == "user.create")).one()
    assert event.actor == "setup" and event.details == {"username": "boss", "role": "admin", "first_user": True}


def test_login_ok_returns_an_actor_with_role_and_user_id(small_engine, staff, clock):
    actor = users.authenticate(small_engine, "Alice", "1111", now=clock())
    assert actor == Actor("alice", Role.ATTENDANT, user_row(small_engine, "alice").id)
    assert audit_actions(small_engine).count("user.login") == 3  # sue, alice (fixture), alice


def test_a_logout_is_audited_and_only_a_logged_in_user_logs_out(small_engine, staff, clock):
    users.record_logout(small_engine, staff["alice"], reason="quit", now=clock())
    with small_engine.connect() as conn:
        event = conn.execute(select(AUD).where(AUD.c.action == "user.logout")).one()
    assert (event.actor, event.entity_id, event.details) == ("alice", staff["alice"].user_id, {"reason": "quit"})
    for nobody in ("script", Actor("setup", Role.ADMIN)):
        with pytest.raises(InputError, match="only a logged-in user"):
            users.record_logout(small_engine, nobody)
    assert audit_actions(small_engine).count("user.logout") == 1


def test_unknown_user_and_wrong_pin_get_the_same_message(small_engine, staff, clock):
    with pytest.raises(users.LoginFailed) as unknown:
        users.authenticate(small_engine, "mallory", "1111", now=clock())
    with pytest.raises(users.LoginFailed) as wrong:
        users.authenticate(small_engine, "alice", "0000", now=clock())
    assert str(unknown.value) == str(wrong.value) == "wrong user name or PIN"
    assert audit_actions(small_engine)[-2:] == ["user.login_failed", "user.login_failed"]


def test_malformed_pins_are_refused_and_count_as_nothing(small_engine, staff, clock):
    for pin in ["123", "123456789", "12a4", "", " 1234", "١٢٣٤"]:  # the last: Arabic-Indic digits
        with pytest.raises(InputError, match="4 to 8 digits"):
            users.authenticate(small_engine, "alice", pin, now=clock())
        with pytest.raises(InputError, match="4 to 8 digits"):
            users.create_user(small_engine, staff["admin"], "bob", None, "attendant", pin, now=clock())
    assert user_row(small_engine, "alice").failed_attempts == 0
    assert [u.username for u in users.list_users(small_engine)] == ["admin", "alice", "sue"]


def test_three_wrong_pins_lock_for_an_hour_even_with_the_right_pin(small_engine, staff, clock):
    start = clock()
    for minute in range(2):
        with pytest.raises(users.LoginFailed) as exc:
            users.authenticate(small_engine, "alice", "0000", now=start + timedelta(minutes=minute))
        assert not isinstance(exc.value, users.UserLocked)
    assert user_row(small_engine, "alice").failed_attempts == 2

    third = start + timedelta(minutes=5)
    with pytest.raises(users.UserLocked) as exc:
        users.authenticate(small_engine, "alice", "0000", now=third)
    assert exc.value.locked_until == third + timedelta(hours=1)
    assert "locked until 2026-11-20 10:05 UTC" in str(exc.value)
    assert user_row(small_engine, "alice").locked_until == third + timedelta(hours=1)

    # The right PIN is refused while locked, with the time (in facility time when given).
    from zoneinfo import ZoneInfo

    with pytest.raises(users.UserLocked, match=r"locked until 2026-11-20 10:05 GMT"):
        users.authenticate(small_engine, "alice", "1111", now=third + timedelta(minutes=59),
                           tz=ZoneInfo("Europe/London"))
    # One hour after the third failure the lock is over and the right PIN works, resetting the count.
    actor = users.authenticate(small_engine, "alice", "1111", now=third + timedelta(hours=1))
    assert actor.name == "alice"
    row = user_row(small_engine, "alice")
    assert (row.failed_attempts, row.locked_until) == (0, None)
    actions = audit_actions(small_engine)
    assert actions[-6:] == [
        "user.login_failed", "user.login_failed", "user.login_failed", "user.locked", "user.login_refused",
        "user.login",
    ]


def test_a_success_resets_the_count_so_failures_must_be_consecutive(small_engine, staff, clock):
    for _ in range(2):
        with pytest.raises(users.LoginFailed):
            users.authenticate(small_engine, "alice", "0000", now=clock())
    users.authenticate(small_engine, "alice", "1111", now=clock())
    for _ in range(2):
        with pytest.raises(users.LoginFailed) as exc:
            users.authenticate(small_engine, "alice", "0000", now=clock())
        assert not isinstance(exc.value, users.UserLocked)
    assert user_row(small_engine, "alice").locked_until is None


def lock(engine, username, clock):
    for _ in range(3):
        with pytest.raises(users.LoginFailed):
            users.authenticate(engine, username, "0000", now=clock())


def test_a_supervisor_unlocks_an_attendant_refused(small_engine, staff, clock):
    lock(small_engine, "alice", clock)
    with pytest.raises(PermissionDenied, match="needs a supervisor; alice is logged in as attendant"):
        users.unlock_user(small_engine, staff["alice"], "alice", now=clock())
    with pytest.raises(PermissionDenied):
        users.unlock_user(small_engine, "cli:someone", "alice", now=clock())
    with pytest.raises(users.UserLocked):
        users.authenticate(small_engine, "alice", "1111", now=clock())

    view = users.unlock_user(small_engine, staff["sue"], "alice", now=clock())
    assert view.locked_until is None and view.failed_attempts == 0
    assert users.authenticate(small_engine, "alice", "1111", now=clock()).role is Role.ATTENDANT
    with small_engine.connect() as conn:
        event = conn.execute(select(AUD).where(AUD.c.action == "user.unlock")).one()
    assert event.actor == "sue" and event.entity_id == view.id


def test_attendant_and_supervisor_cannot_create_users(small_engine, staff, clock):
    with pytest.raises(PermissionDenied, match="creating a user needs an admin"):
        users.create_user(small_engine, staff["alice"], "bob", None, "attendant", "1234", now=clock())
    with pytest.raises(PermissionDenied):
        users.create_user(small_engine, staff["sue"], "bob", None, "attendant", "1234", now=clock())
    # An admin-level actor that is not a logged-in user (a forged setup actor) is refused too.
    with pytest.raises(users.LoginRequired):
        users.create_user(small_engine, Actor("setup", Role.ADMIN), "bob", None, "admin", "1234", now=clock())
    with small_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(U)).scalar_one() == 3


def test_duplicate_and_bad_user_names_and_roles(small_engine, staff, clock):
    with pytest.raises(InputError, match="already exists"):
        users.create_user(small_engine, staff["admin"], "ALICE", None, "attendant", "1234", now=clock())
    with pytest.raises(InputError, match="not a user name"):
        users.create_user(small_engine, staff["admin"], "bad name", None, "attendant", "1234", now=clock())
    with pytest.raises(InputError, match="unknown role 'boss'"):
        users.create_user(small_engine, staff["admin"], "bob", None, "boss", "1234", now=clock())


def test_change_pin_own_and_by_supervisor_but_not_upwards(small_engine, staff, clock):
    users.change_pin(small_engine, staff["alice"], "alice", "4321", now=clock())
    with pytest.raises(users.LoginFailed):
        users.authenticate(small_engine, "alice", "1111", now=clock())
    assert users.authenticate(small_engine, "alice", "4321", now=clock()).name == "alice"
    with pytest.raises(PermissionDenied):
        users.change_pin(small_engine, staff["alice"], "sue", "5555", now=clock())
    with pytest.raises(PermissionDenied):
        users.change_pin(small_engine, staff["sue"], "admin", "5555", now=clock())
    lock(small_engine, "alice", clock)
    users.change_pin(small_engine, staff["sue"], "alice", "7777", now=clock())  # a reset also unlocks
    assert users.authenticate(small_engine, "alice", "7777", now=clock()).name == "alice"


def test_set_role_and_deactivate_are_admin_only_and_keep_an_admin(small_engine, staff, clock):
    with pytest.raises(PermissionDenied):
        users.set_role(small_engine, staff["sue"], "alice", "supervisor", now=clock())
    with pytest.raises(PermissionDenied):
        users.deactivate_user(small_engine, staff["sue"], "alice", now=clock())
    with pytest.raises(Refused, match="last active admin"):
        users.set_role(small_engine, staff["admin"], "admin", "attendant", now=clock())
    with pytest.raises(Refused, match="last active admin"):
        users.deactivate_user(small_engine, staff["admin"], "admin", now=clock())

    assert users.set_role(small_engine, staff["admin"], "alice", "supervisor", now=clock()).role is Role.SUPERVISOR
    assert users.authenticate(small_engine, "alice", "1111", now=clock()).role is Role.SUPERVISOR
    users.deactivate_user(small_engine, staff["admin"], "alice", now=clock())
    with pytest.raises(users.LoginFailed, match="deactivated"):
        users.authenticate(small_engine, "alice", "1111", now=clock())
    listed = {u.username: u for u in users.list_users(small_engine)}
    assert set(listed) == {"admin", "alice", "sue"} and listed["alice"].active is False
    assert [u.username for u in users.list_users(small_engine, include_inactive=False)] == ["admin", "sue"]
