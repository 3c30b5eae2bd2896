"""Messages of the SQL engine's DM error codes (registered into lang.MESSAGES)."""

from __future__ import annotations

from .. import lang

lang.register({
    "sql_syntax_near": ("第{line} 行附近出现错误: {near}", "Error near line {line}: {near}"),
    "sql_unsupported": ("不支持的语句或语法: {what}", "Unsupported statement or syntax: {what}"),
    "no_column": ("无效的列名[{name}]", "Invalid column name [{name}]"),
    "obj_exists": ("对象[{name}]已存在", "Object [{name}] already exists"),
    "unique": ("违反唯一性约束[{name}]", "Violate unique constraint on [{name}]"),
    "not_null": ("违反列[{name}]非空约束", "Violate not null constraint on column [{name}]"),
    "too_long": ("列[{name}]长度超出定义", "Column [{name}] length exceeds the definition"),
    "bad_value": ("数据类型转换失败", "Data type conversion failed"),
    "div_zero": ("除0错误", "Divided by zero"),
    "no_user": ("无效的用户名[{name}]", "Invalid user name [{name}]"),
    "no_schema": ("无效的模式名[{name}]", "Invalid schema name [{name}]"),
    "no_seq": ("无效的序列名[{name}]", "Invalid sequence name [{name}]"),
    "no_index": ("无效的索引名[{name}]", "Invalid index name [{name}]"),
    "no_curr": ("序列[{name}]当前值未定义", "Sequence [{name}] current value is not defined"),
    "no_func": ("无效的函数或过程名[{name}]", "Invalid function or procedure name [{name}]"),
    "bad_type": ("无效的数据类型[{name}]", "Invalid data type [{name}]"),
    "col_count": ("值的数量与列数不匹配", "Value count does not match column count"),
    "dep_objects": ("对象[{name}]被其他对象依赖", "Object [{name}] is depended on by other objects"),
    "txn_fail": ("事务失败: {detail}", "Transaction failed: {detail}"),
    "lock_timeout": ("锁超时", "Lock timeout"),
    "sql_error": ("执行失败: {detail}", "Execution failed: {detail}"),
})

# codes used by the engine (DM8's numbers)
SYNTAX = -2007
NO_TABLE = -2106
NO_COLUMN = -2111
EXISTS = -2124
UNIQUE = -6602
NOT_NULL = -6609
TOO_LONG = -6169
BAD_VALUE = -6111
DIV_ZERO = -6103
NO_USER = -2601
NO_SCHEMA = -2103
NO_SEQ = -2116
NO_INDEX = -2120
NO_FUNC = -2208
BAD_TYPE = -2008
COL_COUNT = -2117
DEPEND = -2144
LOCK_TIMEOUT = -6405
