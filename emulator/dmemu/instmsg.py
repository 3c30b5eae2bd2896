"""Messages of the instance layer and its tools (dminit, dmserver, disql, dmrman), Chinese and English.

Codes quoted in the behaviour reference keep their number (-2501, -2018, -710, -3401, -720); the others
are the emulator's own choice and are listed in emulator/README.md.
"""

from __future__ import annotations

from . import lang

lang.register({
    "-720": ("守护进程处于活动状态，或当前配置(ALTER_MODE_STATUS)不允许",
             "Dmwatcher is active, or current configuration(ALTER_MODE_STATUS) not permitted"),
    "mode_needs_mount": ("只能在MOUNT状态下修改数据库模式", "The database mode can only be changed in MOUNT state"),
    "bad_status_change": ("非法的数据库状态转换[{frm}->{to}]", "Illegal database state change [{frm}->{to}]"),
    "bad_mode_change": ("非法的数据库模式转换[{frm}->{to}]", "Illegal database mode change [{frm}->{to}]"),
    "arch_needs_mount": ("只能在MOUNT状态下修改归档配置", "Archive configuration can only be changed in MOUNT state"),
    "db_not_open": ("数据库处于{status}状态，不能访问数据对象",
                    "Database is in {status} state; data objects cannot be accessed"),
    "first_start_mount": ("新初始化的库首次启动不允许使用MOUNT方式，请先正常启动并正常退出",
                          "A newly initialised database must first start normally (not in MOUNT) and stop normally"),
    "restore_pending": ("数据库已还原但尚未恢复，请先执行 RECOVER DATABASE",
                        "The database was restored but not recovered: run RECOVER DATABASE first"),
    "arch_mode_off": ("归档模式未开启，不能进行联机备份", "Archive mode is off: online backup is not possible"),
    "db_running": ("数据库[{path}]正在运行，不能进行脱机操作",
                   "Database [{path}] is running: offline operation not allowed"),
    "db_locked": ("数据库[{path}]已被另一个dmserver进程使用", "Database [{path}] is in use by another dmserver"),
    "not_clean": ("数据库[{path}]未正常关闭，请先正常启动并关闭后再脱机备份",
                  "Database [{path}] was not shut down normally: start and stop it before an offline backup"),
    "ts_exists": ("表空间[{name}]已存在", "Tablespace [{name}] already exists"),
    "file_exists": ("文件[{path}]已存在", "File [{path}] already exists"),
    "no_ts": ("表空间[{name}]不存在", "Tablespace [{name}] does not exist"),
    "unsupported": ("不支持的语句[{sql}]", "Unsupported statement [{sql}]"),
    "bad_para": ("无效的参数[{name}]", "Invalid parameter [{name}]"),
    "bad_arch_spec": ("无效的归档配置[{spec}]", "Invalid archive configuration [{spec}]"),
    "arch_exists": ("归档目标[{dest}]已存在", "Archive destination [{dest}] already exists"),
    "no_local_arch": ("未配置本地归档，不能打开归档模式", "No LOCAL archive configured: cannot turn archive mode on"),
    "ini_not_found": ("配置文件[{path}]不存在", "Configuration file [{path}] not found"),
    "port_in_use": ("端口[{port}]已被占用", "Port [{port}] is already in use"),
    "bad_backupset": ("无效的备份集[{path}]", "Invalid backup set [{path}]"),
    "backupset_exists": ("备份集目录[{path}]已存在且非空", "Backup set directory [{path}] exists and is not empty"),
    "magic_mismatch": ("备份集与数据库的永久魔数不一致", "The backup set's permanent magic differs from the database's"),
    "recover_first": ("请先从备份集恢复数据库(RECOVER ... FROM BACKUPSET)",
                      "Recover the database from the backup set first (RECOVER ... FROM BACKUPSET)"),
    "server_starting": ("服务器正在启动或关闭，暂不接受连接", "The server is starting or stopping: no logins now"),
    "db_exists": ("数据库目录[{path}]已存在，请更换 PATH 或 DB_NAME",
                  "Database directory [{path}] already exists: choose another PATH or DB_NAME"),
    "bad_init_param": ("无效的参数值[{name}={value}]{hint}", "Invalid parameter value [{name}={value}]{hint}"),
    "unknown_init_param": ("无法识别的参数[{name}]", "Unknown parameter [{name}]"),
    "svc_unknown": ("无法解析的服务名[{name}]", "Cannot resolve service name [{name}]"),
    "-70028": ("创建SOCKET连接失败", "Create SOCKET connection failure"),
    "shutdown_ok": ("DM Database Server shutdown successfully.", "DM Database Server shutdown successfully."),
})
