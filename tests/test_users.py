"""Users, roles and PIN login on SQLite and PostgreSQL (attendant/core/users.py).

Rules under test: 3 consecutive wrong PINs from one source lock the user for
that source only, 30 s and doubling with each lock up to 15 min; a locked
source is refused even with the right PIN while other sources log in; a
supervisor unlocks; new PINs are 6 to 12 ASCII digits and hashed with the
stated argon2id parameters; roles are checked by the services
(PermissionDenied), not only the UI; the first user is created in setup mode
and must be an admin.
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
    admin = users.create_user(small_engine, users.setup_actor(small_engine), "admin", "Ada Admin", "admin", "999999",
                              now=clock())
    admin_actor = admin.actor()
    users.create_user(small_engine, admin_actor, "sue", "Sue Supervisor", "supervisor", "222222", now=clock())
    users.create_user(small_engine, admin_actor, "alice", "Alice Attendant", "attendant", "111111", now=clock())
    return {
        "admin": admin_actor,
        "sue": users.authenticate(small_engine, "sue", "222222", now=clock()),
        "alice": users.authenticate(small_engine, "alice", "111111", now=clock()),
    }


def test_first_user_bootstrap_in_setup_mode(small_engine, clock):
    assert users.any_users(small_engine) is False
    setup = users.setup_actor(small_engine)
    assert setup == Actor("setup", Role.ADMIN)
    with pytest.raises(Refused, match="first user must be an admin"):
        users.create_user(small_engine, setup, "bob", None, "attendant", "123412", now=clock())
    assert users.any_users(small_engine) is False  # nothing written
    # A plain string actor is attendant-level: it cannot create even the first user.
    with pytest.raises(PermissionDenied):
        users.create_user(small_engine, "script", "bob", None, "admin", "123412", now=clock())

    admin = users.create_user(small_engine, setup, " Boss ", "The Boss", "admin", "123412", now=clock())
    assert (admin.username, admin.role, admin.display_name) == ("boss", Role.ADMIN, "The Boss")
    assert users.any_users(small_engine) is True
    with pytest.raises(users.LoginRequired, match="log in with --user and --pin"):
        users.setup_actor(small_engine)
    # Setup mode is over: the setup actor can no longer create users.
    with pytest.raises(users.LoginRequired):
        users.create_user(small_engine, setup, "eve", None, "admin", "123412", now=clock())
    row = user_row(small_engine, "boss")
    assert row.pin_hash.startswith("$argon2id$") and "123412" not in row.pin_hash
    assert PasswordHasher().verify(row.pin_hash, "123412")
    with small_engine.connect() as conn:
        event = conn.execute(select(AUD).where(AUD.c.action == "user.create")).one()
    assert event.actor == "setup" and event.details == {"username": "boss", "role": "admin", "first_user": True}


def test_login_ok_returns_an_actor_with_role_and_user_id(small_engine, staff, clock):
    actor = users.authenticate(small_engine, "Alice", "111111", now=clock())
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
        users.authenticate(small_engine, "mallory", "111111", now=clock())
    with pytest.raises(users.LoginFailed) as wrong:
        users.authenticate(small_engine, "alice", "000000", now=clock())
    assert str(unknown.value) == str(wrong.value) == "wrong user name or PIN"
    assert audit_actions(small_engine)[-2:] == ["user.login_failed", "user.login_failed"]


def test_malformed_pins_are_refused_and_count_as_nothing(small_engine, staff, clock):
    for pin in ["123", "1234567890123", "12a4", "", " 1234", "١٢٣٤", "１２３４５６"]:  # Arabic-Indic, fullwidth
        with pytest.raises(InputError, match="6 to 12 digits"):
            users.authenticate(small_engine, "alice", pin, now=clock())
        with pytest.raises(InputError, match="6 to 12 digits"):
            users.create_user(small_engine, staff["admin"], "bob", None, "attendant", pin, now=clock())
    for short in ["1234", "12345"]:  # a new PIN has at least six digits
        with pytest.raises(InputError, match="6 to 12 digits"):
            users.create_user(small_engine, staff["admin"], "bob", None, "attendant", short, now=clock())
        with pytest.raises(InputError, match="6 to 12 digits"):
            users.change_pin(small_engine, staff["alice"], "alice", short, now=clock())
    assert users.get_user(small_engine, "alice").failed_attempts == 0
    assert [u.username for u in users.list_users(small_engine)] == ["admin", "alice", "sue"]


def test_pin_hashes_use_the_stated_argon2id_parameters(small_engine, staff):
    from argon2 import extract_parameters

    for name in ("admin", "sue", "alice"):
        stored = user_row(small_engine, name).pin_hash
        params = extract_parameters(stored)
        assert stored.startswith("$argon2id$v=19$")
        assert (params.time_cost, params.memory_cost, params.parallelism) == (
            users.ARGON2_PARAMETERS["time_cost"], users.ARGON2_PARAMETERS["memory_cost"],
            users.ARGON2_PARAMETERS["parallelism"])
    assert users.ARGON2_PARAMETERS == {"time_cost": 2, "memory_cost": 19456, "parallelism": 1}  # OWASP minimum


def test_a_legacy_short_pin_still_logs_in_but_is_flagged_weak(small_engine, staff, clock):
    weak = PasswordHasher(**users.ARGON2_PARAMETERS).hash("4321")
    with small_engine.begin() as conn:  # a PIN set before the 6-digit rule
        conn.execute(U.update().where(U.c.username == "alice").values(pin_hash=weak))
    actor = users.authenticate(small_engine, "alice", "4321", now=clock())
    assert actor.weak_pin and actor.name == "alice"
    with small_engine.connect() as conn:
        event = conn.execute(select(AUD).where(AUD.c.action == "user.login").order_by(AUD.c.id.desc())).first()
    assert event.details["weak_pin"] is True


def test_three_wrong_pins_lock_that_source_only_with_a_growing_back_off(small_engine, staff, clock):
    start = clock()
    booth, stranger = "console:booth-1", "cli:mallory@laptop"
    for second in range(2):
        with pytest.raises(users.LoginFailed) as exc:
            users.authenticate(small_engine, "alice", "000000", source=stranger,
                               now=start + timedelta(seconds=second))
        assert not isinstance(exc.value, users.UserLocked)
    assert users.get_user(small_engine, "alice").failed_attempts == 2

    third = start + timedelta(seconds=5)
    with pytest.raises(users.UserLocked) as exc:
        users.authenticate(small_engine, "alice", "000000", source=stranger, now=third)
    assert exc.value.locked_until == third + users.BACKOFF_FIRST == third + timedelta(seconds=30)
    assert "locked here (cli:mallory@laptop) until 2026-11-20 09:00 UTC" in str(exc.value)
    # The right PIN is refused from the locked source, with the time (facility time when given) ...
    from zoneinfo import ZoneInfo

    with pytest.raises(users.UserLocked, match=r"locked here until 2026-11-20 09:00 GMT"):
        users.authenticate(small_engine, "alice", "111111", source=stranger, now=third + timedelta(seconds=29),
                           tz=ZoneInfo("Europe/London"))
    # ... while alice logs in at her booth: a stranger cannot lock her out of it.
    assert users.authenticate(small_engine, "alice", "111111", source=booth, now=third).name == "alice"

    # After the lock, three more wrong PINs lock the stranger's source twice as long, and so on to 15 min.
    when = third + timedelta(seconds=30)
    for n, expected in ((2, 60), (3, 120), (4, 240), (5, 480), (6, 900), (7, 900)):
        for _ in range(3):
            try:
                users.authenticate(small_engine, "alice", "000000", source=stranger, now=when)
            except users.UserLocked as locked:
                assert locked.locked_until == when + timedelta(seconds=expected), n
            except users.LoginFailed:
                pass
        when += timedelta(seconds=expected)
    assert users.backoff(1) == timedelta(seconds=30) and users.backoff(99) == users.BACKOFF_MAX

    # Once the lock is over the right PIN works from there too, and resets that source.
    actor = users.authenticate(small_engine, "alice", "111111", source=stranger, now=when)
    assert actor.name == "alice"
    view = users.get_user(small_engine, "alice")
    assert (view.failed_attempts, view.locked_until) == (0, None)
    with small_engine.connect() as conn:
        locks = conn.execute(select(AUD.c.details).where(AUD.c.action == "user.locked")).scalars().all()
    assert [d["source"] for d in locks] == [stranger] * 7 and [d["lock"] for d in locks] == list(range(1, 8))


def test_a_success_resets_the_count_so_failures_must_be_consecutive(small_engine, staff, clock):
    for _ in range(2):
        with pytest.raises(users.LoginFailed):
            users.authenticate(small_engine, "alice", "000000", now=clock())
    users.authenticate(small_engine, "alice", "111111", now=clock())
    for _ in range(2):
        with pytest.raises(users.LoginFailed) as exc:
            users.authenticate(small_engine, "alice", "000000", now=clock())
        assert not isinstance(exc.value, users.UserLocked)
    assert users.get_user(small_engine, "alice").locked_until is None


def lock(engine, username, clock, source=None):
    for _ in range(3):
        with pytest.raises(users.LoginFailed):
            users.authenticate(engine, username, "000000", source=source, now=clock())


def test_a_supervisor_unlocks_an_attendant_refused(small_engine, staff, clock):
    lock(small_engine, "alice", clock)
    with pytest.raises(PermissionDenied, match="needs a supervisor; alice is logged in as attendant"):
        users.unlock_user(small_engine, staff["alice"], "alice", now=clock())
    with pytest.raises(PermissionDenied):
        users.unlock_user(small_engine, "cli:someone", "alice", now=clock())
    with pytest.raises(users.UserLocked):
        users.authenticate(small_engine, "alice", "111111", now=clock())

    lock(small_engine, "alice", clock, source="console:booth-2")
    assert len(users.get_user(small_engine, "alice").locked_sources) == 2
    view = users.unlock_user(small_engine, staff["sue"], "alice", source="console:booth-2", now=clock())
    assert [where for where, _until in view.locked_sources] == ["unknown"]  # only that source was lifted
    view = users.unlock_user(small_engine, staff["sue"], "alice", now=clock())
    assert view.locked_until is None and view.failed_attempts == 0
    assert users.authenticate(small_engine, "alice", "111111", now=clock()).role is Role.ATTENDANT
    with small_engine.connect() as conn:
        one, every = conn.execute(select(AUD).where(AUD.c.action == "user.unlock").order_by(AUD.c.id)).all()
    assert (one.actor, one.entity_id, one.details["source"]) == ("sue", view.id, "console:booth-2")
    assert every.details["source"] is None and [w["source"] for w in every.details["was_locked"]] == ["unknown"]


def test_attendant_and_supervisor_cannot_create_users(small_engine, staff, clock):
    with pytest.raises(PermissionDenied, match="creating a user needs an admin"):
        users.create_user(small_engine, staff["alice"], "bob", None, "attendant", "123412", now=clock())
    with pytest.raises(PermissionDenied):
        users.create_user(small_engine, staff["sue"], "bob", None, "attendant", "123412", now=clock())
    # An admin-level actor that is not a logged-in user (a forged setup actor) is refused too.
    with pytest.raises(users.LoginRequired):
        users.create_user(small_engine, Actor("setup", Role.ADMIN), "bob", None, "admin", "123412", now=clock())
    with small_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(U)).scalar_one() == 3


def test_duplicate_and_bad_user_names_and_roles(small_engine, staff, clock):
    with pytest.raises(InputError, match="already exists"):
        users.create_user(small_engine, staff["admin"], "ALICE", None, "attendant", "123412", now=clock())
    with pytest.raises(InputError, match="not a user name"):
        users.create_user(small_engine, staff["admin"], "bad name", None, "attendant", "123412", now=clock())
    with pytest.raises(InputError, match="unknown role 'boss'"):
        users.create_user(small_engine, staff["admin"], "bob", None, "boss", "123412", now=clock())


def test_change_pin_own_and_by_supervisor_but_not_upwards(small_engine, staff, clock):
    users.change_pin(small_engine, staff["alice"], "alice", "432143", now=clock())
    with pytest.raises(users.LoginFailed):
        users.authenticate(small_engine, "alice", "111111", now=clock())
    assert users.authenticate(small_engine, "alice", "432143", now=clock()).name == "alice"
    with pytest.raises(PermissionDenied):
        users.change_pin(small_engine, staff["alice"], "sue", "555555", now=clock())
    with pytest.raises(PermissionDenied):
        users.change_pin(small_engine, staff["sue"], "admin", "555555", now=clock())
    lock(small_engine, "alice", clock)
    users.change_pin(small_engine, staff["sue"], "alice", "777777", now=clock())  # a reset also unlocks
    assert users.authenticate(small_engine, "alice", "777777", now=clock()).name == "alice"


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
    assert users.authenticate(small_engine, "alice", "111111", now=clock()).role is Role.SUPERVISOR
    users.deactivate_user(small_engine, staff["admin"], "alice", now=clock())
    with pytest.raises(users.LoginFailed, match="deactivated"):
        users.authenticate(small_engine, "alice", "111111", now=clock())
    listed = {u.username: u for u in users.list_users(small_engine)}
    assert set(listed) == {"admin", "alice", "sue"} and listed["alice"].active is False
    assert [u.username for u in users.list_users(small_engine, include_inactive=False)] == ["admin", "sue"]
