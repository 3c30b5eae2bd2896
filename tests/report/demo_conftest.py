"""conftest.py of the synthetic demo run: stands in for the core plugin's config.dmdw_env, env.json and steps.jsonl."""

import json


def pytest_configure(config):
    config.dmdw_env = {
        "target": "emulator",
        "backend": "local",
        "dm_build": "DM Database Server 64 V8 / 03134284194-20240703-234060-20108",
        "topology": {"primary": "host1/mema1 192.168.56.201", "standby": "host2/mema2 192.168.56.202",
                     "monitor": "monitor 192.168.56.203"},
        "seed": 4242,
        "timers": {"DW_ERROR_TIME": 10, "INST_ERROR_TIME": 10, "INST_RECOVER_TIME": 60},
        "images": {"emulator": "sha256:0f3c9a"},
        "sysdba_password": "Mema_1234",
    }


def pytest_sessionstart(session):
    folder = session.config.dmdw_run_dir
    steps = [{"host": "host1", "step": "start dmserver", "command": "dmserver /opt/dm8/data/memadb/dm.ini mount",
              "rc": 0, "output": "SYSTEM IS READY", "duration": 3.2, "ok": True},
             {"host": "monitor", "step": "dmmonitor login", "command": "login SYSDBA PASSWORD=Mema_1234",
              "rc": 0, "output": "login ok", "duration": 0.4, "ok": True}]
    with open(folder / "steps.jsonl", "w") as f:
        f.writelines(json.dumps(s, ensure_ascii=False) + "\n" for s in steps)
    (folder / "monitor-1.log").write_text("show\nGRP1 ... SYSDBA/Mema_1234@host1\n")


def pytest_sessionfinish(session):
    """env.json, as the core plugin writes it (the trend keys runs by it)."""
    (session.config.dmdw_run_dir / "env.json").write_text(json.dumps(session.config.dmdw_env))
