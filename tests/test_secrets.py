"""Secrets across booths (issue 9, item 6): a missing or damaged secret is a clear error, never a new secret;
export and import under a passphrase; a rotated ticket key leaves printed tickets valid. Real files, the real
CLI (in-process, and a subprocess where the entry point matters)."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from attendant.core.tickets import TicketSigner
from attendant.keyfiles import SecretMissing, SecretUnreadable, load_ticket_keys
from tests.cli_support import Attendant


def secret_file(home: Path) -> Path:
    return home / "config" / "ticket-secret.key"


def test_a_missing_secret_is_an_error_saying_how_to_install_it_and_makes_nothing(cli, attendant_home):
    code = cli.json("enter", "AB12 CDE")["code"]
    secret_file(attendant_home).unlink()
    for args in (("exit", code, "--pay", "cash", "--tendered", "20"), ("enter", "XY12 ZZZ"), ("status",)):
        ran = cli.run(*args, expect=2)
        assert "ticket secret file" in ran.stderr and "is missing" in ran.stderr
        assert "attendant secret import FILE" in ran.stderr and "attendant init" in ran.stderr
        assert not secret_file(attendant_home).exists()  # never a silently new secret
    with pytest.raises(SecretMissing):
        TicketSigner.from_site()
    ran = cli.run("init", "--demo", expect=2)  # a site in service: init does not make one either
    assert "is missing" in ran.stderr and not secret_file(attendant_home).exists()


@pytest.mark.parametrize("content, message", [
    ("", "is empty"),
    ("   \n", "is empty"),
    ("not hex at all\n", "not 32 bytes of hex"),
    ("abc\n", "not 32 bytes of hex"),
    ('{"format": "something else"}', "is not a ticket secret file"),
    ('{"format": "attendant-ticket-keys/1", "current": "B", "keys": {"A": "' + "ab" * 32 + '"}}',
     "names no current key"),
    ("{broken", "not valid JSON"),
])
def test_an_empty_or_damaged_secret_is_a_clear_message_exit_2(cli, attendant_home, content, message):
    secret_file(attendant_home).write_text(content)
    ran = cli.run("enter", "AB12 CDE", expect=2)
    assert message in ran.stderr and "unexpected" not in ran.stderr and ran.stderr.count("\n") == 1
    with pytest.raises(SecretUnreadable):
        load_ticket_keys()


def test_a_damaged_data_key_file_is_a_clear_message(cli, attendant_home):
    (attendant_home / "config" / "data-keys.json").write_text("")
    ran = cli.run("enter", "AB12 CDE", process=True, expect=2)
    assert "personal-data key file" in ran.stderr and "is empty" in ran.stderr
    (attendant_home / "config" / "data-keys.json").unlink()
    assert "secret import" in cli.run("status", expect=2).stderr


def test_a_secret_file_of_the_old_format_still_verifies_its_tickets(service, attendant_home, clock):
    """Before key ids the file held one line of hex and codes 16 characters of HMAC: both still work."""
    raw = bytes(range(32))
    secret_file(attendant_home).write_text(raw.hex() + "\n")
    signer = TicketSigner.from_site()
    assert signer.key_ids == ("A",)
    legacy = f"TST-00000042-{signer._signature('TST', 42)}"
    assert signer.verify(legacy).ticket_no == 42
    assert signer.verify(signer.sign("TST", 42)).ticket_no == 42
    assert signer.sign("TST", 42) != legacy


def test_secret_rotate_signs_new_tickets_with_a_new_key_while_old_tickets_verify(cli, attendant_home):
    first = cli.json("enter", "ROT 111")["code"]
    rotated = cli.json("secret", "rotate")
    assert rotated["keys"] == ["A", "B"] and rotated["key"] == "B"
    second = cli.json("enter", "ROT 222")["code"]
    assert first.split("-")[2][0] == "A" and second.split("-")[2][0] == "B"
    keys = json.loads(secret_file(attendant_home).read_text())
    assert keys["current"] == "B" and stat.S_IMODE(secret_file(attendant_home).stat().st_mode) == 0o600
    for code in (first, second):  # a new process reads the rotated file: both tickets are genuine
        out = json.loads(cli.run("exit", code, "--pay", "cash", "--tendered", "50", "--json", process=True).stdout)
        assert out["ticket_no"] == code.split("-")[1]
    forged = TicketSigner({"A": b"x" * 32, "B": b"y" * 32}, "B").sign("CHS", 3)
    assert "not genuine" in cli.run("exit", forged, "--pay", "cash", expect=2).stderr


def test_export_and_import_move_the_secrets_to_another_booth(cli, attendant_home, tmp_path):
    entry = cli.json("enter", "MOV 123")
    bundle = tmp_path / "site.secrets"
    env = {"BUNDLE_PASS": "correct horse battery"}
    cli.env.update(env)
    cli.run("secret", "export", str(bundle), "--passphrase-env", "BUNDLE_PASS")
    blob = bundle.read_bytes()
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
    assert load_ticket_keys().keys["A"].hex().encode() not in blob  # encrypted, not copied
    assert json.loads(blob)["kdf"]["name"] == "scrypt"
    assert "exists" in cli.run("secret", "export", str(bundle), "--passphrase-env", "BUNDLE_PASS",
                               expect=2).stderr

    # the second booth: its own home, the same database, no secrets yet
    other = Attendant(tmp_path / "booth2")
    other.db = cli.db
    other.env.update(env, WRONG_PASS="not the passphrase")
    assert "is missing" in other.run("exit", entry["code"], "--pay", "cash", expect=2).stderr
    ran = other.run("secret", "import", str(bundle), "--passphrase-env", "WRONG_PASS", expect=2)
    assert "wrong passphrase" in ran.stderr
    assert not (tmp_path / "booth2" / "home" / "config" / "ticket-secret.key").exists()
    assert "not set" in other.run("secret", "import", str(bundle), "--passphrase-env", "NOPE", expect=2).stderr
    garbage = tmp_path / "garbage"
    garbage.write_text("hello")
    assert "not an attendant secrets bundle" in other.run("secret", "import", str(garbage), "--passphrase-env",
                                                          "BUNDLE_PASS", expect=2).stderr
    other.run("secret", "import", str(bundle), "--passphrase-env", "BUNDLE_PASS")
    config = tmp_path / "booth2" / "home" / "config"
    assert stat.S_IMODE((config / "ticket-secret.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((config / "data-keys.json").stat().st_mode) == 0o600
    assert other.json("find", "MOV123")["code"] == entry["code"]  # the plate opens, its blind index matches
    out = json.loads(other.run("exit", entry["code"], "--pay", "cash", "--tendered", "20", "--json").stdout)
    assert out["ticket_no"] == entry["ticket_no"] and out["plate"] == "MOV123"

    # another site's bundle does not silently replace a booth's secrets
    third = Attendant(tmp_path / "site3")
    third.db = f"sqlite:///{tmp_path / 'site3.db'}"
    third.env.update(env)
    third.run("init", "--demo")
    foreign = tmp_path / "foreign.secrets"
    third.run("secret", "export", str(foreign), "--passphrase-env", "BUNDLE_PASS")
    ran = other.run("secret", "import", str(foreign), "--passphrase-env", "BUNDLE_PASS", expect=2)
    assert "already has a different" in ran.stderr and "--replace" in ran.stderr


def test_a_rotated_secret_reaches_the_other_booth_by_import(cli, tmp_path):
    bundle, again = tmp_path / "a.secrets", tmp_path / "b.secrets"
    cli.env["P"] = "passphrase-1"
    cli.run("secret", "export", str(bundle), "--passphrase-env", "P")
    other = Attendant(tmp_path / "booth2")
    other.db, other.env["P"] = cli.db, "passphrase-1"
    other.run("secret", "import", str(bundle), "--passphrase-env", "P")
    cli.run("secret", "rotate")
    code = cli.json("enter", "NEW 123")["code"]
    assert "not genuine" in other.run("exit", code, "--pay", "cash", expect=2).stderr
    cli.run("secret", "export", str(again), "--passphrase-env", "P")
    other.run("secret", "import", str(again), "--passphrase-env", "P")  # the same site, rotated: no --replace
    other.run("exit", code, "--pay", "cash", "--tendered", "20")


def test_secret_and_key_commands_are_for_admins_once_users_exist(cli, tmp_path):
    cli.run("user", "add", "ada", "--role", "admin", "--pin", "999999", "--name", "Ada")
    cli.run("--user", "ada", "--pin", "999999", "user", "add", "al", "--role", "attendant", "--pin", "111111",
            "--name", "Al")
    cli.env["P"] = "passphrase-1"
    target = str(tmp_path / "x.secrets")
    for args in (("secret", "export", target, "--passphrase-env", "P"), ("secret", "rotate"), ("keys", "rotate"),
                 ("secret", "import", target, "--passphrase-env", "P")):
        assert "log in" in cli.run(*args, expect=2).stderr
        assert "needs an admin" in cli.run("--user", "al", "--pin", "111111", *args, expect=2).stderr
    assert "needs a supervisor" in cli.run("--user", "al", "--pin", "111111", "retention", "run", expect=2).stderr
    out = json.loads(cli.run("--user", "ada", "--pin", "999999", "keys", "rotate", "--json").stdout)
    assert out["key"] == "2" and out["retired"] == ["1"]
    cli.run("--user", "ada", "--pin", "999999", "secret", "rotate")
    assert not Path(target).exists()


def test_init_makes_the_secrets_of_a_new_site_private(tmp_path):
    runner = Attendant(tmp_path)
    runner.run("init", "--demo")
    config = tmp_path / "home" / "config"
    shutil.rmtree(config)  # this test's home starts with the site's copy: start from nothing
    runner.db = f"sqlite:///{tmp_path / 'new.db'}"
    runner.run("init", "--demo")
    assert stat.S_IMODE(config.stat().st_mode) == 0o700
    for name in ("ticket-secret.key", "data-keys.json"):
        assert stat.S_IMODE((config / name).stat().st_mode) == 0o600
    keys = json.loads((config / "ticket-secret.key").read_text())
    assert keys["current"] == "A" and len(bytes.fromhex(keys["keys"]["A"])) == 32
    before = (config / "data-keys.json").read_text()
    runner.run("init", "--demo")  # again: nothing replaced
    assert (config / "data-keys.json").read_text() == before
