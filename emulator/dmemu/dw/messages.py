"""dmmonitor's console texts, Chinese and English (behaviour reference §4, §7). Registered in the shared
catalog (dmemu.lang). CONFIRMED lists the sentences real captures show (tests/corpus/dm8/dmmonitor/, file
names below); every other text here is unverified: the emulator's own wording, which DM8 may word
differently, so a harness must not decide on it (DMEMU_WORDING=alt rewords it, see altwording.py)."""

from __future__ import annotations

from .. import lang
from . import altwording

M: dict[str, tuple[str, str]] = {
    "m_recv": ("收到守护进程({name})消息", "Received message from({name})"),
    "m_timeout": ("Received message timeout from({name})", "Received message timeout from({name})"),
    "m_wswitch": ("守护进程({name})状态切换 [{frm}-->{to}]", "Dmwatcher process {name} status switching [{frm}-->{to}]"),
    "m_need_group": ("存在多个守护组, 请指定组名", "More than one group: give the group name"),
    "m_bad_group": ("无效的组名[{name}]", "Invalid group name [{name}]"),
    "m_need_db": ("请指定实例名", "Give the instance name"),
    "m_bad_db": ("无效的实例名[{name}]", "Invalid instance name [{name}]"),
    "m_no_link": ("与守护进程{name}的连接已断开", "No link to dmwatcher {name}"),
    "m_not_login": ("未登录监视器或服务器公钥发生变化，请重新登录!", "Please login the monitor first"),
    "m_exec_start": ("实例{name}开始执行{sql}语句", "Instance {name} start to execute sql {sql}"),
    "m_exec_ok": ("实例{name}执行{sql}语句成功", "Instance {name} execute sql {sql} success"),
    "m_notify_w": ("通知守护进程{name}切换{to}状态", "Notify dmwatcher({name}) switch to {to} status"),
    "m_notify_w_ok": ("切换守护进程{name}为{to}状态成功", "Switch dmwatcher {name} to {to} status success"),
    "m_confirm": ("此操作需谨慎, 将会导致主库发生切换, 是否继续使用{target}执行{kind}操作(YES/NO/Y/N)?",
                  "This operation will change the primary, continue to execute {kind} use {target}(YES/NO/Y/N)?"),
    "m_cannot_switch": ("实例{name}不满足SWITCHOVER条件", "Instance {name} does not qualify for switchover"),
    "m_sw_start": ("开始切换实例{name}", "Start to switchover instance {name}"),
    "m_arch_invalid": ("通知实例{name}修改所有归档状态无效", "Notify instance {name} to set all archives INVALID"),
    "m_arch_invalid_ok": ("修改所有实例归档为无效状态成功", "Set all instances' archives INVALID success"),
    "m_clean": ("通知组({group})的守护进程执行清理操作", "Notify group({group})'s dmwatchers to clean up"),
    "m_clean_ok": ("清理守护进程({name})请求成功", "Clean up request of dmwatcher({name}) success"),
    "m_sw_ok": ("实例{name}切换成功", "Instance {name} switchover success"),
    "m_cannot_takeover": ("实例{name}不满足TAKEOVER条件", "Instance {name} does not qualify for takeover"),
    "m_tk_start": ("开始使用实例{name}接管", "Start to takeover use instance {name}"),
    "m_tk_ok": ("实例{name}接管成功 (用时{secs}秒)", "Takeover use instance {name} success ({secs}s)"),
    "m_auto_check": ("检测到组({group})主库故障, 开始自动接管",
                     "Check primary instance error in group({group}), start to auto takeover"),
    "m_set_mid": ("通知组({group})的活动守护进程设置MID", "Notify group({group})'s active dmwatcher to set MID"),
    "m_set_mid_ok": ("通知组({group})的活动守护进程设置MID成功",
                     "Notify group({group})'s active dmwatcher to set MID success"),
    "m_split_info": ("实例{name}已分裂: 被{by}({kind})取代, 需要重建",
                     "Instance {name} is split: replaced by {by} ({kind}), it must be rebuilt"),
    "m_logout_ok": ("退出登录成功!", "Logout success!"),
    "m_takeover_time": ("组({group})距离自动接管剩余时间: {secs}秒", "Group({group}) auto takeover time left: {secs}s"),
    "m_bad_cmd": ("无效的命令或参数: {cmd}", "Invalid command or argument: {cmd}"),
    "m_no_cand": ("没有满足条件的实例", "No instance qualifies"),
    "m_user": ("用户名:", "username:"),
    "m_pwd": ("密码:", "password:"),
    "m_login_ok": ("登录监视器成功!", "Login monitor success!"),
    "m_login_fail": ("登录监视器失败: 用户名或密码错误", "Login monitor failed: invalid username or password"),
    "m_tip_nolink": ("无法连接守护进程{name}", "Cannot reach dmwatcher {name}"),
    "m_tip_timeout": ("守护进程({name})消息超时", "Message timeout from dmwatcher({name})"),
    "m_tip_split": ("实例{name}的控制文件状态为SPLIT(已被{by}接管), 守护组发生分裂",
                    "Instance {name} has dmwatcher.ctl status SPLIT (replaced by {by}): the group is split"),
    "m_tip_inst": ("实例{name}故障", "Instance {name} is in error"),
    "m_tip_state": ("实例{name}状态异常: 守护进程{w}, 实例{i}", "Instance {name} not normal: dmwatcher {w}, instance {i}"),
    "m_tip_arch": ("实例{name}的归档状态为{r}", "Archive of instance {name} is {r}"),
    "m_tip_two_primary": ("存在多个主库: {names}", "More than one primary: {names}"),
    "m_tip_no_primary": ("组({group})中没有正常的主库", "No healthy primary in group({group})"),
    "m_tip_ok": ("守护系统运行正常", "DW system is running normally"),
    "m_tip_bad": ("守护系统运行异常:", "DW system is not normal:"),
    "m_tip_code": ("守护系统状态异常", "System not OK"),
    "m_already_open": ("实例{name}已经是OPEN状态", "Instance {name} is already OPEN"),
    "m_cannot_open": ("实例{name}处于{st}状态, 不能打开", "Instance {name} is {st}: cannot open"),
    "m_open_ok": ("强制打开实例{name}成功", "Open database {name} success"),
    "m_check_open_ok": ("实例{name}已正常打开", "Instance {name} is open"),
    "m_open_need_user": ("实例{name}无法确认是否为最新主库, 需要用户执行open database",
                         "Instance {name} cannot prove it is the newest primary: the user must run open database"),
    "m_wait_primary": ("实例{name}在等待主库打开", "Instance {name} is waiting for the primary"),
    "m_check_later": ("{name}: 请稍后再检查", "{name}: check again later"),
    "m_cannot_recover": ("备库{name}不能被恢复", "Standby {name} cannot be recovered"),
    "m_recover_ok": ("备库{name}归档状态有效", "Archive of standby {name} is VALID"),
    "m_stop_inst": ("通知实例{name}退出", "Notify instance {name} to stop"),
    "m_stop_inst_ok": ("实例{name}退出成功", "Instance {name} stopped"),
    "m_stop_group_ok": ("关闭守护组({group})成功", "Stop group({group}) success"),
    "m_kill_group_ok": ("强制关闭守护组({group})成功", "Kill group({group}) success"),
    "m_startup_group_ok": ("启动守护组({group})成功", "Startup group({group}) success"),
    "m_cmd_ok": ("命令[{cmd}]执行成功", "Command [{cmd}] success"),
    "m_confirm_standby": ("确认监视器确认实例{dest}故障(守护进程{name}请求)",
                          "Confirm monitor confirms the failure of instance {dest} (asked by dmwatcher {name})"),
    "m_confirm_not_mon": ("不是确认监视器", "not a confirm monitor"),
    "m_confirm_busy": ("正在自动接管", "an auto takeover is running"),
    "m_confirm_not_primary": ("监视器看到的{name}不是正常的主库", "the monitor does not see {name} as a healthy primary"),
    "m_confirm_other_primary": ("组中已有其他主库{other}", "{other} is the group's open primary"),
    "m_cands_head": ("", ""),
    "m_cand": ("{name}", "{name}"),
}
lang.register(M)

