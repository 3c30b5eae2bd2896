"""Passwords keep their case (DM8 passwords are case-sensitive): a double-quoted password in CREATE USER /
ALTER USER ... IDENTIFIED BY is stored as written, while identifiers are still upper-cased."""

from __future__ import annotations

import dmPython
import pytest
from wire_fake import error_code


def _login(db, user: str, pwd: str):
    return dmPython.connect(user=user, password=pwd, server="127.0.0.1", port=db.port)


def _refused(db, user: str, pwd: str) -> int:
    with pytest.raises(dmPython.Error) as e:
        _login(db, user, pwd).close()
    return error_code(e.value)


def test_quoted_password_keeps_its_case(running_db) -> None:
    with running_db.connect() as c:
        cur = c.cursor()
        cur.execute('create user "u_pwd" identified by "Abc_12345"')
        cur.execute("select username from dba_users where username = 'U_PWD'")
        assert cur.fetchall() == [("U_PWD",)]                   # the name still folds (CASE_SENSITIVE=0)
    _login(running_db, "u_pwd", "Abc_12345").close()
    assert _refused(running_db, "u_pwd", "ABC_12345") == -2501
    assert _refused(running_db, "u_pwd", "abc_12345") == -2501

    with running_db.connect() as c:
        c.cursor().execute('alter user u_pwd identified by "MixedCase123"')
    _login(running_db, "U_PWD", "MixedCase123").close()
    assert _refused(running_db, "U_PWD", "MIXEDCASE123") == -2501
    assert _refused(running_db, "U_PWD", "Abc_12345") == -2501


def test_unquoted_and_string_passwords_keep_their_case(running_db) -> None:
    with running_db.connect() as c:
        cur = c.cursor()
        cur.execute("create user u_plain identified by Plain_12345")
        cur.execute("create user u_str identified by 'Str_12345'")
    _login(running_db, "u_plain", "Plain_12345").close()
    _login(running_db, "u_str", "Str_12345").close()
    assert _refused(running_db, "u_plain", "PLAIN_12345") == -2501
