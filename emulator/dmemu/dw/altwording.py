"""DMEMU_WORDING=alt (emulator-only): the monitor's success, step and answer sentences in other words.

No real capture confirms them (see messages.py), so a harness must decide by state, not by these words.
With the switch on, every such sentence is replaced by unknown text starting with `ALT:`; DM error codes
(`code = -N`), error texts, prompts and the `show` tables stay as they are, and so does the watcher-message
header (`收到守护进程(X)消息` / `Received message from(X)`), which real captures confirm and which marks
where an asynchronous status block starts.
"""

from __future__ import annotations

import os

ALT: dict[str, tuple[str, str]] = {
    "m_wswitch": ("ALT: 守护进程{name}的状态由{frm}变为{to}", "ALT: watcher {name} moved from {frm} to {to}"),
    "m_exec_start": ("ALT: {name}准备运行{sql}", "ALT: {name} about to run {sql}"),
    "m_exec_ok": ("ALT: {name}已运行{sql}", "ALT: {name} ran {sql}"),
    "m_notify_w": ("ALT: 请求守护进程{name}进入{to}", "ALT: asking watcher {name} to enter {to}"),
    "m_notify_w_ok": ("ALT: 守护进程{name}已进入{to}", "ALT: watcher {name} entered {to}"),
    "m_sw_start": ("ALT: {name}的角色互换开始", "ALT: role exchange towards {name} begins"),
    "m_arch_invalid": ("ALT: {name}的归档全部作废", "ALT: archives of {name} marked unusable"),
    "m_arch_invalid_ok": ("ALT: 归档已全部作废", "ALT: all archives marked unusable"),
    "m_clean": ("ALT: 组{group}收尾", "ALT: group {group} tidies up"),
    "m_clean_ok": ("ALT: {name}已收尾", "ALT: {name} tidied up"),
    "m_sw_ok": ("ALT: 角色互换完毕, {name}领先", "ALT: role exchange finished, {name} leads"),
    "m_tk_start": ("ALT: {name}准备接手", "ALT: {name} prepares to take the lead"),
    "m_tk_ok": ("ALT: {name}已接手 ({secs}s)", "ALT: {name} has taken the lead ({secs}s)"),
    "m_auto_check": ("ALT: 组{group}失去领先者, 自动处理", "ALT: group {group} lost its leader, acting alone"),
    "m_set_mid": ("ALT: 组{group}标记中", "ALT: tagging group {group}"),
    "m_set_mid_ok": ("ALT: 组{group}已标记", "ALT: group {group} tagged"),
    "m_confirm_standby": ("ALT: 同意{name}放弃{dest}", "ALT: agreed with {name} to give up {dest}"),
    "m_logout_ok": ("ALT: 已注销", "ALT: signed off"),
    "m_login_ok": ("ALT: 身份已确认", "ALT: identity accepted"),
    "m_no_cand": ("ALT: 列表为空", "ALT: the list is empty"),
    "m_cands_head": ("ALT: 以下实例可用:", "ALT: usable instances follow:"),
    "m_cand": ("ALT:   -> {name} <- 可用", "ALT:   -> {name} <- usable"),
    "m_tip_ok": ("ALT: 一切如常", "ALT: all quiet"),
    "m_tip_bad": ("ALT: 发现问题:", "ALT: trouble found:"),
    "m_already_open": ("ALT: {name}早已可用", "ALT: {name} was usable already"),
    "m_open_ok": ("ALT: {name}现已可用", "ALT: {name} is usable now"),
    "m_check_open_ok": ("ALT: {name}可用", "ALT: {name} usable"),
    "m_recover_ok": ("ALT: {name}的归档可用", "ALT: archive towards {name} usable"),
    "m_stop_inst": ("ALT: 请{name}停下", "ALT: asking {name} to halt"),
    "m_stop_inst_ok": ("ALT: {name}已停下", "ALT: {name} halted"),
    "m_stop_group_ok": ("ALT: 组{group}已全部停下", "ALT: group {group} halted"),
    "m_kill_group_ok": ("ALT: 组{group}已被终止", "ALT: group {group} terminated"),
    "m_startup_group_ok": ("ALT: 组{group}已运转", "ALT: group {group} running"),
    "m_cmd_ok": ("ALT: 已办理[{cmd}]", "ALT: done with [{cmd}]"),
}


def active() -> bool:
    """True when DMEMU_WORDING=alt is set for this process."""
    return os.environ.get("DMEMU_WORDING", "").strip().lower() == "alt"