_C7 = "dmmonitor/switchover-ok-cn-dmshell-c7-manual.txt"
CONFIRMED: dict[str, tuple[str, str]] = {
    "m_recv": ("cn,en", "cn: dmmonitor/startup-messages-cn-dmshell-c7-manual.txt; en: public capture cited in issue 12"),
    "m_wswitch": ("cn", _C7),
    "m_sw_start": ("cn", _C7),
    "m_notify_w": ("cn", _C7),
    "m_notify_w_ok": ("cn", _C7),
    "m_exec_start": ("cn", _C7),
    "m_exec_ok": ("cn", _C7),
    "m_arch_invalid": ("cn", _C7),
    "m_arch_invalid_ok": ("cn", _C7),
    "m_clean": ("cn", _C7),
    "m_clean_ok": ("cn", _C7),
    "m_sw_ok": ("cn", _C7),
    "m_confirm": ("cn", "dmmonitor/switchover-confirm-prompt-cn-eco-20251010.txt"),
    "m_login_ok": ("cn", "dmmonitor/login-ok-cn-dmshell-c7-manual.txt"),
    "m_user": ("cn", "dmmonitor/login-ok-cn-dmshell-c7-manual.txt"),
    "m_pwd": ("cn", "dmmonitor/login-ok-cn-dmshell-c7-manual.txt"),
    "m_not_login": ("cn", "dmmonitor/switchover-not-logged-in-cn-dmshell-c7.txt (printed there without a code)"),
}
lang.confirm(CONFIRMED)
if altwording.active():
    lang.register(altwording.ALT)

_COMMANDS = [
    ("help", "显示帮助信息", "show help"),
    ("exit", "退出监视器", "exit the monitor"),
    ("show version", "显示监视器版本", "show the monitor version"),
    ("show [group]", "显示守护组信息", "show group information"),
    ("show global info", "显示所有组的全局信息", "show the global information of all groups"),
    ("show database [group.]db", "显示实例信息", "show one database"),
    ("show arch send info [group.]db", "显示归档发送信息", "show archive send information"),
    ("show open info [group.]db", "显示控制文件的OPEN历史", "show the dmwatcher.ctl open history"),
    ("show monitor", "显示监视器连接信息", "show the monitors"),
    ("list [[group.]db]", "显示守护进程配置", "list the watcher configuration"),
    ("tip", "检查守护系统是否正常", "check whether the system is normal"),
    ("login", "登录监视器", "login the monitor"),
    ("logout", "退出登录", "logout"),
    ("get takeover time [group]", "显示自动接管剩余时间", "show the time left before auto takeover"),
    ("choose switchover [group]", "列出可切换的备库", "list standbys that can switchover"),
    ("switchover [group.]db", "主备切换", "switchover to the standby"),
    ("choose takeover [group]", "列出可接管的备库", "list standbys that can take over"),
    ("takeover [group.]db", "备库接管", "takeover"),
    ("choose takeover force [group]", "列出可强制接管的备库", "list standbys for forced takeover"),
    ("takeover force [group.]db", "强制接管", "forced takeover"),
    ("open database [group.]db", "强制打开实例(open force)", "force open an instance (open force)"),
    ("check open [group.]db", "检查实例能否自动打开", "check whether the instance can open"),
    ("check recover [group.]db", "检查备库能否恢复", "check whether the standby can be recovered"),
    ("startup group [group]", "启动守护组", "start the group"),
    ("stop group [group]", "关闭守护组", "stop the group"),
    ("kill group [group]", "强制关闭守护组", "kill the group"),
    ("startup database [group.]db", "启动实例", "start an instance"),
    ("stop database [group.]db", "关闭实例", "stop an instance"),
    ("kill database [group.]db", "强制关闭实例", "kill an instance"),
    ("startup dmwatcher [group]", "打开守护进程监控", "turn watcher monitoring on"),
    ("stop dmwatcher [group]", "关闭守护进程监控", "turn watcher monitoring off"),
    ("set group [group] auto restart on|off", "设置实例自动重启", "set instance auto restart"),
    ("set group [group] recover time n", "设置组的恢复间隔", "set the group's recover time"),
    ("set database [group.]db recover time n", "设置实例的恢复间隔", "set the database's recover time"),
    ("set database [group.]db arch invalid", "设置归档无效", "set the archive invalid"),
    ("set group [group] arch invalid", "设置组的归档无效", "set the group's archives invalid"),
]


def _help(en: bool) -> str:
    out = []
    for n, (cmd, cn, en_text) in enumerate(_COMMANDS, 1):
        out.append(f"{n:>2}. {cmd:<44}#{en_text if en else cn}")
    return "\n".join(out) + "\n"


HELP_CN = _help(False)
HELP_EN = _help(True)
